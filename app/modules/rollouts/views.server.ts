import { stringify } from "csv-stringify/sync";
import { and, asc, count, desc, eq, inArray } from "drizzle-orm";
import type { DbOrTx } from "../../../db/client.server";
import {
  auditEvents,
  ocpServices,
  participants,
  rolloutFallbackDecisions,
  rolloutFreezeExceptions,
  rolloutParticipants,
  rolloutResults,
  rolloutSnapshots,
  rollouts,
  users,
  type Rollout,
  type RolloutFallbackDecision,
  type RolloutFreezeException,
  type RolloutParticipant,
  type RolloutResult,
  type RolloutSnapshot,
} from "../../../db/schema";
import { notFound } from "~/lib/errors";
import { isMessageKey, translator, type Locale } from "~/i18n/messages";
import type { ServiceContext } from "../context.server";
import { mayOn, sees, tenantOf } from "../tenancy.server";
import { carryOverAt, parseSnapshot, sha256Hex } from "./carry-over.server";
import {
  credentialsRetained,
  diffCarryOver,
  inFreeze,
  nextMilestone,
  phaseAt,
  readiness,
  stateCounts,
  NOT_READY_REASONS,
  type DiffEntry,
  type Milestone,
  type NotReadyReason,
  type Phase,
  type Readiness,
  type SnapshotContent,
} from "./rules";
import { milestonesOf } from "./service.server";

/** The reads of the rollouts module: lists, the dashboard, a participant's page, the CSV exports, step 7's check. */

/** An API environment's name in a language (the label of a client to verify). */
function environmentIn(locale: Locale, environment: string): string {
  const key = `credentials.env.${environment}`;
  return isMessageKey(key) ? translator(locale)(key) : environment;
}

export interface RolloutSummary {
  id: string;
  name: string;
  phase: Phase;
  participants: number;
  launchAt: Date;
  next: { milestone: Milestone; at: Date } | null;
}

/** The rollouts the actor sees: all for HKEX staff, those its participant is in for a participant's administrator. */
export async function listRollouts(ctx: ServiceContext, now = new Date()): Promise<RolloutSummary[]> {
  const own = tenantOf(ctx.actor, "rollout:read");
  const ids = own ? (await ctx.db.select({ id: rolloutParticipants.rolloutId }).from(rolloutParticipants).where(eq(rolloutParticipants.participantId, own))).map((r) => r.id) : null;
  if (ids && ids.length === 0) return [];
  const rows = await ctx.db
    .select()
    .from(rollouts)
    .where(ids ? inArray(rollouts.id, ids) : undefined)
    .orderBy(desc(rollouts.launchAt))
    .limit(200);
  const counts = rows.length
    ? await ctx.db
        .select({ rolloutId: rolloutParticipants.rolloutId, n: count() })
        .from(rolloutParticipants)
        .where(inArray(rolloutParticipants.rolloutId, rows.map((r) => r.id)))
        .groupBy(rolloutParticipants.rolloutId)
    : [];
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    phase: phaseAt(milestonesOf(r), r.stabilisationEndedAt, now),
    participants: own ? 1 : Number(counts.find((c) => c.rolloutId === r.id)?.n ?? 0),
    launchAt: r.launchAt,
    next: nextMilestone(milestonesOf(r), now),
  }));
}

/** A rollout the actor may see: 404 otherwise (a participant's administrator sees only rollouts its participant is in). */
async function visibleRollout(ctx: ServiceContext, rolloutId: string): Promise<Rollout> {
  const own = tenantOf(ctx.actor, "rollout:read");
  const [rollout] = await ctx.db.select().from(rollouts).where(eq(rollouts.id, rolloutId));
  if (!rollout) throw notFound();
  if (own) {
    const [member] = await ctx.db.select({ p: rolloutParticipants.participantId }).from(rolloutParticipants).where(and(eq(rolloutParticipants.rolloutId, rolloutId), eq(rolloutParticipants.participantId, own)));
    if (!member) throw notFound();
  }
  return rollout;
}

