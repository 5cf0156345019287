import { randomUUID } from "node:crypto";
import { and, eq, gt, inArray, isNull, or, sql } from "drizzle-orm";
import type { Transaction } from "../../../db/client.server";
import { grantRequests, roleGrants, roles, type GrantRequest, type RoleGrant } from "../../../db/schema";
import { AppError, notFound } from "~/lib/errors";
import { diffFields } from "../audit/service.server";
import type { CommandContext } from "../command.server";
import { guardFrozenLogins } from "../rollouts/freeze.server";
import { activeAdministrators, approvedWaiverRulesOf, loadSodRules } from "./facts.server";
import { lastAdministratorLost, sodVerdict, type SodRuleFact } from "./rules";

/**
 * Where roles are granted, requested and revoked: the only code that writes role_grants and grant_requests. Each
 * helper runs inside a command's transaction (its `cx`) and queues its audit events there, in one shape whoever
 * calls it — a checker's approval, an officer's first administrators, an import, the demo seed.
 */

/** One role for one user, as asked: by a maker's request, an import row, an officer, the seed. */
export interface RoleAssignment {
  /** The id the new grant takes (a decision records it on the request first); a new one when absent. */
  id?: string;
  userId: string;
  roleCode: string;
  participantId: string | null;
  validFrom?: Date | null;
  validTo?: Date | null;
  justification?: string | null;
  /** The separation-of-duties warnings the assignment raised (recorded with a request). */
  sodWarnings?: string[];
}

/** What separation of duties says about one assignment (SPEC §4), with the rule it is about. */
export type SodProblem =
  | { kind: "blocking"; rule: SodRuleFact }
  | { kind: "waiverMissing"; rule: SodRuleFact }
  | { kind: "justificationRequired"; rule: SodRuleFact };

export interface SodFinding {
  problem: SodProblem | null;
  /** Warnings the assignment raises (allowed with a justification, which is recorded). */
  warnings: SodRuleFact[];
  /** The user already holds the role (or it starts later). */
  alreadyHeld: boolean;
}

/**
 * Separation of duties for a batch of assignments, the one path every grant and request takes. What a user holds
 * counts (grants that start later too: a scheduled grant must not slip past a blocking rule), and so do pending
 * requests and the assignments before it in the same batch: two requests that together break a rule are refused
 * like one. When a checker approves, a warning already justified on the request or grant of the pair's other role
 * counts as justified.
 */
export async function checkSeparationOfDuties(
  tx: Transaction,
  assignments: readonly RoleAssignment[],
  now: Date,
  options: { approving?: boolean } = {},
): Promise<SodFinding[]> {
  if (assignments.length === 0) return [];
  const userIds = [...new Set(assignments.map((a) => a.userId))];
  const held = new Map<string, { roleCode: string; justified: boolean }[]>();
  const pending = new Map<string, { roleCode: string; justified: boolean }[]>();
  const push = (map: typeof held, userId: string, roleCode: string, justified: boolean) => {
    const list = map.get(userId) ?? [];
    list.push({ roleCode, justified });
    map.set(userId, list);
  };
  for (let i = 0; i < userIds.length; i += 1000) {
    const ids = userIds.slice(i, i + 1000);
    const grants = await tx
      .select({ userId: roleGrants.userId, roleCode: roleGrants.roleCode, justification: roleGrants.sodJustification })
      .from(roleGrants)
      .where(and(inArray(roleGrants.userId, ids), eq(roleGrants.status, "active"), or(isNull(roleGrants.validTo), gt(roleGrants.validTo, now))));
    for (const g of grants) push(held, g.userId, g.roleCode, Boolean(g.justification));
    const requests = await tx
      .select({ userId: grantRequests.userId, roleCode: grantRequests.roleCode, justification: grantRequests.sodJustification })
      .from(grantRequests)
      .where(and(inArray(grantRequests.userId, ids), eq(grantRequests.status, "pending")));
    for (const r of requests) push(pending, r.userId, r.roleCode, Boolean(r.justification));
  }
  const rules = await loadSodRules(tx);
  const waivers = await approvedWaiverRulesOf(tx, userIds);
  return assignments.map((a) => {
    const holds = held.get(a.userId) ?? [];
    // The request being approved is itself pending: it does not count against itself.
    const asks = (pending.get(a.userId) ?? []).filter((p) => p.roleCode !== a.roleCode);
    const alreadyHeld = holds.some((h) => h.roleCode === a.roleCode);
    const verdict = sodVerdict([...holds, ...asks].map((x) => x.roleCode), a.roleCode, rules, waivers.get(a.userId) ?? []);
    const justifiedByOther = (w: SodRuleFact) =>
      options.approving === true && [...holds, ...asks].some((x) => x.roleCode === (w.roleA === a.roleCode ? w.roleB : w.roleA) && x.justified);
    const unjustified = verdict.warnings.find((w) => !justifiedByOther(w));
    const problem: SodProblem | null = verdict.blocking[0]
      ? { kind: "blocking", rule: verdict.blocking[0] }
      : verdict.waiverMissing[0]
        ? { kind: "waiverMissing", rule: verdict.waiverMissing[0] }
        : unjustified && !a.justification
          ? { kind: "justificationRequired", rule: unjustified }
          : null;
    // Later assignments of the same batch see this one as asked for.
    push(pending, a.userId, a.roleCode, Boolean(a.justification));
    return { problem, warnings: verdict.warnings, alreadyHeld };
  });
}

