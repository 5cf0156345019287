import { randomUUID } from "node:crypto";
import { and, asc, desc, eq, gt, inArray, isNull, ne, or } from "drizzle-orm";
import type { Transaction } from "../../../db/client.server";
import {
  grantRequests,
  participants,
  roleGrants,
  roleTemplateRoles,
  roleTemplates,
  roles,
  sodRules,
  sodWaivers,
  users,
  type GrantRequest,
  type RoleGrant,
  type SodWaiver,
  type User,
} from "../../../db/schema";
import { scopeOf } from "~/auth/permissions";
import { AppError, forbidden, notFound } from "~/lib/errors";
import { validate } from "~/lib/validation";
import { appendAuditEvent, appendAuditEvents, diffFields, type AuditEventInput } from "../audit/service.server";
import type { ServiceContext } from "../context.server";
import { activeAdministrators, approvedWaiverRuleIds, loadSodRules } from "./facts.server";
import { baselineRemovals, decisionRefusal, lastAdministratorLost, sodVerdict } from "./rules";
import {
  decisionSchema,
  grantRequestSchema,
  revokeSchema,
  ticketSchema,
  waiverRequestSchema,
  type DecisionInput,
  type GrantRequestInput,
  type RevokeInput,
  type TicketInput,
  type WaiverRequestInput,
} from "./schemas";

/** Locks a participant's access changes: one at a time, so the last-administrator rule holds under concurrency. */
export async function lockParticipantAccess(tx: Transaction, participantId: string): Promise<void> {
  await tx.select({ id: participants.id }).from(participants).where(eq(participants.id, participantId)).for("update");
}

/**
 * A user the actor may manage at the given capability: a participant administrator only their own participant's
 * users; otherwise 404, the same as a user that does not exist.
 */
export async function userInScope(
  db: ServiceContext["db"] | Transaction,
  ctx: ServiceContext,
  userId: string,
  capability: Parameters<typeof scopeOf>[1],
): Promise<User> {
  const scope = ctx.actor.persona === "system" ? "any" : scopeOf(ctx.actor.permissions, capability);
  const readable = ctx.actor.persona === "system" ? "any" : scopeOf(ctx.actor.permissions, "user:read");
  if (!readable) throw forbidden();
  const [user] = await db.select().from(users).where(eq(users.id, userId)).limit(1);
  if (!user) throw notFound();
  if (readable === "own-participant" && user.participantId !== ctx.actor.participantId) throw notFound();
  if (!scope) throw forbidden();
  if (scope === "own-participant" && user.participantId !== ctx.actor.participantId) throw notFound();
  return user;
}