interface ParticipantFacts {
  member: RolloutParticipant;
  snapshot: RolloutSnapshot | null;
  results: RolloutResult[];
  pendingExceptions: number;
}

function readinessFrom(rollout: Rollout, f: ParticipantFacts): Readiness {
  const content = f.snapshot ? parseSnapshot(f.snapshot.content) : null;
  return readiness({
    services: rollout.serviceCodes,
    carriedOver: content ? { logins: content.users.filter((u) => u.status === "active").map((u) => u.id), apiClients: content.apiClients.map((c) => c.id) } : null,
    results: f.results.map((r) => ({ subjectKind: r.subjectKind, subjectRef: r.subjectRef, outcome: r.outcome, confirmed: r.confirmedAt !== null })),
    checklist: rollout.checklist,
    checklistConfirmed: f.member.checklistConfirmed,
    pendingExceptions: f.pendingExceptions,
  });
}

async function factsOf(db: DbOrTx, rollout: Rollout, participantIds: readonly string[] | null): Promise<Map<string, ParticipantFacts>> {
  const only = (column: Parameters<typeof inArray>[0]) => (participantIds ? inArray(column, [...participantIds]) : undefined);
  const members = await db.select().from(rolloutParticipants).where(and(eq(rolloutParticipants.rolloutId, rollout.id), only(rolloutParticipants.participantId))).orderBy(asc(rolloutParticipants.participantId));
  const snapshots = await db.select().from(rolloutSnapshots).where(and(eq(rolloutSnapshots.rolloutId, rollout.id), only(rolloutSnapshots.participantId)));
  const results = await db.select().from(rolloutResults).where(and(eq(rolloutResults.rolloutId, rollout.id), only(rolloutResults.participantId)));
  const pending = await db
    .select({ participantId: rolloutFreezeExceptions.participantId, n: count() })
    .from(rolloutFreezeExceptions)
    .where(and(eq(rolloutFreezeExceptions.rolloutId, rollout.id), eq(rolloutFreezeExceptions.status, "pending"), only(rolloutFreezeExceptions.participantId)))
    .groupBy(rolloutFreezeExceptions.participantId);
  return new Map(
    members.map((m) => [
      m.participantId,
      {
        member: m,
        snapshot: snapshots.find((s) => s.participantId === m.participantId) ?? null,
        results: results.filter((r) => r.participantId === m.participantId),
        pendingExceptions: Number(pending.find((p) => p.participantId === m.participantId)?.n ?? 0),
      },
    ]),
  );
}

export type StateFilter = "all" | "ready" | "not_ready" | NotReadyReason;
export const STATE_FILTERS: readonly StateFilter[] = ["all", "ready", "not_ready", ...NOT_READY_REASONS];

export interface DashboardRow {
  participantId: string;
  nameEn: string;
  nameZh: string;
  readiness: Readiness;
  snapshotTaken: boolean;
}

export interface Dashboard {
  rollout: Rollout;
  phase: Phase;
  frozen: boolean;
  retained: boolean;
  next: { milestone: Milestone; at: Date } | null;
  counts: ReturnType<typeof stateCounts>;
  total: number;
  rows: DashboardRow[];
  services: { code: string; nameEn: string; nameZh: string }[];
  fallback: (RolloutFallbackDecision & { proposedByName: string | null })[];
  exceptions: (RolloutFreezeException & { requestedByName: string | null })[];
  can: { manage: boolean; approve: boolean; decide: boolean; complete: boolean };
}

