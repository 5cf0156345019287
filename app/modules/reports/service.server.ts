import { aliasedTable, and, asc, eq, gt, inArray, isNotNull, isNull, lte, lt, or, sql, type SQL } from "drizzle-orm";
import {
  apiClients,
  apiKeys,
  grantRequests,
  onboardingSteps,
  participants,
  roleGrants,
  roles,
  sodWaivers,
  users,
} from "../../../db/schema";
import { tenantOf } from "../tenancy.server";
import type { ServiceContext } from "../context.server";
import { grantCountsNow, loadSodRules } from "../roles/facts.server";
import { DORMANT_AFTER_DAYS, sodConflictsAmong } from "../roles/rules";

/** The participants a report may cover: compliance all (or the one asked for), a DA only their own. */
function reportScope(ctx: ServiceContext, participantId?: string): string | null | undefined {
  return tenantOf(ctx.actor, "report:read") ?? (participantId || undefined);
}

export interface AccessRow {
  grantId: string;
  participantId: string | null;
  userId: string;
  userName: string;
  userEmail: string;
  roleCode: string;
  roleName: string;
  roleNameZh: string;
  validFrom: Date;
  validTo: Date | null;
  revokedAt: Date | null;
  source: string;
  requestedByName: string | null;
  approvedByName: string | null;
}

/** A grant counted at `at`: created by then, inside its window, not yet revoked. */
export function grantCountsAtSql(at: Date): SQL {
  return and(
    lte(roleGrants.createdAt, at),
    lte(roleGrants.validFrom, at),
    or(isNull(roleGrants.validTo), gt(roleGrants.validTo, at)),
    or(isNull(roleGrants.revokedAt), gt(roleGrants.revokedAt, at)),
  )!;
}

/**
 * What the access report is narrowed to: a participant (ignored for a participant's administrator, who sees only
 * their own) and a role.
 */
export type AccessFilter = { participantId?: string; roleCode?: string } | undefined;

/**
 * The grants the access report lists at an instant: held then, within the reader's scope and the filter; `slice`
 * (the whole market read in parts) narrows it further to some participants, or to HKEX's own grants (null).
 */
function accessWhere(ctx: ServiceContext, at: Date, filter: AccessFilter, slice?: string[] | null): SQL {
  const { participantId, roleCode } = filter ?? {};
  const scoped = reportScope(ctx, participantId);
  return and(
    grantCountsAtSql(at),
    scoped === undefined ? undefined : scoped === null ? isNull(roleGrants.participantId) : eq(roleGrants.participantId, scoped),
    roleCode ? eq(roleGrants.roleCode, roleCode) : undefined,
    slice === undefined ? undefined : slice === null ? isNull(roleGrants.participantId) : inArray(roleGrants.participantId, slice),
  )!;
}

/**
 * Whether the access report, read a page at a time, must first be narrowed: a reader who sees every participant
 * and has chosen neither a participant nor a role would have the whole market counted on every view (250,000
 * grants at market scale). A participant's administrator sees only their own participant: narrowed already.
 */
export function accessNeedsFilter(ctx: ServiceContext, filter: AccessFilter): boolean {
  const { participantId, roleCode } = filter ?? {};
  return reportScope(ctx, participantId) === undefined && !roleCode;
}

/** How many rows accessAt answers, counted in the database (the page shows a window of them). */
export async function accessCountAt(ctx: ServiceContext, at: Date, filter?: AccessFilter): Promise<number> {
  const [row] = await ctx.db.select({ n: sql<number>`count(*)::int` }).from(roleGrants).where(accessWhere(ctx, at, filter));
  return Number(row?.n ?? 0);
}

/**
 * Who held which role at an instant, per participant or across all, with who requested and who approved. With a
 * window, only those rows of the same order (the page's rows: the database sorts and cuts, nothing else is read
 * into the server); without, all of them (the CSV, the diff).
 */
export async function accessAt(ctx: ServiceContext, at: Date, filter?: AccessFilter, window?: { offset: number; limit: number }): Promise<AccessRow[]> {
  return accessRows(ctx, at, filter, window);
}

