import { randomUUID } from "node:crypto";
import { and, asc, count, desc, eq, inArray, sql } from "drizzle-orm";
import { z } from "zod";
import type { DbOrTx } from "../../../db/client.server";
import {
  auditEvents,
  onboardingSteps,
  participants,
  roleGrants,
  roles,
  sodWaivers,
  users,
  type RoleGrant,
  type SodWaiver,
  type User,
} from "../../../db/schema";
import { hashPassword } from "~/auth/password.server";
import { AUTO_LOCK_REASON } from "~/auth/rules";
import { endSessionsOf } from "~/auth/session.server";
import { AppError } from "~/lib/errors";
import { offsetOf, type PageInfo, type Paging } from "~/lib/paging";
import { likePattern } from "~/lib/like";
import { userPicker, type UserPicker } from "./picker.server";
import { diffFields } from "../audit/service.server";
import { defineCommand, participantInInput } from "../command.server";
import type { ServiceContext } from "../context.server";
import { lastConfirmations } from "../reviews/service.server";
import { activeAdministrators, appointedAdministrators, loadSodRules } from "../roles/facts.server";
import { checkSeparationOfDuties, grantableRole, grantRoles, requestRoles, revokeAllGrantsOf, sodRefusal, withdrawPendingRequestsOf } from "../roles/grants.server";
import { ADMINISTRATOR_ROLES, grantState, isDormant, lastAdministratorLost, lifecycleTarget, sodConflictsAmong } from "../roles/rules";
import { listRequests, type RequestRow } from "../roles/service.server";
import { FREEZE_GUARD_EVENTS, guardFrozenLogins } from "../rollouts/freeze.server";
import { mayOn, whereTenant } from "../tenancy.server";
import { issueLinks } from "./links.server";
import { findUser, participantOfUser, userVisibleTo } from "./lookup.server";
import { createUserSchema, emailSchema, lifecycleSchema, localeSchema, updateUserSchema } from "./schemas";

const provisionSchema = z.object({
  email: emailSchema,
  displayName: z.string().trim().min(1).max(200),
  participantId: z.string().regex(/^[A-Z][0-9]{5}$/).nullable(),
  password: z.string().max(1000).nullable(),
  roleCodes: z.array(z.string()).max(20),
  isDemo: z.boolean().default(false),
  /** An authenticator key the user comes enrolled with (demo accounts, tests); otherwise they enrol at first sign-in. */
  totpSecret: z.string().nullish(),
  locale: localeSchema.default("en"),
});
export type ProvisionUserInput = z.input<typeof provisionSchema>;

/**
 * Creates an active user with roles, already approved. Only the console itself may (`user:provision`: the demo
 * seed and tests); people go through the maker-checker path of Login Management.
 */
export const provisionUser = defineCommand({
  name: "users.provision",
  permission: "user:provision",
  input: provisionSchema,
  events: ["user.created", "role.grant.created"],
  tenant: (_tx, input) => input.participantId,
  async run(cx): Promise<User> {
    const { tx, input, now } = cx;
    const passwordHash = input.password ? await hashPassword(input.password) : null;
    const [existing] = await tx.select({ id: users.id }).from(users).where(eq(users.email, input.email)).limit(1);
    if (existing) throw new AppError(400, "error.badRequest", { email: "access.error.emailTaken" });
    const [user] = await tx
      .insert(users)
      .values({
        id: randomUUID(),
        email: input.email,
        displayName: input.displayName,
        participantId: input.participantId,
        passwordHash,
        status: "active",
        isDemo: input.isDemo,
        totpSecret: input.totpSecret ?? null,
        mfaEnrolledAt: input.totpSecret ? now : null,
        locale: input.locale,
      })
      .returning();
    cx.audit({
      action: "user.created",
      entityType: "user",
      entityId: user!.id,
      participantId: user!.participantId,
      changes: diffFields(null, user!, ["email", "displayName", "participantId", "status", "isDemo", "mfaEnrolledAt"]),
    });
    for (const roleCode of input.roleCodes) await grantableRole(tx, roleCode, user!.participantId ? "participant" : "hkex", "roleCodes");
    await grantRoles(
      cx,
      input.roleCodes.map((roleCode) => ({ userId: user!.id, roleCode, participantId: user!.participantId })),
      { source: "seed", requestedBy: null, approvedBy: null },
    );
    return user!;
  },
});