/** A rollout's dashboard: who is not ready and why, counts per state, the next milestone, the fallback, the exceptions. */
export async function getDashboard(ctx: ServiceContext, rolloutId: string, filter: StateFilter = "all", now = new Date()): Promise<Dashboard> {
  const rollout = await visibleRollout(ctx, rolloutId);
  const own = tenantOf(ctx.actor, "rollout:read");
  const facts = await factsOf(ctx.db, rollout, own ? [own] : null);
  const ids = [...facts.keys()];
  const names = ids.length ? await ctx.db.select({ id: participants.id, nameEn: participants.nameEn, nameZh: participants.nameZh }).from(participants).where(inArray(participants.id, ids)) : [];
  const all: DashboardRow[] = ids.map((id) => {
    const f = facts.get(id)!;
    const n = names.find((x) => x.id === id);
    return { participantId: id, nameEn: n?.nameEn ?? id, nameZh: n?.nameZh ?? id, readiness: readinessFrom(rollout, f), snapshotTaken: f.snapshot !== null };
  });
  const rows = all.filter((r) => filter === "all" || (filter === "ready" ? r.readiness.ready : filter === "not_ready" ? !r.readiness.ready : r.readiness.reasons.includes(filter)));
  const services = await ctx.db.select({ code: ocpServices.code, nameEn: ocpServices.nameEn, nameZh: ocpServices.nameZh }).from(ocpServices).where(inArray(ocpServices.code, rollout.serviceCodes));
  const fallback = await ctx.db
    .select({ decision: rolloutFallbackDecisions, name: users.displayName })
    .from(rolloutFallbackDecisions)
    .leftJoin(users, eq(users.id, rolloutFallbackDecisions.proposedBy))
    .where(eq(rolloutFallbackDecisions.rolloutId, rollout.id))
    .orderBy(desc(rolloutFallbackDecisions.proposedAt));
  const exceptions = await ctx.db
    .select({ exception: rolloutFreezeExceptions, name: users.displayName })
    .from(rolloutFreezeExceptions)
    .leftJoin(users, eq(users.id, rolloutFreezeExceptions.requestedBy))
    .where(and(eq(rolloutFreezeExceptions.rolloutId, rollout.id), own ? eq(rolloutFreezeExceptions.participantId, own) : undefined))
    .orderBy(desc(rolloutFreezeExceptions.requestedAt));
  const m = milestonesOf(rollout);
  return {
    rollout,
    phase: phaseAt(m, rollout.stabilisationEndedAt, now),
    frozen: inFreeze(m, rollout.stabilisationEndedAt, now),
    retained: credentialsRetained(m, rollout.stabilisationEndedAt, now),
    next: nextMilestone(m, now),
    counts: stateCounts(all.map((r) => r.readiness)),
    total: all.length,
    rows,
    services,
    fallback: fallback.map((f) => ({ ...f.decision, proposedByName: f.name })),
    exceptions: exceptions.map((e) => ({ ...e.exception, requestedByName: e.name })),
    can: {
      manage: mayOn(ctx.actor, "rollout:manage", null),
      approve: mayOn(ctx.actor, "rollout:approve", null),
      decide: mayOn(ctx.actor, "rollout:decide", null),
      complete: own !== null && mayOn(ctx.actor, "rollout:complete", own),
    },
  };
}

/** The dashboard as CSV: one line per participant, its state and reasons. */
export function dashboardCsv(d: Dashboard): string {
  return stringify(
    d.rows.map((r) => [r.participantId, r.nameEn, r.readiness.ready ? "ready" : "not ready", r.readiness.reasons.join(" "), r.readiness.unverified.map((s) => `${s.subjectKind}:${s.subjectRef}`).join(" "), r.readiness.failed.map((s) => `${s.subjectKind}:${s.subjectRef}`).join(" "), r.readiness.openItems.join(" ")]),
    { header: true, columns: ["participant_id", "name", "state", "reasons", "unverified", "failed", "checklist_open"] },
  );
}

export interface SubjectView {
  subjectKind: "service" | "login" | "api_client";
  subjectRef: string;
  label: string;
  labelZh: string;
  result: (RolloutResult & { recordedByName: string | null; confirmedByName: string | null }) | null;
}