/**
 * The whole of accessAt in its order, a few participants at a time (the CSV of the whole market: no one read holds
 * 250,000 grants). The parts follow the report's order: participants by id as the database sorts them, then HKEX's
 * own grants (a null participant sorts last). The answer for an instant already past does not change while it is
 * read (grants made later were not created then; a later revocation or end is after it), so the parts add up to
 * one report.
 */
export async function* accessBatchesAt(ctx: ServiceContext, at: Date, filter?: AccessFilter, participantsPerBatch = 20): AsyncGenerator<AccessRow[]> {
  // One participant (asked for, or a participant's administrator's own): one read.
  if (reportScope(ctx, filter?.participantId) !== undefined) {
    yield await accessRows(ctx, at, filter);
    return;
  }
  const ids = (await ctx.db.select({ id: participants.id }).from(participants).orderBy(asc(participants.id))).map((p) => p.id);
  for (let i = 0; i < ids.length; i += participantsPerBatch) {
    const rows = await accessRows(ctx, at, filter, undefined, ids.slice(i, i + participantsPerBatch));
    if (rows.length > 0) yield rows;
  }
  yield await accessRows(ctx, at, filter, undefined, null);
}

async function accessRows(ctx: ServiceContext, at: Date, filter: AccessFilter, window?: { offset: number; limit: number }, slice?: string[] | null): Promise<AccessRow[]> {
  const requester = aliasedTable(users, "requester");
  const approver = aliasedTable(users, "approver");
  // The holder by a lateral lookup of their primary key (the limit keeps PostgreSQL from flattening it into a plain
  // join): one participant's few hundred grants are then never hash-joined against a scan of every user, whatever
  // the planner's cost settings, and a role's first page still reads only its first participants' grants.
  const holder = ctx.db.select({ displayName: users.displayName, email: users.email }).from(users).where(eq(users.id, roleGrants.userId)).limit(1).as("holder");
  const query = ctx.db
    .select({
      grantId: roleGrants.id,
      participantId: roleGrants.participantId,
      userId: roleGrants.userId,
      userName: holder.displayName,
      userEmail: holder.email,
      roleCode: roleGrants.roleCode,
      roleName: roles.nameEn,
      roleNameZh: roles.nameZh,
      validFrom: roleGrants.validFrom,
      validTo: roleGrants.validTo,
      revokedAt: roleGrants.revokedAt,
      source: roleGrants.source,
      requestedByName: requester.displayName,
      approvedByName: approver.displayName,
    })
    .from(roleGrants)
    .innerJoinLateral(holder, sql`true`)
    .innerJoin(roles, eq(roles.code, roleGrants.roleCode))
    .leftJoin(requester, eq(requester.id, roleGrants.requestedBy))
    .leftJoin(approver, eq(approver.id, roleGrants.approvedBy))
    .where(accessWhere(ctx, at, filter, slice))
    .orderBy(asc(roleGrants.participantId), asc(holder.displayName), asc(roleGrants.roleCode), asc(roleGrants.id));
  return window ? await query.limit(window.limit).offset(window.offset) : await query;
}

export interface AccessDiff {
  added: AccessRow[];
  removed: AccessRow[];
}

/** What changed between two instants: (user, role) pairs held at the second and not the first, and the reverse. */
export async function accessDiff(ctx: ServiceContext, from: Date, to: Date, participantId?: string): Promise<AccessDiff> {
  const [before, after] = await Promise.all([accessAt(ctx, from, { participantId }), accessAt(ctx, to, { participantId })]);
  const key = (r: AccessRow) => `${r.userId}/${r.roleCode}`;
  const beforeKeys = new Set(before.map(key));
  const afterKeys = new Set(after.map(key));
  return { added: after.filter((r) => !beforeKeys.has(key(r))), removed: before.filter((r) => !afterKeys.has(key(r))) };
}

export interface SodFinding {
  userId: string;
  userName: string;
  participantId: string | null;
  ruleId: string;
  roleA: string;
  roleB: string;
  kind: string;
  waived: boolean;
  justification: string | null;
}