/** A separation-of-duties refusal's message parameters: both roles by code and by name in each language. */
export async function sodParams(tx: Transaction, rule: SodRuleFact): Promise<Record<string, string>> {
  const named = await tx.select().from(roles).where(inArray(roles.code, [rule.roleA, rule.roleB]));
  const name = (code: string, zh: boolean) => {
    const r = named.find((n) => n.code === code);
    return r ? (zh ? r.nameZh : r.nameEn) : code;
  };
  return {
    roleA: rule.roleA,
    roleB: rule.roleB,
    rule: rule.id,
    roleAName: name(rule.roleA, false),
    roleBName: name(rule.roleB, false),
    roleANameZh: name(rule.roleA, true),
    roleBNameZh: name(rule.roleB, true),
  };
}

/** The refusal for a separation-of-duties problem, on the field the form shows it by. */
export async function sodRefusal(tx: Transaction, problem: SodProblem, field = "roleCode"): Promise<AppError> {
  const params = await sodParams(tx, problem.rule);
  if (problem.kind === "justificationRequired") {
    return new AppError(400, "access.sod.justificationRequired", { justification: "access.sod.justificationRequired" }, params);
  }
  const key = problem.kind === "blocking" ? "access.sod.blocked" : "access.sod.waiverRequired";
  return new AppError(400, key, { [field]: key }, params);
}

/** The single-assignment form: throws the refusal, or answers the warnings the grant or request will record. */
export async function assertSeparationOfDuties(
  tx: Transaction,
  assignment: RoleAssignment,
  now: Date,
  options: { approving?: boolean; field?: string } = {},
): Promise<SodFinding> {
  const [finding] = await checkSeparationOfDuties(tx, [assignment], now, options);
  if (finding!.problem) throw await sodRefusal(tx, finding!.problem, options.field);
  return finding!;
}

/** A role that may be given to this population now: in the catalogue, active, for participants or for HKEX. */
export async function grantableRole(tx: Transaction, roleCode: string, population: "participant" | "hkex", field = "roleCode") {
  const [role] = await tx.select().from(roles).where(eq(roles.code, roleCode));
  if (!role || !role.active || role.population !== population) {
    throw new AppError(400, "error.badRequest", { [field]: "access.error.role" }, { role: roleCode });
  }
  return role;
}

export interface GrantProvenance {
  /** seed, request, import, officer. */
  source: string;
  requestId?: string | null;
  requestedBy: string | null;
  approvedBy: string | null;
  importRunId?: string | null;
  /** An officer's (or an officer's import's) grant of a participant's first administrators. */
  firstAdministrator?: boolean;
}