/** A user as a confirmation names them: name, login, the roles they hold now, their pending requests. */
export async function describeUser(ctx: ServiceContext, userId: string) {
  const user = await userVisibleTo(ctx.db, ctx.actor, userId, "user:read");
  const held = await ctx.db
    .selectDistinct({ nameEn: roles.nameEn, nameZh: roles.nameZh })
    .from(roleGrants)
    .innerJoin(roles, eq(roles.code, roleGrants.roleCode))
    .where(and(eq(roleGrants.userId, userId), eq(roleGrants.status, "active")));
  return { displayName: user.displayName, email: user.email, status: user.status, roles: held };
}

export interface UserListFilters {
  q?: string;
  status?: User["status"];
  participantId?: string;
}


/**
 * Users the actor may see: a participant administrator their own participant's; HKEX staff (officer, compliance,
 * helpdesk) every participant's, searchable by name, email or participant.
 */
function userFilter(ctx: ServiceContext, filters: UserListFilters) {
  return and(
    whereTenant(ctx.actor, "user:read", users.participantId),
    filters.participantId ? eq(users.participantId, filters.participantId) : undefined,
    filters.status ? eq(users.status, filters.status) : undefined,
    // The expression of the trigram index users_search_trgm (migration 0011), so that the search uses it.
    filters.q
      ? sql`(lower(${users.email}) || ' ' || lower(${users.displayName}) || ' ' || lower(coalesce(${users.participantId}, ''))) like ${likePattern(filters.q)} escape '\\'`
      : undefined,
  );
}

/** Users in the actor's scope matching the filters (for pickers and tests; the Users page pages with `pageUsers`). */
export async function listUsers(ctx: ServiceContext, filters: UserListFilters = {}, limit = 200): Promise<User[]> {
  return ctx.db.select().from(users).where(userFilter(ctx, filters)).orderBy(asc(users.participantId), asc(users.displayName), asc(users.id)).limit(limit);
}

export const USER_SORTS = ["name", "email", "participant", "status", "lastSignIn"] as const;
export type UserSort = (typeof USER_SORTS)[number];

/**
 * One page of the Users list with the total (issue 13): nothing is silently capped, and every sort ends with the
 * id so that equal names keep one order from page to page.
 */
export async function pageUsers(ctx: ServiceContext, filters: UserListFilters, paging: Paging<UserSort>): Promise<{ rows: User[]; info: PageInfo }> {
  const where = userFilter(ctx, filters);
  const column = { name: users.displayName, email: users.email, participant: users.participantId, status: users.status, lastSignIn: users.lastSignInAt }[paging.sort];
  const direction = paging.dir === "asc" ? asc : desc;
  const [{ total } = { total: 0 }] = await ctx.db.select({ total: count() }).from(users).where(where);
  const rows = await ctx.db
    .select()
    .from(users)
    .where(where)
    .orderBy(paging.sort === "lastSignIn" ? sql`${column} ${sql.raw(paging.dir)} nulls last` : direction(column), asc(users.id))
    .limit(paging.size)
    .offset(offsetOf(paging));
  return { rows, info: { total: Number(total), page: paging.page, size: paging.size } };
}

/** Users whose name, email or participant ID contains `q`, for the global search: a few and the total. */
export async function searchUsers(ctx: ServiceContext, q: string, limit: number): Promise<{ rows: User[]; total: number }> {
  if (!mayOn(ctx.actor, "user:read", ctx.actor.participantId)) return { rows: [], total: 0 };
  const { rows, info } = await pageUsers(ctx, { q }, { page: 1, size: limit, sort: "name", dir: "asc" });
  return { rows, total: info.total };
}

