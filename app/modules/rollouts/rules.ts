/**
 * The rules of a rollout (SPEC §7, after HKEX's HKATS/DCASS rollout circular MO/DT/059/19), as plain functions of
 * data: the order of the milestones and when one may move, which phase a rollout is in, the change freeze, whether
 * a participant is ready, and what changed since the carry-over snapshot. No I/O: unit-tested with random data.
 */

/** The milestones in the order they happen. */
export const MILESTONES = ["cutoffAt", "conversionAt", "verificationStartAt", "verificationEndAt", "launchAt", "stabilisationEndAt"] as const;
export type Milestone = (typeof MILESTONES)[number];
export type Milestones = Record<Milestone, Date>;

export const DEFAULT_STABILISATION_DAYS = 14;
export const MIN_REASON_LENGTH = 5;

/**
 * Whether the milestones are in order: the end-of-day cutoff before conversion day, conversion before (or at) the
 * verification session, the session a window that ends no later than launch, and stabilisation after launch.
 * The database checks the same (rollouts_milestones_ordered).
 */
export function milestonesInOrder(m: Milestones): boolean {
  const t = (k: Milestone) => m[k].getTime();
  return (
    t("cutoffAt") < t("conversionAt") &&
    t("conversionAt") <= t("verificationStartAt") &&
    t("verificationStartAt") < t("verificationEndAt") &&
    t("verificationEndAt") <= t("launchAt") &&
    t("launchAt") < t("stabilisationEndAt")
  );
}

export type MoveRefusal = "passed" | "to_past" | "order" | "reason" | "ended" | "unchanged";
export type MoveResult = { ok: true; milestones: Milestones } | { ok: false; refusal: MoveRefusal };

/**
 * Moves one milestone: only one that has not passed, only to a time still to come, with a reason, keeping the
 * order; a rollout whose stabilisation has ended moves nothing.
 */
export function moveMilestone(current: Milestones, milestone: Milestone, to: Date, reason: string, now: Date, ended = false): MoveResult {
  if (ended) return { ok: false, refusal: "ended" };
  if (reason.trim().length < MIN_REASON_LENGTH) return { ok: false, refusal: "reason" };
  if (current[milestone].getTime() <= now.getTime()) return { ok: false, refusal: "passed" };
  if (to.getTime() <= now.getTime()) return { ok: false, refusal: "to_past" };
  if (to.getTime() === current[milestone].getTime()) return { ok: false, refusal: "unchanged" };
  const next = { ...current, [milestone]: to };
  if (!milestonesInOrder(next)) return { ok: false, refusal: "order" };
  return { ok: true, milestones: next };
}

export type Phase = "planned" | "carried_over" | "verification" | "pre_launch" | "stabilisation" | "ended";

/** Where a rollout stands at `now`. Stabilisation lasts until HKEX announces its end (`endedAt`), not a date. */
export function phaseAt(m: Milestones, endedAt: Date | null, now: Date): Phase {
  const at = now.getTime();
  if (endedAt && endedAt.getTime() <= at) return "ended";
  if (at <= m.cutoffAt.getTime()) return "planned";
  if (at < m.verificationStartAt.getTime()) return "carried_over";
  if (at < m.verificationEndAt.getTime()) return "verification";
  if (at < m.launchAt.getTime()) return "pre_launch";
  return "stabilisation";
}

/**
 * The change freeze (circular §2(i)): from the start of the verification session until HKEX announces the end of
 * stabilisation, verified programs and carried-over credentials must not change.
 */
export function inFreeze(m: Pick<Milestones, "verificationStartAt">, endedAt: Date | null, now: Date): boolean {
  if (now.getTime() < m.verificationStartAt.getTime()) return false;
  return endedAt === null || now.getTime() < endedAt.getTime();
}

/** Whether the snapshot's credentials are retained (not deleted, even if replaced): during stabilisation. */
export function credentialsRetained(m: Pick<Milestones, "launchAt">, endedAt: Date | null, now: Date): boolean {
  return now.getTime() >= m.launchAt.getTime() && (endedAt === null || now.getTime() < endedAt.getTime());
}

/** The next milestone still to come, for the countdown; null when all have passed. */
export function nextMilestone(m: Milestones, now: Date): { milestone: Milestone; at: Date } | null {
  for (const k of MILESTONES) if (m[k].getTime() > now.getTime()) return { milestone: k, at: m[k] };
  return null;
}