/**
 * Grants roles: the one writer of new role_grants rows, and of their `role.grant.created` events. The caller has
 * checked separation of duties (checkSeparationOfDuties) and holds the participant's lock (the command does). A
 * login carried over by a rollout in its change freeze is refused unless an approved exception lets it through
 * (guardFrozenLogins): a command calling this declares FREEZE_GUARD_EVENTS if it may touch an existing login.
 */
export async function grantRoles(cx: CommandContext, assignments: readonly RoleAssignment[], provenance: GrantProvenance): Promise<RoleGrant[]> {
  if (assignments.length === 0) return [];
  // A carried-over login's roles are frozen during a rollout's freeze, unless an approved exception lets this through.
  for (const participantId of new Set(assignments.map((a) => a.participantId))) {
    await guardFrozenLogins(cx, participantId, assignments.filter((a) => a.participantId === participantId).map((a) => a.userId));
  }
  const rows = assignments.map((a) => ({
    id: a.id ?? randomUUID(),
    userId: a.userId,
    roleCode: a.roleCode,
    participantId: a.participantId,
    status: "active" as const,
    validFrom: a.validFrom && a.validFrom > cx.now ? a.validFrom : cx.now,
    validTo: a.validTo ?? null,
    source: provenance.source,
    requestId: provenance.requestId ?? null,
    requestedBy: provenance.requestedBy,
    approvedBy: provenance.approvedBy,
    sodJustification: a.justification ?? null,
    createdAt: cx.now,
  }));
  const written: RoleGrant[] = [];
  for (let i = 0; i < rows.length; i += 1000) written.push(...(await cx.tx.insert(roleGrants).values(rows.slice(i, i + 1000)).returning()));
  for (const grant of written) {
    cx.audit({
      action: "role.grant.created",
      entityType: "role_grant",
      entityId: grant.id,
      participantId: grant.participantId,
      changes: diffFields(null, grant, ["userId", "roleCode", "validFrom", "validTo", "requestedBy", "approvedBy", "source", "sodJustification"]),
      metadata: {
        userId: grant.userId,
        roleCode: grant.roleCode,
        ...(provenance.requestId ? { requestId: provenance.requestId } : {}),
        ...(provenance.importRunId ? { importRunId: provenance.importRunId } : {}),
        ...(provenance.firstAdministrator ? { firstAdministrator: true } : {}),
      },
    });
  }
  return written;
}

/**
 * Asks for roles, for a checker to decide: the one writer of new grant_requests rows and of their
 * `role.grant.requested` events. The caller has checked separation of duties.
 */
export async function requestRoles(
  cx: CommandContext,
  assignments: readonly (RoleAssignment & { participantId: string })[],
  provenance: { source: string; importRunId?: string | null },
): Promise<GrantRequest[]> {
  if (assignments.length === 0) return [];
  const rows = assignments.map((a) => ({
    id: randomUUID(),
    participantId: a.participantId,
    userId: a.userId,
    roleCode: a.roleCode,
    validFrom: a.validFrom ?? null,
    validTo: a.validTo ?? null,
    sodJustification: a.justification ?? null,
    source: provenance.source,
    importRunId: provenance.importRunId ?? null,
    requestedBy: cx.actor.userId,
    requestedAt: cx.now,
  }));
  const written: GrantRequest[] = [];
  for (let i = 0; i < rows.length; i += 1000) written.push(...(await cx.tx.insert(grantRequests).values(rows.slice(i, i + 1000)).returning()));
  for (const [i, request] of written.entries()) {
    const warnings = assignments[i]!.sodWarnings;
    cx.audit({
      action: "role.grant.requested",
      entityType: "grant_request",
      entityId: request.id,
      participantId: request.participantId,
      changes: diffFields(null, request, ["userId", "roleCode", "validFrom", "validTo", "sodJustification", "status", "source"]),
      metadata: {
        userId: request.userId,
        roleCode: request.roleCode,
        ...(request.importRunId ? { importRunId: request.importRunId } : {}),
        ...(warnings ? { sodWarnings: warnings } : {}),
      },
    });
  }
  return written;
}