/**
 * The people who may be chosen as an owner for a participant (issue 13's pickers): its own users who are active or
 * invited — never HKEX staff, other firms' users or deactivated accounts.
 */
export async function ownerCandidates(ctx: ServiceContext, participantId: string): Promise<UserPicker> {
  return userPicker(ctx.db, ownerCandidate(ctx, participantId), (u) => `${u.name} (${u.email})`);
}

/** Who may own a participant's API client: its users who are active or invited, within the actor's tenant. */
export function ownerCandidate(ctx: Pick<ServiceContext, "actor">, participantId: string) {
  return and(whereTenant(ctx.actor, "user:read", users.participantId), eq(users.participantId, participantId), inArray(users.status, ["active", "invited"]));
}

/**
 * Creates a participant's user in "invited" state, with a one-time activation link. A DA maker's roles become
 * requests for a checker; an officer may grant the DA roles of a participant's first administrators directly, and
 * nothing else.
 */
export const createUser = defineCommand({
  name: "users.create",
  permission: "user:create",
  input: createUserSchema,
  events: ["user.created", "user.invitation.issued", "role.grant.created", "role.grant.requested"],
  tenant: participantInInput,
  async run(cx): Promise<{ user: User; requests: string[]; grants: string[] }> {
    const { tx, input, now } = cx;
    const officer = mayOn(cx.actor, "user:create", null);
    const [participant] = await tx.select().from(participants).where(eq(participants.id, input.participantId));
    if (!participant) throw new AppError(400, "error.badRequest", { participantId: "access.error.participant" });
    const [taken] = await tx.select({ id: users.id }).from(users).where(eq(users.email, input.email));
    if (taken) throw new AppError(400, "error.badRequest", { email: "access.error.emailTaken" });
    const roleCodes = [...new Set(input.roles)];
    if (officer && roleCodes.length > 0) {
      const admins = await appointedAdministrators(tx, participant.id, now);
      const firstAdministrators = !admins.some((a) => a.roleCode === "da_maker") || !admins.some((a) => a.roleCode === "da_checker");
      if (!firstAdministrators || roleCodes.some((r) => !(ADMINISTRATOR_ROLES as readonly string[]).includes(r))) {
        throw new AppError(400, "error.badRequest", { roles: "access.refused.firstAdministratorsOnly" });
      }
    }
    const [user] = await tx
      .insert(users)
      .values({ id: randomUUID(), email: input.email, displayName: input.displayName, participantId: participant.id, status: "invited", locale: input.locale })
      .returning();
    cx.audit({
      action: "user.created",
      entityType: "user",
      entityId: user!.id,
      participantId: participant.id,
      changes: diffFields(null, user!, ["email", "displayName", "participantId", "status", "locale"]),
    });
    // The invitation link goes out now, except for first administrators an officer appoints before the onboarding
    // case's nomination step is approved: their links go out with that approval.
    const [nomination] = await tx
      .select({ state: onboardingSteps.state })
      .from(onboardingSteps)
      .where(and(eq(onboardingSteps.participantId, participant.id), eq(onboardingSteps.stepKey, "admin_nomination")));
    if (!(officer && roleCodes.length > 0 && nomination && nomination.state !== "approved")) {
      await issueLinks(cx, [user!], "invitation");
    }
    for (const roleCode of roleCodes) await grantableRole(tx, roleCode, "participant", "roles");
    const assignments = roleCodes.map((roleCode) => ({ userId: user!.id, roleCode, participantId: participant.id, justification: input.justification }));
    const findings = await checkSeparationOfDuties(tx, assignments, now);
    const refused = findings.find((f) => f.problem);
    if (refused) throw await sodRefusal(tx, refused.problem!, "roles");
    const withWarnings = assignments.map((a, i) => ({ ...a, justification: findings[i]!.warnings.length ? a.justification : null }));
    if (officer) {
      const grants = await grantRoles(cx, withWarnings, { source: "officer", requestedBy: cx.actor.userId, approvedBy: cx.actor.userId, firstAdministrator: true });
      return { user: user!, requests: [], grants: grants.map((g) => g.id) };
    }
    const requests = await requestRoles(cx, withWarnings, { source: "request" });
    return { user: user!, requests: requests.map((r) => r.id), grants: [] };
  },
});