/** Every user now holding a pair of roles that a rule names, with waivers and recorded justifications. */
export async function sodReport(ctx: ServiceContext, participantId?: string): Promise<SodFinding[]> {
  const scoped = reportScope(ctx, participantId);
  const now = new Date();
  const grants = await ctx.db
    .select({ userId: roleGrants.userId, roleCode: roleGrants.roleCode, justification: roleGrants.sodJustification, participantId: roleGrants.participantId, userName: users.displayName })
    .from(roleGrants)
    .innerJoin(users, eq(users.id, roleGrants.userId))
    .where(and(grantCountsNow(now), scoped ? eq(roleGrants.participantId, scoped) : undefined));
  const waivers = await ctx.db.select().from(sodWaivers).where(eq(sodWaivers.status, "approved"));
  const rules = await loadSodRules(ctx.db);
  const byUser = new Map<string, typeof grants>();
  for (const g of grants) byUser.set(g.userId, [...(byUser.get(g.userId) ?? []), g]);
  const findings: SodFinding[] = [];
  for (const [userId, held] of byUser) {
    for (const rule of sodConflictsAmong(held.map((h) => h.roleCode), rules)) {
      findings.push({
        userId,
        userName: held[0]!.userName,
        participantId: held[0]!.participantId,
        ruleId: rule.id,
        roleA: rule.roleA,
        roleB: rule.roleB,
        kind: rule.kind,
        waived: waivers.some((w) => w.userId === userId && w.ruleId === rule.id),
        justification: held.find((h) => (h.roleCode === rule.roleA || h.roleCode === rule.roleB) && h.justification)?.justification ?? null,
      });
    }
  }
  return findings.sort((a, b) => (a.participantId ?? "").localeCompare(b.participantId ?? "") || a.userName.localeCompare(b.userName));
}

export interface UserFinding {
  userId: string;
  userName: string;
  email: string;
  participantId: string | null;
  lastSignInAt: Date | null;
  createdAt: Date;
}

function userColumns() {
  return { userId: users.id, userName: users.displayName, email: users.email, participantId: users.participantId, lastSignInAt: users.lastSignInAt, createdAt: users.createdAt };
}

/** Active users with no sign-in (or, never signed in, no creation) in the last 90 days. */
export async function dormantReport(ctx: ServiceContext, participantId?: string): Promise<UserFinding[]> {
  const scoped = reportScope(ctx, participantId);
  const since = new Date(Date.now() - DORMANT_AFTER_DAYS * 24 * 3600 * 1000);
  return ctx.db
    .select(userColumns())
    .from(users)
    .where(and(eq(users.status, "active"), sql`coalesce(${users.lastSignInAt}, ${users.createdAt}) < ${since.toISOString()}::timestamptz`, scoped ? eq(users.participantId, scoped) : undefined))
    .orderBy(asc(users.participantId), asc(users.displayName));
}

/** Console users (holding a console role now) who have not enrolled two-factor authentication. */
export async function noMfaReport(ctx: ServiceContext, participantId?: string): Promise<UserFinding[]> {
  const scoped = reportScope(ctx, participantId);
  const now = new Date();
  const consoleHolders = ctx.db
    .select({ userId: roleGrants.userId })
    .from(roleGrants)
    .innerJoin(roles, eq(roles.code, roleGrants.roleCode))
    .where(and(eq(roles.isConsole, true), grantCountsNow(now)));
  return ctx.db
    .select(userColumns())
    .from(users)
    .where(and(isNull(users.mfaEnrolledAt), inArray(users.status, ["active", "invited", "locked"]), inArray(users.id, consoleHolders), scoped ? eq(users.participantId, scoped) : undefined))
    .orderBy(asc(users.participantId), asc(users.displayName));
}

export interface ExpiringItem {
  kind: "grant" | "api_key";
  id: string;
  participantId: string | null;
  userName: string;
  what: string;
  /** An API key's client environment, said in words by the report's table. */
  environment?: string;
  expiresAt: Date;
}