/** A separation-of-duties message's parameters: both roles by code and by name in each language, and the rule. */
async function sodParams(tx: Transaction, rule: { id: string; roleA: string; roleB: string }) {
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

async function sodMessage(tx: Transaction, kind: "blocking" | "waiverMissing", rule: { id: string; roleA: string; roleB: string }) {
  const key = kind === "blocking" ? "access.sod.blocked" : "access.sod.waiverRequired";
  return new AppError(400, key, { roleCode: key }, await sodParams(tx, rule));
}

/**
 * Separation of duties for giving `roleCode` to `userId`: blocking pairs are refused naming both roles and the
 * rule; a warning needs a written justification (answered with the rules it is for). When a checker approves, a
 * warning already justified on the request or grant of the pair's other role (asked for after this one) counts.
 */
export async function checkSod(
  tx: Transaction,
  userId: string,
  roleCode: string,
  justification: string | null,
  now: Date,
  options: { approving?: boolean } = {},
) {
  // Grants that start later count as held: a scheduled grant must not slip past a blocking rule.
  const grants = await tx
    .select({ roleCode: roleGrants.roleCode, sodJustification: roleGrants.sodJustification })
    .from(roleGrants)
    .where(and(eq(roleGrants.userId, userId), eq(roleGrants.status, "active"), or(isNull(roleGrants.validTo), gt(roleGrants.validTo, now))));
  const held = [...new Set(grants.map((g) => g.roleCode))];
  const pending = await tx
    .select({ roleCode: grantRequests.roleCode, sodJustification: grantRequests.sodJustification })
    .from(grantRequests)
    .where(and(eq(grantRequests.userId, userId), eq(grantRequests.status, "pending"), ne(grantRequests.roleCode, roleCode)));
  // Pending requests count as held: two requests that together break a rule are refused like one.
  const verdict = sodVerdict([...held, ...pending.map((p) => p.roleCode)], roleCode, await loadSodRules(tx), await approvedWaiverRuleIds(tx, userId));
  if (verdict.blocking[0]) throw await sodMessage(tx, "blocking", verdict.blocking[0]);
  if (verdict.waiverMissing[0]) throw await sodMessage(tx, "waiverMissing", verdict.waiverMissing[0]);
  const justifiedByOther = (w: { roleA: string; roleB: string }) =>
    options.approving === true && [...grants, ...pending].some((x) => x.roleCode === (w.roleA === roleCode ? w.roleB : w.roleA) && x.sodJustification);
  const unjustified = verdict.warnings.filter((w) => !justifiedByOther(w));
  if (unjustified.length > 0 && !justification) {
    const w = unjustified[0]!;
    throw new AppError(400, "access.sod.justificationRequired", { justification: "access.sod.justificationRequired" }, await sodParams(tx, w));
  }
  return { held, pending: pending.map((p) => p.roleCode), warnings: verdict.warnings, waived: verdict.waived };
}

async function grantableRole(tx: Transaction, roleCode: string, population: "participant" | "hkex") {
  const [role] = await tx.select().from(roles).where(eq(roles.code, roleCode));
  if (!role || !role.active || role.population !== population) {
    throw new AppError(400, "error.badRequest", { roleCode: "access.error.role" });
  }
  return role;
}

/** A DA maker asks for a role for one of their participant's users; a checker decides. */
export async function requestGrant(ctx: ServiceContext, input: GrantRequestInput): Promise<GrantRequest> {
  const data = validate(grantRequestSchema, input);
  const now = new Date();
  return ctx.db.transaction(async (tx) => {
    const user = await userInScope(tx, ctx, data.userId, "role:request");
    if (!user.participantId) throw notFound();
    if (user.status === "deactivated") throw new AppError(400, "access.refused.userDeactivated");
    await lockParticipantAccess(tx, user.participantId);
    await grantableRole(tx, data.roleCode, "participant");
    const sod = await checkSod(tx, user.id, data.roleCode, data.justification, now);
    if (sod.held.includes(data.roleCode)) throw new AppError(400, "access.refused.alreadyHeld", { roleCode: "access.refused.alreadyHeld" });
    const [pending] = await tx
      .select({ id: grantRequests.id })
      .from(grantRequests)
      .where(and(eq(grantRequests.userId, user.id), eq(grantRequests.roleCode, data.roleCode), eq(grantRequests.status, "pending")));
    if (pending) throw new AppError(400, "access.refused.alreadyRequested", { roleCode: "access.refused.alreadyRequested" });
    const [request] = await tx
      .insert(grantRequests)
      .values({
        id: randomUUID(),
        participantId: user.participantId,
        userId: user.id,
        roleCode: data.roleCode,
        validFrom: data.validFrom,
        validTo: data.validTo,
        sodJustification: sod.warnings.length ? data.justification : null,
        requestedBy: ctx.actor.userId,
        requestedAt: now,
      })
      .returning();
    await appendAuditEvent(tx, ctx, {
      action: "role.grant.requested",
      entityType: "grant_request",
      entityId: request!.id,
      participantId: user.participantId,
      changes: diffFields(null, request!, ["userId", "roleCode", "validFrom", "validTo", "sodJustification", "status"]),
      metadata: { userId: user.id, sodWarnings: sod.warnings.map((w) => w.id) },
    });
    return request!;
  });
}

/**
 * A DA checker of the same participant approves or rejects a pending request. The request row is locked, so of two
 * checkers deciding at the same moment one wins and the other is told it is already decided (409).
 */
export async function decideRequest(ctx: ServiceContext, requestId: string, input: DecisionInput): Promise<GrantRequest> {
  const data = validate(decisionSchema, input);
  const scope = scopeOf(ctx.actor.permissions, "role:approve");
  const readable = scopeOf(ctx.actor.permissions, "user:read");
  if (!readable) throw forbidden();
  return ctx.db.transaction(async (tx) => {
    const [request] = await tx.select().from(grantRequests).where(eq(grantRequests.id, requestId)).for("update");
    if (!request) throw notFound();
    if (readable === "own-participant" && request.participantId !== ctx.actor.participantId) throw notFound();
    if (scope !== "own-participant" || !ctx.actor.userId) throw new AppError(403, "access.refused.checkerOnly");
    const refusal = decisionRefusal({
      requestStatus: request.status,
      requestParticipantId: request.participantId,
      requestedBy: request.requestedBy,
      targetUserId: request.userId,
      deciderId: ctx.actor.userId,
      deciderParticipantId: ctx.actor.participantId,
    });
    if (refusal === "error.notFound") throw notFound();
    if (refusal === "access.refused.alreadyDecided") throw new AppError(409, refusal);
    if (refusal) throw new AppError(403, refusal);
    await lockParticipantAccess(tx, request.participantId);
    const now = new Date();
    let grantId: string | null = null;
    const events: AuditEventInput[] = [];
    if (data.decision === "approve") {
      const [target] = await tx.select().from(users).where(eq(users.id, request.userId));
      if (!target || target.status === "deactivated") throw new AppError(400, "access.refused.userDeactivated");
      // A request whose validity ended while it waited would grant nothing: refuse rather than record an empty grant.
      if (request.validTo && request.validTo <= now) throw new AppError(400, "access.refused.windowEnded");
      // Rules may have changed since the request: check again at the moment of approval.
      const sod = await checkSod(tx, request.userId, request.roleCode, request.sodJustification, now, { approving: true });
      if (sod.held.includes(request.roleCode)) throw new AppError(400, "access.refused.alreadyHeld");
      const grant = await insertGrant(tx, {
        userId: request.userId,
        roleCode: request.roleCode,
        participantId: request.participantId,
        validFrom: request.validFrom && request.validFrom > now ? request.validFrom : now,
        validTo: request.validTo,
        source: request.source,
        requestId: request.id,
        requestedBy: request.requestedBy,
        approvedBy: ctx.actor.userId,
        sodJustification: request.sodJustification,
      });
      grantId = grant.id;
      events.push({
        action: "role.grant.created",
        entityType: "role_grant",
        entityId: grant.id,
        participantId: request.participantId,
        changes: diffFields(null, grant, ["userId", "roleCode", "validFrom", "validTo", "requestedBy", "approvedBy", "source"]),
        metadata: { userId: request.userId, roleCode: request.roleCode, requestId: request.id },
      });
    }
    const [after] = await tx
      .update(grantRequests)
      .set({
        status: data.decision === "approve" ? "approved" : "rejected",
        decidedBy: ctx.actor.userId,
        decidedAt: now,
        decisionComment: data.comment,
        grantId,
        version: request.version + 1,
      })
      .where(eq(grantRequests.id, request.id))
      .returning();
    events.unshift({
      action: data.decision === "approve" ? "role.grant.approved" : "role.grant.rejected",
      entityType: "grant_request",
      entityId: request.id,
      participantId: request.participantId,
      reason: data.comment,
      changes: diffFields(request, after!, ["status", "decidedBy", "decisionComment"]),
      metadata: { userId: request.userId, roleCode: request.roleCode },
    });
    await appendAuditEvents(tx, ctx, events);
    return after!;
  });
}

/** The maker who asked may withdraw a pending request. */
export async function cancelRequest(ctx: ServiceContext, requestId: string): Promise<GrantRequest> {
  return ctx.db.transaction(async (tx) => {
    const [request] = await tx.select().from(grantRequests).where(eq(grantRequests.id, requestId)).for("update");
    if (!request || (scopeOf(ctx.actor.permissions, "user:read") === "own-participant" && request.participantId !== ctx.actor.participantId)) {
      throw notFound();
    }
    if (request.requestedBy !== ctx.actor.userId) throw new AppError(403, "access.refused.notYourRequest");
    if (request.status !== "pending") throw new AppError(409, "access.refused.alreadyDecided");
    const [after] = await tx
      .update(grantRequests)
      .set({ status: "cancelled", decidedBy: ctx.actor.userId, decidedAt: new Date(), version: request.version + 1 })
      .where(eq(grantRequests.id, request.id))
      .returning();
    await appendAuditEvent(tx, ctx, {
      action: "role.grant.cancelled",
      entityType: "grant_request",
      entityId: request.id,
      participantId: request.participantId,
      changes: diffFields(request, after!, ["status"]),
      metadata: { userId: request.userId, roleCode: request.roleCode },
    });
    return after!;
  });
}

export interface NewGrant {
  userId: string;
  roleCode: string;
  participantId: string | null;
  validFrom: Date;
  validTo: Date | null;
  source: string;
  requestId: string | null;
  requestedBy: string | null;
  approvedBy: string | null;
  sodJustification: string | null;
}

export async function insertGrant(tx: Transaction, grant: NewGrant): Promise<RoleGrant> {
  const [row] = await tx
    .insert(roleGrants)
    .values({ id: randomUUID(), status: "active", createdAt: new Date(), ...grant })
    .returning();
  return row!;
}

/**
 * Ends a grant at once, with a reason (a participant administrator of its participant, or an officer). The last
 * active DA maker or checker of a participant cannot lose that role.
 */
export async function revokeGrant(ctx: ServiceContext, grantId: string, input: RevokeInput, options: { ticketRef?: string; onBehalfOf?: boolean } = {}): Promise<RoleGrant> {
  const data = validate(revokeSchema, input);
  return ctx.db.transaction(async (tx) => {
    const [grant] = await tx.select().from(roleGrants).where(eq(roleGrants.id, grantId));
    if (!grant || !grant.participantId) throw notFound();
    await userInScope(tx, ctx, grant.userId, "role:revoke");
    await lockParticipantAccess(tx, grant.participantId);
    return revokeInTx(tx, ctx, grant.id, data.reason, options);
  });
}

/** Revokes inside the caller's transaction (campaign decisions, resets); the caller holds the participant lock. */
export async function revokeInTx(
  tx: Transaction,
  ctx: ServiceContext,
  grantId: string,
  reason: string,
  options: { ticketRef?: string; onBehalfOf?: boolean } = {},
): Promise<RoleGrant> {
  const [grant] = await tx.select().from(roleGrants).where(eq(roleGrants.id, grantId)).for("update");
  if (!grant || !grant.participantId) throw notFound();
  if (grant.status !== "active") throw new AppError(409, "access.refused.alreadyRevoked");
  const now = new Date();
  const lost = lastAdministratorLost(await activeAdministrators(tx, grant.participantId, now), grant.userId, [grant.roleCode]);
  if (lost) throw new AppError(400, "access.refused.lastAdministrator", {}, { role: lost });
  const [after] = await tx
    .update(roleGrants)
    .set({ status: "revoked", revokedAt: now, revokedBy: ctx.actor.userId, revokeReason: reason })
    .where(eq(roleGrants.id, grant.id))
    .returning();
  await appendAuditEvent(tx, ctx, {
    action: "role.grant.revoked",
    entityType: "role_grant",
    entityId: grant.id,
    participantId: grant.participantId,
    reason,
    ticketRef: options.ticketRef ?? null,
    onBehalfOfUserId: options.onBehalfOf ? grant.userId : null,
    changes: diffFields(grant, after!, ["status", "revokedAt", "revokedBy"]),
    metadata: { userId: grant.userId, roleCode: grant.roleCode },
  });
  return after!;
}

/**
 * Reset to the baseline template of the user's participant type: every role outside it is revoked; no role is ever
 * added. Used by the helpdesk (with a ticket) and by participant administrators.
 */
export async function resetRolesToBaseline(
  ctx: ServiceContext,
  userId: string,
  input: TicketInput,
): Promise<{ revoked: string[] }> {
  const data = validate(ticketSchema, input);
  const capability = scopeOf(ctx.actor.permissions, "user:support") ? "user:support" : "role:revoke";
  return ctx.db.transaction(async (tx) => {
    const user = await userInScope(tx, ctx, userId, capability);
    return resetRolesToBaselineInTx(tx, ctx, user, data);
  });
}

/** Reset to baseline inside the caller's transaction (the helpdesk records its support action alongside). */
export async function resetRolesToBaselineInTx(
  tx: Transaction,
  ctx: ServiceContext,
  user: User,
  data: { ticketRef: string; reason: string },
): Promise<{ revoked: string[] }> {
  if (!user.participantId) throw new AppError(400, "support.refused.hkexUser");
  await lockParticipantAccess(tx, user.participantId);
  const [participant] = await tx.select().from(participants).where(eq(participants.id, user.participantId));
  const baseline = await tx
    .select({ roleCode: roleTemplateRoles.roleCode })
    .from(roleTemplateRoles)
    .innerJoin(roleTemplates, eq(roleTemplates.code, roleTemplateRoles.templateCode))
    .where(eq(roleTemplates.participantType, participant!.type));
  const now = new Date();
  const grants = await tx
    .select()
    .from(roleGrants)
    .where(and(eq(roleGrants.userId, user.id), eq(roleGrants.status, "active")));
  const removals = new Set(baselineRemovals([...new Set(grants.map((g) => g.roleCode))], baseline.map((b) => b.roleCode)));
  const lost = lastAdministratorLost(await activeAdministrators(tx, user.participantId, now), user.id, [...removals]);
  if (lost) throw new AppError(400, "access.refused.lastAdministrator", {}, { role: lost });
  for (const grant of grants.filter((g) => removals.has(g.roleCode))) {
    await revokeInTx(tx, ctx, grant.id, data.reason, { ticketRef: data.ticketRef, onBehalfOf: true });
  }
  // Requests for roles outside the baseline would undo the reset the moment a checker approved them.
  const baselineCodes = baseline.map((b) => b.roleCode);
  const withdrawn = (
    await tx
      .select({ id: grantRequests.id, roleCode: grantRequests.roleCode })
      .from(grantRequests)
      .where(and(eq(grantRequests.userId, user.id), eq(grantRequests.status, "pending")))
  ).filter((r) => !baselineCodes.includes(r.roleCode));
  if (withdrawn.length) {
    await tx
      .update(grantRequests)
      .set({ status: "cancelled", decidedBy: ctx.actor.userId, decidedAt: now, decisionComment: `Reset to baseline: ${data.reason}` })
      .where(inArray(grantRequests.id, withdrawn.map((w) => w.id)));
  }
  await appendAuditEvent(tx, ctx, {
    action: "user.roles.reset_to_baseline",
    entityType: "user",
    entityId: user.id,
    participantId: user.participantId,
    reason: data.reason,
    ticketRef: data.ticketRef,
    onBehalfOfUserId: user.id,
    metadata: { revoked: [...removals], withdrawnRequests: withdrawn.map((w) => w.roleCode), baseline: baselineCodes },
  });
  return { revoked: [...removals] };
}

export interface RequestRow extends GrantRequest {
  userName: string;
  userEmail: string;
  requestedByName: string | null;
  decidedByName: string | null;
}

/**
 * Queues: a checker's requests awaiting them (pending, of their participant, not theirs to decide when they asked
 * or are the user); a maker's own requests with their outcomes; or every request of the participant.
 */
export async function listRequests(
  ctx: ServiceContext,
  view: "awaiting-me" | "mine" | "all",
  options: { userId?: string; limit?: number } = {},
): Promise<RequestRow[]> {
  const scope = scopeOf(ctx.actor.permissions, "user:read");
  if (!scope) throw forbidden();
  const requester = users;
  const rows = await ctx.db
    .select({ request: grantRequests, userName: requester.displayName, userEmail: requester.email })
    .from(grantRequests)
    .innerJoin(requester, eq(requester.id, grantRequests.userId))
    .where(
      and(
        scope === "own-participant" ? eq(grantRequests.participantId, ctx.actor.participantId ?? "") : undefined,
        options.userId ? eq(grantRequests.userId, options.userId) : undefined,
        view === "awaiting-me"
          ? and(
              eq(grantRequests.status, "pending"),
              ne(grantRequests.userId, ctx.actor.userId ?? ""),
              or(ne(grantRequests.requestedBy, ctx.actor.userId ?? ""), isNull(grantRequests.requestedBy)),
            )
          : undefined,
        view === "mine" ? eq(grantRequests.requestedBy, ctx.actor.userId ?? "") : undefined,
      ),
    )
    .orderBy(view === "awaiting-me" ? asc(grantRequests.requestedAt) : desc(grantRequests.requestedAt))
    .limit(options.limit ?? 200);
  const ids = [...new Set(rows.flatMap((r) => [r.request.requestedBy, r.request.decidedBy]).filter((v): v is string => Boolean(v)))];
  const names = ids.length ? await ctx.db.select({ id: users.id, name: users.displayName }).from(users).where(inArray(users.id, ids)) : [];
  const nameOf = (id: string | null) => (id ? (names.find((n) => n.id === id)?.name ?? null) : null);
  return rows.map((r) => ({
    ...r.request,
    userName: r.userName,
    userEmail: r.userEmail,
    requestedByName: nameOf(r.request.requestedBy),
    decidedByName: nameOf(r.request.decidedBy),
  }));
}

/** A DA maker asks for a waiver of a rule for one user (the sole-proprietor exception); an officer decides. */
export async function requestWaiver(ctx: ServiceContext, input: WaiverRequestInput): Promise<SodWaiver> {
  const data = validate(waiverRequestSchema, input);
  return ctx.db.transaction(async (tx) => {
    const user = await userInScope(tx, ctx, data.userId, "waiver:request");
    if (!user.participantId) throw notFound();
    const [rule] = await tx.select().from(sodRules).where(eq(sodRules.id, data.ruleId));
    if (!rule || rule.kind !== "block_unless_waiver") throw new AppError(400, "error.badRequest", { ruleId: "access.error.notWaivable" });
    const [open] = await tx
      .select({ id: sodWaivers.id })
      .from(sodWaivers)
      .where(and(eq(sodWaivers.userId, user.id), eq(sodWaivers.ruleId, rule.id), inArray(sodWaivers.status, ["pending", "approved"])));
    if (open) throw new AppError(400, "access.refused.waiverExists");
    const [waiver] = await tx
      .insert(sodWaivers)
      .values({
        id: randomUUID(),
        participantId: user.participantId,
        userId: user.id,
        ruleId: rule.id,
        reason: data.reason,
        requestedBy: ctx.actor.userId,
        requestedAt: new Date(),
      })
      .returning();
    await appendAuditEvent(tx, ctx, {
      action: "sod.waiver.requested",
      entityType: "sod_waiver",
      entityId: waiver!.id,
      participantId: user.participantId,
      reason: data.reason,
      metadata: { userId: user.id, ruleId: rule.id },
    });
    return waiver!;
  });
}

/** An officer approves or rejects a waiver request. */
export async function decideWaiver(ctx: ServiceContext, waiverId: string, input: DecisionInput): Promise<SodWaiver> {
  const data = validate(decisionSchema, input);
  if (scopeOf(ctx.actor.permissions, "waiver:approve") !== "any") throw forbidden();
  return ctx.db.transaction(async (tx) => {
    const [waiver] = await tx.select().from(sodWaivers).where(eq(sodWaivers.id, waiverId)).for("update");
    if (!waiver) throw notFound();
    if (waiver.status !== "pending") throw new AppError(409, "access.refused.alreadyDecided");
    const [after] = await tx
      .update(sodWaivers)
      .set({
        status: data.decision === "approve" ? "approved" : "rejected",
        decidedBy: ctx.actor.userId,
        decidedAt: new Date(),
        decisionComment: data.comment,
        version: waiver.version + 1,
      })
      .where(eq(sodWaivers.id, waiver.id))
      .returning();
    await appendAuditEvent(tx, ctx, {
      action: data.decision === "approve" ? "sod.waiver.approved" : "sod.waiver.rejected",
      entityType: "sod_waiver",
      entityId: waiver.id,
      participantId: waiver.participantId,
      reason: data.comment,
      changes: diffFields(waiver, after!, ["status", "decidedBy"]),
      metadata: { userId: waiver.userId, ruleId: waiver.ruleId },
    });
    return after!;
  });
}

export async function listPendingWaivers(ctx: ServiceContext): Promise<(SodWaiver & { userName: string })[]> {
  if (scopeOf(ctx.actor.permissions, "waiver:approve") !== "any") return [];
  const rows = await ctx.db
    .select({ waiver: sodWaivers, userName: users.displayName })
    .from(sodWaivers)
    .innerJoin(users, eq(users.id, sodWaivers.userId))
    .where(eq(sodWaivers.status, "pending"))
    .orderBy(asc(sodWaivers.requestedAt));
  return rows.map((r) => ({ ...r.waiver, userName: r.userName }));
}