export interface ParticipantRollout {
  rollout: Rollout;
  participant: { id: string; nameEn: string; nameZh: string };
  phase: Phase;
  frozen: boolean;
  snapshot: (RolloutSnapshot & { parsed: SnapshotContent; sealed: boolean }) | null;
  diff: DiffEntry[];
  subjects: SubjectView[];
  readiness: Readiness;
  member: RolloutParticipant;
  checklistConfirmedByName: string | null;
  exceptions: RolloutFreezeException[];
  can: { record: boolean; confirm: boolean; manage: boolean };
}

/**
 * Whether a snapshot still is what was sealed: its content hashes to its digest, and that digest is the one the
 * audit event of its sealing carries in the hash chain.
 */
export async function snapshotSealed(db: DbOrTx, snapshot: RolloutSnapshot): Promise<boolean> {
  if (sha256Hex(snapshot.content) !== snapshot.digest) return false;
  const [event] = await db
    .select({ metadata: auditEvents.metadata })
    .from(auditEvents)
    .where(and(eq(auditEvents.action, "rollout.snapshot.taken"), eq(auditEvents.entityType, "rollout_snapshot"), eq(auditEvents.entityId, snapshot.id)));
  return event?.metadata?.digest === snapshot.digest;
}

/** A participant's page in a rollout: its snapshot and diff, its subjects and results, its checklist. 404 outside the tenant. */
export async function getParticipantRollout(ctx: ServiceContext, rolloutId: string, participantId: string, now = new Date()): Promise<ParticipantRollout> {
  if (!sees(ctx.actor, participantId) || !mayOn(ctx.actor, "rollout:read", participantId)) throw notFound();
  const rollout = await visibleRollout(ctx, rolloutId);
  const facts = (await factsOf(ctx.db, rollout, [participantId])).get(participantId);
  if (!facts) throw notFound();
  const [participant] = await ctx.db.select({ id: participants.id, nameEn: participants.nameEn, nameZh: participants.nameZh }).from(participants).where(eq(participants.id, participantId));
  const parsed = facts.snapshot ? parseSnapshot(facts.snapshot.content) : null;
  const diff = parsed ? diffCarryOver(parsed, await carryOverAt(ctx.db, participantId, now)) : [];
  const services = await ctx.db.select().from(ocpServices).where(inArray(ocpServices.code, rollout.serviceCodes)).orderBy(asc(ocpServices.sortOrder));
  const people = [...new Set(facts.results.flatMap((r) => [r.recordedBy, r.confirmedBy]).concat(facts.member.checklistConfirmedBy).filter((v): v is string => Boolean(v)))];
  const names = people.length ? await ctx.db.select({ id: users.id, name: users.displayName }).from(users).where(inArray(users.id, people)) : [];
  const nameOf = (id: string | null) => (id ? (names.find((n) => n.id === id)?.name ?? null) : null);
  const resultOf = (kind: SubjectView["subjectKind"], ref: string) => {
    const r = facts.results.find((x) => x.subjectKind === kind && x.subjectRef === ref);
    return r ? { ...r, recordedByName: nameOf(r.recordedBy), confirmedByName: nameOf(r.confirmedBy) } : null;
  };
  const subjects: SubjectView[] = [
    ...services.map((s) => ({ subjectKind: "service" as const, subjectRef: s.code, label: s.nameEn, labelZh: s.nameZh, result: resultOf("service", s.code) })),
    ...(parsed?.users ?? []).filter((u) => u.status === "active").map((u) => ({ subjectKind: "login" as const, subjectRef: u.id, label: `${u.displayName} <${u.email}>`, labelZh: `${u.displayName} <${u.email}>`, result: resultOf("login", u.id) })),
    ...(parsed?.apiClients ?? []).map((c) => ({ subjectKind: "api_client" as const, subjectRef: c.id, label: `${c.name} (${c.clientId}, ${environmentIn("en", c.environment)})`, labelZh: `${c.name}（${c.clientId}，${environmentIn("zh-HK", c.environment)}）`, result: resultOf("api_client", c.id) })),
  ];
  const exceptions = await ctx.db
    .select()
    .from(rolloutFreezeExceptions)
    .where(and(eq(rolloutFreezeExceptions.rolloutId, rollout.id), eq(rolloutFreezeExceptions.participantId, participantId)))
    .orderBy(desc(rolloutFreezeExceptions.requestedAt));
  const m = milestonesOf(rollout);
  return {
    rollout,
    participant: participant!,
    phase: phaseAt(m, rollout.stabilisationEndedAt, now),
    frozen: inFreeze(m, rollout.stabilisationEndedAt, now),
    snapshot: facts.snapshot && parsed ? { ...facts.snapshot, parsed, sealed: await snapshotSealed(ctx.db, facts.snapshot) } : null,
    diff,
    subjects,
    readiness: readinessFrom(rollout, facts),
    member: facts.member,
    checklistConfirmedByName: nameOf(facts.member.checklistConfirmedBy),
    exceptions,
    can: {
      record: mayOn(ctx.actor, "rollout:complete", participantId) && rollout.stabilisationEndedAt === null,
      confirm: mayOn(ctx.actor, "rollout:approve", participantId),
      manage: mayOn(ctx.actor, "rollout:manage", participantId),
    },
  };
}