// ---------------------------------------------------------------------------------------------------------------
// Readiness

export type SubjectKind = "service" | "login" | "api_client";
export interface ResultFact {
  subjectKind: SubjectKind;
  subjectRef: string;
  outcome: "verified" | "failed" | "not_attempted";
  confirmed: boolean;
}
export interface ReadinessFacts {
  /** The services the rollout launches. */
  services: readonly string[];
  /** The carried-over logins (user ids) and API clients; null when no snapshot has been taken. */
  carriedOver: { logins: readonly string[]; apiClients: readonly string[] } | null;
  results: readonly ResultFact[];
  checklist: readonly string[];
  checklistConfirmed: readonly string[];
  pendingExceptions: number;
}

export const NOT_READY_REASONS = ["no_snapshot", "no_result", "failed", "checklist_open", "exception_pending"] as const;
export type NotReadyReason = (typeof NOT_READY_REASONS)[number];

export interface Readiness {
  ready: boolean;
  reasons: NotReadyReason[];
  /** The subjects without a confirmed "verified" result, and those that failed. */
  unverified: { subjectKind: SubjectKind; subjectRef: string }[];
  failed: { subjectKind: SubjectKind; subjectRef: string }[];
  openItems: string[];
}

/**
 * A participant is ready when every service of the rollout and every carried-over login and API client has a
 * result "verified" confirmed by an officer (attendance is mandatory: nothing confirmed is not ready), nothing
 * failed, its fallback checklist is confirmed in full, and no freeze exception waits for a decision.
 */
export function readiness(f: ReadinessFacts): Readiness {
  const reasons: NotReadyReason[] = [];
  if (!f.carriedOver) reasons.push("no_snapshot");
  const required: { subjectKind: SubjectKind; subjectRef: string }[] = [
    ...f.services.map((s) => ({ subjectKind: "service" as const, subjectRef: s })),
    ...(f.carriedOver?.logins ?? []).map((s) => ({ subjectKind: "login" as const, subjectRef: s })),
    ...(f.carriedOver?.apiClients ?? []).map((s) => ({ subjectKind: "api_client" as const, subjectRef: s })),
  ];
  const resultOf = (k: SubjectKind, ref: string) => f.results.find((r) => r.subjectKind === k && r.subjectRef === ref);
  const unverified = required.filter((s) => {
    const r = resultOf(s.subjectKind, s.subjectRef);
    return !r || !r.confirmed || r.outcome !== "verified";
  });
  const failed = f.results.filter((r) => r.outcome === "failed").map((r) => ({ subjectKind: r.subjectKind, subjectRef: r.subjectRef }));
  if (failed.length > 0) reasons.push("failed");
  if (unverified.some((s) => !failed.some((x) => x.subjectKind === s.subjectKind && x.subjectRef === s.subjectRef))) reasons.push("no_result");
  const confirmed = new Set(f.checklistConfirmed);
  const openItems = f.checklist.filter((item) => !confirmed.has(item));
  if (openItems.length > 0) reasons.push("checklist_open");
  if (f.pendingExceptions > 0) reasons.push("exception_pending");
  return { ready: reasons.length === 0, reasons: NOT_READY_REASONS.filter((r) => reasons.includes(r)), unverified, failed, openItems };
}

/** Counts per state for the dashboard's chart: ready, and each reason of not being ready. */
export function stateCounts(all: readonly Readiness[]): Record<"ready" | NotReadyReason, number> {
  const counts = { ready: 0, no_snapshot: 0, no_result: 0, failed: 0, checklist_open: 0, exception_pending: 0 };
  for (const r of all) {
    if (r.ready) counts.ready++;
    for (const reason of r.reasons) counts[reason]++;
  }
  return counts;
}

// ---------------------------------------------------------------------------------------------------------------
// The carry-over snapshot and its diff

export interface SnapshotUser {
  id: string;
  email: string;
  displayName: string;
  status: string;
}
export interface SnapshotGrant {
  userId: string;
  roleCode: string;
}
export interface SnapshotClient {
  id: string;
  clientId: string;
  name: string;
  environment: string;
  ownerUserId: string;
}
export interface SnapshotKey {
  id: string;
  apiClientId: string;
  kid: string;
  replacesKeyId: string | null;
  expiresAt: string;
}
/** What carries over, as sealed: sorted lists, so the same state always makes the same canonical JSON. */
export interface CarryOver {
  users: SnapshotUser[];
  grants: SnapshotGrant[];
  apiClients: SnapshotClient[];
  keys: SnapshotKey[];
}
export interface SnapshotContent extends CarryOver {
  rolloutId: string;
  participantId: string;
  cutoffAt: string;
}