/**
 * Sends a user who has not set a password yet a new activation link (the earlier one is void): for an invitation
 * that expired or went astray.
 */
export const resendInvitation = defineCommand({
  name: "users.resendInvitation",
  permission: "user:update",
  input: z.object({ userId: z.string().min(1).max(100) }),
  events: ["user.invitation.issued"],
  tenant: (tx, input) => participantOfUser(tx, input.userId),
  async run(cx): Promise<void> {
    const user = await findUser(cx.tx, cx.input.userId, { lock: true });
    if (user.passwordHash !== null || user.status === "deactivated" || user.status === "suspended") throw new AppError(400, "access.refused.alreadyActivated");
    await issueLinks(cx, [user], "invitation");
  },
});

/**
 * Edits a user's name and the language of their mail. The editor's version must be current: two makers editing at
 * once never lose an update.
 */
export const updateUser = defineCommand({
  name: "users.update",
  permission: "user:update",
  input: updateUserSchema.extend({ userId: z.string().min(1).max(100) }),
  events: ["user.updated"],
  tenant: (tx, input) => participantOfUser(tx, input.userId),
  async run(cx): Promise<User> {
    const { tx, input } = cx;
    const before = await findUser(tx, input.userId, { lock: true });
    if (before.version !== input.version) throw new AppError(409, "error.conflict");
    const locale = input.locale ?? before.locale;
    if (before.displayName === input.displayName && before.locale === locale) return before;
    const [after] = await tx
      .update(users)
      .set({ displayName: input.displayName, locale, version: before.version + 1, updatedAt: cx.now })
      .where(eq(users.id, input.userId))
      .returning();
    cx.audit({
      action: "user.updated",
      entityType: "user",
      entityId: input.userId,
      participantId: before.participantId,
      changes: diffFields(before, after!, ["displayName", "locale"]),
    });
    return after!;
  },
});

/**
 * The signed-in user's own language, chosen with the console's language switch: besides the cookie that sets the
 * pages' language, it is kept on the user so that the console's mail to them is written in it. Anyone signed in
 * may set their own (and only their own); choosing the language already kept changes nothing.
 */
export const setOwnLocale = defineCommand({
  name: "users.setOwnLocale",
  // Authorized by the session itself: the actor changes nothing but their own preference.
  permission: "public",
  input: z.object({ locale: localeSchema }),
  events: ["user.updated"],
  tenant: (_tx, _input, actor) => actor.participantId,
  lockParticipant: false,
  async run(cx): Promise<User | null> {
    const { tx, input, actor } = cx;
    if (!actor.userId) throw new AppError(403, "error.forbidden");
    const before = await findUser(tx, actor.userId, { lock: true });
    if (before.locale === input.locale) return before;
    const [after] = await tx.update(users).set({ locale: input.locale, version: before.version + 1, updatedAt: cx.now }).where(eq(users.id, before.id)).returning();
    cx.audit({ action: "user.updated", entityType: "user", entityId: before.id, participantId: before.participantId, changes: diffFields(before, after!, ["locale"]), metadata: { self: true } });
    return after!;
  },
});

/**
 * Whether the user's current suspension was imposed by HKEX staff, read from the tamper-evident trail: the latest
 * suspension event of the user and the persona it was recorded with.
 */