/** Access that ends within 30 days: time-limited role grants and the keys of active API clients, soonest first. */
export async function expiringReport(ctx: ServiceContext, participantId?: string, days = 30): Promise<ExpiringItem[]> {
  const scoped = reportScope(ctx, participantId);
  const now = new Date();
  const until = new Date(now.getTime() + days * 24 * 3600 * 1000);
  const rows = await ctx.db
    .select({ id: roleGrants.id, participantId: roleGrants.participantId, userName: users.displayName, what: roleGrants.roleCode, expiresAt: roleGrants.validTo })
    .from(roleGrants)
    .innerJoin(users, eq(users.id, roleGrants.userId))
    .where(and(grantCountsNow(now), isNotNull(roleGrants.validTo), lte(roleGrants.validTo, until), scoped ? eq(roleGrants.participantId, scoped) : undefined))
    .orderBy(asc(roleGrants.validTo));
  const keys = await ctx.db
    .select({ id: apiKeys.id, participantId: apiClients.participantId, userName: users.displayName, clientId: apiClients.clientId, environment: apiClients.environment, kid: apiKeys.kid, expiresAt: apiKeys.expiresAt })
    .from(apiKeys)
    .innerJoin(apiClients, eq(apiClients.id, apiKeys.apiClientId))
    .innerJoin(users, eq(users.id, apiClients.ownerUserId))
    .where(and(eq(apiKeys.status, "active"), eq(apiClients.status, "active"), gt(apiKeys.expiresAt, now), lte(apiKeys.expiresAt, until), scoped ? eq(apiClients.participantId, scoped) : undefined));
  const items: ExpiringItem[] = [
    ...rows.map((r) => ({ kind: "grant" as const, ...r, expiresAt: r.expiresAt! })),
    ...keys.map((k) => ({ kind: "api_key" as const, id: k.id, participantId: k.participantId, userName: k.userName, what: `${k.clientId} · ${k.kid.slice(0, 12)}…`, environment: k.environment, expiresAt: k.expiresAt })),
  ];
  return items.sort((a, b) => a.expiresAt.getTime() - b.expiresAt.getTime());
}

export interface PendingItem {
  kind: "grant_request" | "waiver" | "onboarding_step";
  id: string;
  participantId: string;
  what: string;
  since: Date;
  link: string;
}

/** Approvals waiting longer than `days`: role requests, SoD waivers, and onboarding steps submitted to officers. */
export async function pendingTooLongReport(ctx: ServiceContext, participantId?: string, days = 3): Promise<PendingItem[]> {
  const scoped = reportScope(ctx, participantId);
  const before = new Date(Date.now() - days * 24 * 3600 * 1000);
  const [requests, waivers, steps] = await Promise.all([
    ctx.db
      .select({ id: grantRequests.id, participantId: grantRequests.participantId, what: grantRequests.roleCode, since: grantRequests.requestedAt, userId: grantRequests.userId })
      .from(grantRequests)
      .where(and(eq(grantRequests.status, "pending"), lt(grantRequests.requestedAt, before), scoped ? eq(grantRequests.participantId, scoped) : undefined)),
    ctx.db
      .select({ id: sodWaivers.id, participantId: sodWaivers.participantId, what: sodWaivers.ruleId, since: sodWaivers.requestedAt, userId: sodWaivers.userId })
      .from(sodWaivers)
      .where(and(eq(sodWaivers.status, "pending"), lt(sodWaivers.requestedAt, before), scoped ? eq(sodWaivers.participantId, scoped) : undefined)),
    ctx.db
      .select({ participantId: onboardingSteps.participantId, what: onboardingSteps.stepKey, since: onboardingSteps.submittedAt })
      .from(onboardingSteps)
      .innerJoin(participants, eq(participants.id, onboardingSteps.participantId))
      .where(and(eq(onboardingSteps.state, "submitted"), lt(onboardingSteps.submittedAt, before), scoped ? eq(onboardingSteps.participantId, scoped) : undefined)),
  ]);
  const items: PendingItem[] = [
    ...requests.map((r) => ({ kind: "grant_request" as const, id: r.id, participantId: r.participantId, what: r.what, since: r.since, link: `/users/${r.userId}` })),
    ...waivers.map((w) => ({ kind: "waiver" as const, id: w.id, participantId: w.participantId, what: w.what, since: w.since, link: `/users/${w.userId}` })),
    ...steps.map((s) => ({ kind: "onboarding_step" as const, id: `${s.participantId}/${s.what}`, participantId: s.participantId, what: s.what, since: s.since!, link: `/participants/${s.participantId}/steps/${s.what}` })),
  ];
  return items.sort((a, b) => a.since.getTime() - b.since.getTime());
}