/** Puts a carry-over in its one order (the digest depends on it). */
export function normalizeCarryOver(c: CarryOver): CarryOver {
  const by = <T>(key: (x: T) => string) => (a: T, b: T) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);
  return {
    users: [...c.users].sort(by((u) => u.id)),
    grants: [...c.grants].sort(by((g) => `${g.userId}\u0000${g.roleCode}`)).filter((g, i, all) => i === 0 || all[i - 1]!.userId !== g.userId || all[i - 1]!.roleCode !== g.roleCode),
    apiClients: [...c.apiClients].sort(by((x) => x.id)),
    keys: [...c.keys].sort(by((k) => k.id)),
  };
}

export const DIFF_KINDS = ["user_joined", "user_left", "role_gained", "role_lost", "client_added", "client_removed", "key_added", "key_rotated", "key_revoked"] as const;
export type DiffKind = (typeof DIFF_KINDS)[number];
export interface DiffEntry {
  kind: DiffKind;
  /** The user id, "userId/roleCode", the API client id or the key id. */
  ref: string;
  /** What a person reads: the email, "email · role", the client ID, "client ID · kid". */
  label: string;
}

/**
 * What changed between the cutoff and today. Each kind has its consequence for launch day (the catalogues spell it
 * out): what joined after the cutoff does not carry over, what left still does until it is removed there.
 */
export function diffCarryOver(then: CarryOver, now: CarryOver): DiffEntry[] {
  const out: DiffEntry[] = [];
  const usersThen = new Map(then.users.map((u) => [u.id, u]));
  const usersNow = new Map(now.users.map((u) => [u.id, u]));
  const email = (id: string) => usersNow.get(id)?.email ?? usersThen.get(id)?.email ?? id;
  for (const u of now.users) if (!usersThen.has(u.id)) out.push({ kind: "user_joined", ref: u.id, label: u.email });
  for (const u of then.users) if (!usersNow.has(u.id)) out.push({ kind: "user_left", ref: u.id, label: u.email });
  const grantKey = (g: SnapshotGrant) => `${g.userId}/${g.roleCode}`;
  const grantsThen = new Set(then.grants.map(grantKey));
  const grantsNow = new Set(now.grants.map(grantKey));
  // A role of a user who joined or left is said by the user's own entry.
  for (const g of now.grants) if (!grantsThen.has(grantKey(g)) && usersThen.has(g.userId)) out.push({ kind: "role_gained", ref: grantKey(g), label: `${email(g.userId)} · ${g.roleCode}` });
  for (const g of then.grants) if (!grantsNow.has(grantKey(g)) && usersNow.has(g.userId)) out.push({ kind: "role_lost", ref: grantKey(g), label: `${email(g.userId)} · ${g.roleCode}` });
  const clientsThen = new Map(then.apiClients.map((c) => [c.id, c]));
  const clientsNow = new Map(now.apiClients.map((c) => [c.id, c]));
  for (const c of now.apiClients) if (!clientsThen.has(c.id)) out.push({ kind: "client_added", ref: c.id, label: c.clientId });
  for (const c of then.apiClients) if (!clientsNow.has(c.id)) out.push({ kind: "client_removed", ref: c.id, label: c.clientId });
  const keysThen = new Map(then.keys.map((k) => [k.id, k]));
  const keysNow = new Map(now.keys.map((k) => [k.id, k]));
  const clientLabel = (id: string) => clientsNow.get(id)?.clientId ?? clientsThen.get(id)?.clientId ?? id;
  for (const k of now.keys) {
    if (keysThen.has(k.id)) continue;
    const rotated = k.replacesKeyId !== null && keysThen.has(k.replacesKeyId);
    out.push({ kind: rotated ? "key_rotated" : "key_added", ref: k.id, label: `${clientLabel(k.apiClientId)} · ${k.kid}` });
  }
  for (const k of then.keys) if (!keysNow.has(k.id)) out.push({ kind: "key_revoked", ref: k.id, label: `${clientLabel(k.apiClientId)} · ${k.kid}` });
  return out;
}