async function suspendedByHkex(tx: DbOrTx, userId: string): Promise<boolean> {
  const [event] = await tx
    .select({ persona: auditEvents.actorPersona })
    .from(auditEvents)
    .where(and(eq(auditEvents.entityType, "user"), eq(auditEvents.entityId, userId), eq(auditEvents.action, "user.suspended")))
    .orderBy(desc(auditEvents.occurredAt), desc(auditEvents.id))
    .limit(1);
  return event !== undefined && !PARTICIPANT_PERSONAS.includes(event.persona ?? "");
}

const PARTICIPANT_PERSONAS: readonly string[] = ["da_maker", "da_checker"];

const LIFECYCLE_EVENT = {
  suspend: "user.suspended",
  reinstate: "user.reinstated",
  deactivate: "user.deactivated",
  unlock: "user.unlocked",
} as const;

/**
 * Suspends, reinstates, deactivates (final: history kept, login name never reused) or unlocks a user, with a
 * reason. The last active DA maker or checker of a participant cannot be suspended or deactivated. Suspension and
 * deactivation end the user's sessions at once; deactivation also ends their grants and withdraws their requests.
 * During a rollout's change freeze, suspending, reinstating or deactivating a carried-over login needs an approved
 * freeze exception (guardFrozenLogins).
 */
export const changeUserStatus = defineCommand({
  name: "users.changeStatus",
  permission: "user:update",
  input: lifecycleSchema.extend({ userId: z.string().min(1).max(100) }),
  events: ["user.suspended", "user.reinstated", "user.deactivated", "user.unlocked", "auth.sessions.revoked", "role.grant.revoked", ...FREEZE_GUARD_EVENTS],
  tenant: (tx, input) => participantOfUser(tx, input.userId),
  async run(cx): Promise<User> {
    const { tx, input, now } = cx;
    const before = await findUser(tx, input.userId, { lock: true });
    if (before.version !== input.version) throw new AppError(409, "error.conflict");
    const target = lifecycleTarget(before.status, input.action);
    if (!target) throw new AppError(400, "access.refused.lifecycle", {}, { status: before.status });
    // An account locked by failed sign-ins unlocks itself after its cool-down, or the helpdesk unlocks it with a
    // ticket (SPEC §4): an administrator does not, so that nobody lets an attacker's target back in unrecorded.
    if (input.action === "unlock" && before.statusReason === AUTO_LOCK_REASON) throw new AppError(403, "access.refused.unlockIsHelpdesk");
    // What HKEX decided, HKEX lifts: a suspension an officer imposed is not reinstated by the participant.
    if (input.action === "reinstate" && cx.actor.participantId !== null && (await suspendedByHkex(cx.tx, before.id))) {
      throw new AppError(403, "access.refused.hkexSuspension");
    }
    if ((input.action === "suspend" || input.action === "deactivate") && before.participantId) {
      const lost = lastAdministratorLost(await activeAdministrators(tx, before.participantId, now), before.id, "all");
      if (lost) throw new AppError(400, "access.refused.lastAdministrator", {}, { role: lost });
    }
    // A carried-over login keeps its status during a rollout's change freeze (an unlock only restores it).
    if (input.action !== "unlock") await guardFrozenLogins(cx, before.participantId, [before.id]);
    const [after] = await tx
      .update(users)
      .set({ status: target, statusReason: input.reason, statusChangedAt: now, version: before.version + 1, updatedAt: now })
      .where(eq(users.id, input.userId))
      .returning();
    cx.audit({
      action: LIFECYCLE_EVENT[input.action],
      entityType: "user",
      entityId: input.userId,
      participantId: before.participantId,
      reason: input.reason,
      changes: diffFields(before, after!, ["status"]),
    });
    if (target === "suspended" || target === "deactivated") {
      const ended = await endSessionsOf(tx, input.userId);
      if (ended) {
        cx.audit({ action: "auth.sessions.revoked", entityType: "user", entityId: input.userId, participantId: before.participantId, metadata: { sessions: ended } });
      }
    }
    if (target === "deactivated") {
      await revokeAllGrantsOf(cx, input.userId, { reason: input.reason, cause: "user.deactivated" });
      await withdrawPendingRequestsOf(cx, input.userId, null);
    }
    return after!;
  },
});