/** The snapshot and the changes since, as CSV, with the consequence of each change in English. */
export function participantCsv(p: ParticipantRollout, consequence: (kind: DiffEntry["kind"]) => string): string {
  const rows: string[][] = [];
  const s = p.snapshot?.parsed;
  if (s) {
    for (const u of s.users) rows.push(["carried_over", "user", u.id, `${u.email} (${u.status})`, ""]);
    for (const g of s.grants) rows.push(["carried_over", "role", `${g.userId}/${g.roleCode}`, `${s.users.find((u) => u.id === g.userId)?.email ?? g.userId} · ${g.roleCode}`, ""]);
    for (const c of s.apiClients) rows.push(["carried_over", "api_client", c.id, `${c.clientId} (${c.environment})`, ""]);
    for (const k of s.keys) rows.push(["carried_over", "key", k.id, `${k.kid} expires ${k.expiresAt}`, ""]);
  }
  for (const d of p.diff) rows.push(["changed_since_cutoff", d.kind, d.ref, d.label, consequence(d.kind)]);
  return stringify(rows, { header: true, columns: ["section", "kind", "ref", "subject", "consequence"] });
}

// ---------------------------------------------------------------------------------------------------------------
// Step 7 of the onboarding case

export type RolloutCheck = { outcome: "pass"; rollout: string } | { outcome: "fail"; rollout: string; reasons: NotReadyReason[] } | { outcome: "none" };

/**
 * The readiness check of a participant's onboarding case (step 7, readiness verification): in its current rollout —
 * the one created last among those whose stabilisation has not ended, else the one created last — ready passes.
 */
export async function rolloutReadinessOf(db: DbOrTx, participantId: string): Promise<RolloutCheck> {
  const rows = await db
    .select({ rollout: rollouts })
    .from(rolloutParticipants)
    .innerJoin(rollouts, eq(rollouts.id, rolloutParticipants.rolloutId))
    .where(eq(rolloutParticipants.participantId, participantId))
    .orderBy(desc(rollouts.createdAt), desc(rollouts.id));
  const rollout = (rows.find((r) => r.rollout.stabilisationEndedAt === null) ?? rows[0])?.rollout;
  if (!rollout) return { outcome: "none" };
  const facts = (await factsOf(db, rollout, [participantId])).get(participantId)!;
  const r = readinessFrom(rollout, facts);
  return r.ready ? { outcome: "pass", rollout: rollout.name } : { outcome: "fail", rollout: rollout.name, reasons: r.reasons };
}