export interface RevokeOptions {
  reason: string;
  /** A helpdesk action's ticket: the revocation is then done on the user's behalf. */
  ticketRef?: string | null;
  /** What caused it, when it is a consequence (a deactivation). */
  cause?: string;
  /** Skip the last-administrator rule: a deactivated user's grants end whatever they were. */
  endingUser?: boolean;
}

/**
 * Ends active grants at once, with a reason: the one path revocations take (a DA, an officer, a reset, an access
 * review, a deactivation). The last active DA maker or checker of a participant cannot lose that role, and a login
 * carried over by a rollout in its change freeze keeps its roles unless an approved exception lets this through.
 */
export async function revokeGrants(cx: CommandContext, grantIds: readonly string[], options: RevokeOptions): Promise<RoleGrant[]> {
  const ended: RoleGrant[] = [];
  for (const grantId of grantIds) {
    const [grant] = await cx.tx.select().from(roleGrants).where(eq(roleGrants.id, grantId)).for("update");
    if (!grant || !grant.participantId) throw notFound();
    if (grant.status !== "active") throw new AppError(409, "access.refused.alreadyRevoked");
    if (!options.endingUser) {
      const lost = lastAdministratorLost(await activeAdministrators(cx.tx, grant.participantId, cx.now), grant.userId, [grant.roleCode]);
      if (lost) throw new AppError(400, "access.refused.lastAdministrator", {}, { role: lost });
    }
    await guardFrozenLogins(cx, grant.participantId, [grant.userId]);
    const [after] = await cx.tx
      .update(roleGrants)
      .set({ status: "revoked", revokedAt: cx.now, revokedBy: cx.actor.userId, revokeReason: options.reason })
      .where(eq(roleGrants.id, grant.id))
      .returning();
    cx.audit({
      action: "role.grant.revoked",
      entityType: "role_grant",
      entityId: grant.id,
      participantId: grant.participantId,
      reason: options.reason,
      ticketRef: options.ticketRef ?? null,
      onBehalfOfUserId: options.ticketRef ? grant.userId : null,
      changes: diffFields(grant, after!, ["status", "revokedAt", "revokedBy"]),
      metadata: { userId: grant.userId, roleCode: grant.roleCode, ...(options.cause ? { cause: options.cause } : {}) },
    });
    ended.push(after!);
  }
  return ended;
}

/** Every active grant of a user, ended (a deactivation). */
export async function revokeAllGrantsOf(cx: CommandContext, userId: string, options: RevokeOptions): Promise<RoleGrant[]> {
  const active = await cx.tx
    .select({ id: roleGrants.id })
    .from(roleGrants)
    .where(and(eq(roleGrants.userId, userId), eq(roleGrants.status, "active")));
  return revokeGrants(cx, active.map((g) => g.id), { ...options, endingUser: true });
}

/** Withdraws a user's pending requests (all, or those for roles outside `keep`), with the comment recorded. */
export async function withdrawPendingRequestsOf(cx: CommandContext, userId: string, comment: string | null, keep: readonly string[] = []): Promise<GrantRequest[]> {
  const pending = await cx.tx
    .select()
    .from(grantRequests)
    .where(and(eq(grantRequests.userId, userId), eq(grantRequests.status, "pending")))
    .for("update");
  const withdrawn = pending.filter((r) => !keep.includes(r.roleCode));
  if (withdrawn.length === 0) return [];
  return cx.tx
    .update(grantRequests)
    .set({ status: "cancelled", decidedBy: cx.actor.userId, decidedAt: cx.now, decisionComment: comment, version: sql`${grantRequests.version} + 1` })
    .where(inArray(grantRequests.id, withdrawn.map((w) => w.id)))
    .returning();
}