export interface GrantView extends RoleGrant {
  roleNameEn: string;
  roleNameZh: string;
  service: string | null;
  state: ReturnType<typeof grantState>;
  requestedByName: string | null;
  approvedByName: string | null;
  revokedByName: string | null;
  /** The access review that last confirmed the grant ("keep"), if any. */
  lastReview: { campaignName: string; decidedAt: Date; decidedBy: string | null } | null;
}

export interface UserProfile {
  user: User;
  /** What the viewer may do on this page (the commands still decide when they do it). */
  can: { update: boolean; request: boolean; approve: boolean; revoke: boolean; waiver: boolean; support: boolean };
  grants: GrantView[];
  requests: RequestRow[];
  sodConflicts: { ruleId: string; roleA: string; roleB: string; kind: string; waived: boolean; justification: string | null }[];
  waivers: SodWaiver[];
  dormant: boolean;
}

/** A user's page: effective access with provenance, pending requests, past grants, SoD findings and waivers. */
export async function getUserProfile(ctx: ServiceContext, userId: string): Promise<UserProfile> {
  const user = await userVisibleTo(ctx.db, ctx.actor, userId, "user:read");
  const now = new Date();
  const rows = await ctx.db
    .select({ grant: roleGrants, role: roles })
    .from(roleGrants)
    .innerJoin(roles, eq(roles.code, roleGrants.roleCode))
    .where(eq(roleGrants.userId, userId))
    .orderBy(desc(roleGrants.createdAt));
  const ids = [...new Set(rows.flatMap((r) => [r.grant.requestedBy, r.grant.approvedBy, r.grant.revokedBy]).filter((v): v is string => Boolean(v)))];
  const names = ids.length ? await ctx.db.select({ id: users.id, name: users.displayName }).from(users).where(inArray(users.id, ids)) : [];
  const nameOf = (id: string | null) => (id ? (names.find((n) => n.id === id)?.name ?? null) : null);
  const reviews = await lastConfirmations(ctx.db, rows.map((r) => r.grant.id));
  const grants = rows.map(({ grant, role }) => ({
    ...grant,
    roleNameEn: role.nameEn,
    roleNameZh: role.nameZh,
    service: role.service,
    state: grantState(grant, now),
    requestedByName: nameOf(grant.requestedBy),
    approvedByName: nameOf(grant.approvedBy),
    revokedByName: nameOf(grant.revokedBy),
    lastReview: reviews[grant.id] ?? null,
  }));
  const waivers = await ctx.db.select().from(sodWaivers).where(eq(sodWaivers.userId, userId)).orderBy(desc(sodWaivers.requestedAt));
  const activeRoles = grants.filter((g) => g.state === "active").map((g) => g.roleCode);
  const approved = waivers.filter((w) => w.status === "approved").map((w) => w.ruleId);
  const sodConflicts = sodConflictsAmong(activeRoles, await loadSodRules(ctx.db)).map((rule) => ({
    ruleId: rule.id,
    roleA: rule.roleA,
    roleB: rule.roleB,
    kind: rule.kind,
    waived: approved.includes(rule.id),
    justification: grants.find((g) => g.state === "active" && (g.roleCode === rule.roleA || g.roleCode === rule.roleB) && g.sodJustification)?.sodJustification ?? null,
  }));
  const on = (capability: Parameters<typeof mayOn>[1]) => user.participantId !== null && mayOn(ctx.actor, capability, user.participantId);
  return {
    user,
    can: {
      update: on("user:update"),
      request: on("role:request"),
      approve: on("role:approve"),
      revoke: on("role:revoke"),
      waiver: on("waiver:request"),
      support: mayOn(ctx.actor, "user:support", user.participantId),
    },
    grants,
    requests: await listRequests(ctx, "all", { userId }),
    sodConflicts,
    waivers,
    dormant: isDormant(user.status, user.lastSignInAt, user.createdAt, now),
  };
}
