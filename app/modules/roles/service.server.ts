import { randomUUID } from "node:crypto";
import { and, asc, desc, eq, inArray, isNull, ne, or } from "drizzle-orm";
import { z } from "zod";
import type { DbOrTx, Transaction } from "../../../db/client.server";
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
import { AppError, notFound } from "~/lib/errors";
import { diffFields } from "../audit/service.server";
import { defineCommand, type CommandContext } from "../command.server";
import type { ServiceContext } from "../context.server";
import { assertTenant, mayOn, whereTenant } from "../tenancy.server";
import { findUser, participantOfUser, userVisibleTo } from "../users/lookup.server";
import { activeAdministrators } from "./facts.server";
import { assertSeparationOfDuties, grantableRole, grantRoles, requestRoles, revokeGrants, withdrawPendingRequestsOf } from "./grants.server";
import { baselineRemovals, decisionRefusal, lastAdministratorLost } from "./rules";
import { decisionSchema, grantRequestSchema, revokeSchema, ticketSchema, waiverRequestSchema } from "./schemas";

const id = z.string({ error: "validation.required" }).min(1, { error: "validation.required" }).max(100, { error: "validation.invalid" });

async function participantOfRequest(tx: Transaction, requestId: string): Promise<string> {
  const [row] = await tx.select({ participantId: grantRequests.participantId }).from(grantRequests).where(eq(grantRequests.id, requestId));
  if (!row) throw notFound();
  return row.participantId;
}

/** A DA maker asks for a role for one of their participant's users; a checker decides. */
export const requestGrant = defineCommand({
  name: "roles.requestGrant",
  permission: "role:request",
  input: grantRequestSchema,
  events: ["role.grant.requested"],
  tenant: (tx, input) => participantOfUser(tx, input.userId),
  async run(cx): Promise<GrantRequest> {
    const { input } = cx;
    const user = await findUser(cx.tx, input.userId);
    if (user.status === "deactivated") throw new AppError(400, "access.refused.userDeactivated");
    await grantableRole(cx.tx, input.roleCode, "participant");
    const assignment = { userId: user.id, roleCode: input.roleCode, participantId: user.participantId!, validFrom: input.validFrom, validTo: input.validTo, justification: input.justification };
    const sod = await assertSeparationOfDuties(cx.tx, assignment, cx.now);
    if (sod.alreadyHeld) throw new AppError(400, "access.refused.alreadyHeld", { roleCode: "access.refused.alreadyHeld" });
    const [pending] = await cx.tx
      .select({ id: grantRequests.id })
      .from(grantRequests)
      .where(and(eq(grantRequests.userId, user.id), eq(grantRequests.roleCode, input.roleCode), eq(grantRequests.status, "pending")));
    if (pending) throw new AppError(400, "access.refused.alreadyRequested", { roleCode: "access.refused.alreadyRequested" });
    const [request] = await requestRoles(cx, [{ ...assignment, justification: sod.warnings.length ? input.justification : null, sodWarnings: sod.warnings.map((w) => w.id) }], { source: "request" });
    return request!;
  },
});

/**
 * A DA checker of the same participant approves or rejects a pending request. The request row is locked, so of two
 * checkers deciding at the same moment one wins and the other is told it is already decided (409).
 */
export const decideRequest = defineCommand({
  name: "roles.decideRequest",
  permission: "role:approve",
  refusal: "access.refused.checkerOnly",
  input: decisionSchema.extend({ requestId: id }),
  events: ["role.grant.approved", "role.grant.rejected", "role.grant.created"],
  tenant: (tx, input) => participantOfRequest(tx, input.requestId),
  async run(cx): Promise<GrantRequest> {
    const { input, actor } = cx;
    const [request] = await cx.tx.select().from(grantRequests).where(eq(grantRequests.id, input.requestId)).for("update");
    if (!request) throw notFound();
    const refusal = decisionRefusal({
      requestStatus: request.status,
      requestParticipantId: request.participantId,
      requestedBy: request.requestedBy,
      targetUserId: request.userId,
      deciderId: actor.userId ?? "",
      deciderParticipantId: actor.participantId,
    });
    if (refusal === "error.notFound") throw notFound();
    if (refusal === "access.refused.alreadyDecided") throw new AppError(409, refusal);
    if (refusal) throw new AppError(403, refusal);
    const approve = input.decision === "approve";
    const grantId = approve ? randomUUID() : null;
    const assignment = {
      id: grantId ?? undefined,
      userId: request.userId,
      roleCode: request.roleCode,
      participantId: request.participantId,
      validFrom: request.validFrom,
      validTo: request.validTo,
      justification: request.sodJustification,
    };
    if (approve) {
      const target = await findUser(cx.tx, request.userId);
      if (target.status === "deactivated") throw new AppError(400, "access.refused.userDeactivated");
      // A request whose validity ended while it waited would grant nothing: refuse rather than record an empty grant.
      if (request.validTo && request.validTo <= cx.now) throw new AppError(400, "access.refused.windowEnded");
      // Rules may have changed since the request: check again at the moment of approval.
      const sod = await assertSeparationOfDuties(cx.tx, assignment, cx.now, { approving: true });
      if (sod.alreadyHeld) throw new AppError(400, "access.refused.alreadyHeld");
    }
    const [after] = await cx.tx
      .update(grantRequests)
      .set({ status: approve ? "approved" : "rejected", decidedBy: actor.userId, decidedAt: cx.now, decisionComment: input.comment, grantId, version: request.version + 1 })
      .where(eq(grantRequests.id, request.id))
      .returning();
    cx.audit({
      action: approve ? "role.grant.approved" : "role.grant.rejected",
      entityType: "grant_request",
      entityId: request.id,
      participantId: request.participantId,
      reason: input.comment,
      changes: diffFields(request, after!, ["status", "decidedBy", "decisionComment"]),
      metadata: { userId: request.userId, roleCode: request.roleCode },
    });
    if (approve) {
      await grantRoles(cx, [assignment], { source: request.source, requestId: request.id, requestedBy: request.requestedBy, approvedBy: actor.userId });
    }
    return after!;
  },
});

/** The maker who asked may withdraw a pending request. */
export const cancelRequest = defineCommand({
  name: "roles.cancelRequest",
  permission: "role:request",
  refusal: "access.refused.notYourRequest",
  input: z.object({ requestId: id }),
  events: ["role.grant.cancelled"],
  tenant: (tx, input) => participantOfRequest(tx, input.requestId),
  async run(cx): Promise<GrantRequest> {
    const [request] = await cx.tx.select().from(grantRequests).where(eq(grantRequests.id, cx.input.requestId)).for("update");
    if (!request) throw notFound();
    if (request.requestedBy !== cx.actor.userId) throw new AppError(403, "access.refused.notYourRequest");
    if (request.status !== "pending") throw new AppError(409, "access.refused.alreadyDecided");
    const [after] = await cx.tx
      .update(grantRequests)
      .set({ status: "cancelled", decidedBy: cx.actor.userId, decidedAt: cx.now, version: request.version + 1 })
      .where(eq(grantRequests.id, request.id))
      .returning();
    cx.audit({
      action: "role.grant.cancelled",
      entityType: "grant_request",
      entityId: request.id,
      participantId: request.participantId,
      changes: diffFields(request, after!, ["status"]),
      metadata: { userId: request.userId, roleCode: request.roleCode },
    });
    return after!;
  },
});

/**
 * Ends a grant at once, with a reason (a participant administrator of its participant, or an officer). The last
 * active DA maker or checker of a participant cannot lose that role.
 */
export const revokeGrant = defineCommand({
  name: "roles.revokeGrant",
  permission: "role:revoke",
  input: revokeSchema.extend({ grantId: id }),
  events: ["role.grant.revoked"],
  async tenant(tx, input) {
    const [grant] = await tx.select({ participantId: roleGrants.participantId }).from(roleGrants).where(eq(roleGrants.id, input.grantId));
    // HKEX staff's grants are not managed here.
    if (!grant?.participantId) throw notFound();
    return grant.participantId;
  },
  async run(cx): Promise<RoleGrant> {
    const [ended] = await revokeGrants(cx, [cx.input.grantId], { reason: cx.input.reason });
    return ended!;
  },
});

export const RESET_TO_BASELINE_EVENTS = ["role.grant.revoked", "user.roles.reset_to_baseline"] as const;

export interface ResetPlan {
  /** Active grants outside the baseline: revoked. */
  revoke: RoleGrant[];
  /** Pending requests for roles outside the baseline: withdrawn (approving them would undo the reset). */
  withdraw: GrantRequest[];
  /** The participant type's baseline roles. */
  baseline: string[];
}

/** What a reset to baseline would do to this user now: the one computation the preview and the reset share. */
async function planReset(db: DbOrTx, user: User): Promise<ResetPlan> {
  if (!user.participantId) throw new AppError(400, "support.refused.hkexUser");
  const [participant] = await db.select({ type: participants.type }).from(participants).where(eq(participants.id, user.participantId));
  const baseline = (
    await db
      .select({ roleCode: roleTemplateRoles.roleCode })
      .from(roleTemplateRoles)
      .innerJoin(roleTemplates, eq(roleTemplates.code, roleTemplateRoles.templateCode))
      .where(eq(roleTemplates.participantType, participant!.type))
  ).map((b) => b.roleCode);
  const grants = await db
    .select()
    .from(roleGrants)
    .where(and(eq(roleGrants.userId, user.id), eq(roleGrants.status, "active")));
  const removals = new Set(baselineRemovals([...new Set(grants.map((g) => g.roleCode))], baseline));
  const pending = await db
    .select()
    .from(grantRequests)
    .where(and(eq(grantRequests.userId, user.id), eq(grantRequests.status, "pending")));
  return { revoke: grants.filter((g) => removals.has(g.roleCode)), withdraw: pending.filter((r) => !baseline.includes(r.roleCode)), baseline };
}

/** The preview a helpdesk agent or administrator sees before confirming a reset: role names in both languages. */
export async function previewResetToBaseline(ctx: ServiceContext, userId: string) {
  const user = await userVisibleTo(ctx.db, ctx.actor, userId, mayOn(ctx.actor, "user:support", null) ? "user:support" : "role:revoke");
  const plan = await planReset(ctx.db, user);
  const named = await ctx.db.select({ code: roles.code, nameEn: roles.nameEn, nameZh: roles.nameZh }).from(roles);
  const name = (code: string) => named.find((r) => r.code === code) ?? { code, nameEn: code, nameZh: code };
  const kept = (
    await ctx.db
      .select({ roleCode: roleGrants.roleCode })
      .from(roleGrants)
      .where(and(eq(roleGrants.userId, user.id), eq(roleGrants.status, "active")))
  )
    .map((g) => g.roleCode)
    .filter((code) => plan.baseline.includes(code));
  return {
    user: { displayName: user.displayName, email: user.email },
    revoke: plan.revoke.map((g) => name(g.roleCode)),
    withdraw: plan.withdraw.map((r) => name(r.roleCode)),
    keep: [...new Set(kept)].map(name),
  };
}

/**
 * Reset to the baseline template of the user's participant type, inside a command (the helpdesk's support action,
 * or a participant administrator's): every role outside it is revoked and pending requests for such roles are
 * withdrawn; no role is ever added.
 */
export async function resetToBaselineIn(cx: CommandContext, user: User, data: { ticketRef: string; reason: string }): Promise<{ revoked: string[] }> {
  const plan = await planReset(cx.tx, user);
  const removals = [...new Set(plan.revoke.map((g) => g.roleCode))];
  const lost = lastAdministratorLost(await activeAdministrators(cx.tx, user.participantId!, cx.now), user.id, removals);
  if (lost) throw new AppError(400, "access.refused.lastAdministrator", {}, { role: lost });
  await revokeGrants(cx, plan.revoke.map((g) => g.id), { reason: data.reason, ticketRef: data.ticketRef });
  const withdrawn = await withdrawPendingRequestsOf(cx, user.id, `Reset to baseline: ${data.reason}`, plan.baseline);
  cx.audit({
    action: "user.roles.reset_to_baseline",
    entityType: "user",
    entityId: user.id,
    participantId: user.participantId,
    reason: data.reason,
    ticketRef: data.ticketRef,
    onBehalfOfUserId: user.id,
    metadata: { revoked: removals, withdrawnRequests: withdrawn.map((w) => w.roleCode), baseline: plan.baseline },
  });
  return { revoked: removals };
}

/** Reset to baseline by a participant administrator (the helpdesk's goes through its support action). */
export const resetRolesToBaseline = defineCommand({
  name: "roles.resetToBaseline",
  permission: (_input, actor) => (mayOn(actor, "user:support", null) ? "user:support" : "role:revoke"),
  input: ticketSchema.extend({ userId: id }),
  events: RESET_TO_BASELINE_EVENTS,
  tenant: (tx, input) => participantOfUser(tx, input.userId),
  async run(cx) {
    return resetToBaselineIn(cx, await findUser(cx.tx, cx.input.userId), cx.input);
  },
});

/** A DA maker asks for a waiver of a rule for one user (the sole-proprietor exception); an officer decides. */
export const requestWaiver = defineCommand({
  name: "roles.requestWaiver",
  permission: "waiver:request",
  input: waiverRequestSchema,
  events: ["sod.waiver.requested"],
  tenant: (tx, input) => participantOfUser(tx, input.userId),
  async run(cx): Promise<SodWaiver> {
    const { input } = cx;
    const user = await findUser(cx.tx, input.userId);
    const [rule] = await cx.tx.select().from(sodRules).where(eq(sodRules.id, input.ruleId));
    if (!rule || rule.kind !== "block_unless_waiver") throw new AppError(400, "error.badRequest", { ruleId: "access.error.notWaivable" });
    const [open] = await cx.tx
      .select({ id: sodWaivers.id })
      .from(sodWaivers)
      .where(and(eq(sodWaivers.userId, user.id), eq(sodWaivers.ruleId, rule.id), inArray(sodWaivers.status, ["pending", "approved"])));
    if (open) throw new AppError(400, "access.refused.waiverExists");
    const [waiver] = await cx.tx
      .insert(sodWaivers)
      .values({ id: randomUUID(), participantId: user.participantId!, userId: user.id, ruleId: rule.id, reason: input.reason, requestedBy: cx.actor.userId, requestedAt: cx.now })
      .returning();
    cx.audit({
      action: "sod.waiver.requested",
      entityType: "sod_waiver",
      entityId: waiver!.id,
      participantId: user.participantId,
      reason: input.reason,
      metadata: { userId: user.id, ruleId: rule.id },
    });
    return waiver!;
  },
});

/** An officer approves or rejects a waiver request. */
export const decideWaiver = defineCommand({
  name: "roles.decideWaiver",
  permission: "waiver:approve",
  input: decisionSchema.extend({ waiverId: id }),
  events: ["sod.waiver.approved", "sod.waiver.rejected"],
  async tenant(tx, input) {
    const [row] = await tx.select({ participantId: sodWaivers.participantId }).from(sodWaivers).where(eq(sodWaivers.id, input.waiverId));
    if (!row) throw notFound();
    return row.participantId;
  },
  async run(cx): Promise<SodWaiver> {
    const { input } = cx;
    const [waiver] = await cx.tx.select().from(sodWaivers).where(eq(sodWaivers.id, input.waiverId)).for("update");
    if (!waiver) throw notFound();
    if (waiver.status !== "pending") throw new AppError(409, "access.refused.alreadyDecided");
    const approve = input.decision === "approve";
    const [after] = await cx.tx
      .update(sodWaivers)
      .set({ status: approve ? "approved" : "rejected", decidedBy: cx.actor.userId, decidedAt: cx.now, decisionComment: input.comment, version: waiver.version + 1 })
      .where(eq(sodWaivers.id, waiver.id))
      .returning();
    cx.audit({
      action: approve ? "sod.waiver.approved" : "sod.waiver.rejected",
      entityType: "sod_waiver",
      entityId: waiver.id,
      participantId: waiver.participantId,
      reason: input.comment,
      changes: diffFields(waiver, after!, ["status", "decidedBy"]),
      metadata: { userId: waiver.userId, ruleId: waiver.ruleId },
    });
    return after!;
  },
});

/** A grant as a confirmation names it: the role in both languages and whose it is. */
export async function describeGrant(ctx: ServiceContext, grantId: string) {
  const [row] = await ctx.db
    .select({ grant: roleGrants, nameEn: roles.nameEn, nameZh: roles.nameZh, userName: users.displayName })
    .from(roleGrants)
    .innerJoin(roles, eq(roles.code, roleGrants.roleCode))
    .innerJoin(users, eq(users.id, roleGrants.userId))
    .where(eq(roleGrants.id, grantId));
  if (!row?.grant.participantId) throw notFound();
  assertTenant(ctx.actor, "role:revoke", row.grant.participantId);
  return { roleNameEn: row.nameEn, roleNameZh: row.nameZh, userName: row.userName };
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
  const me = ctx.actor.userId ?? "";
  const rows = await ctx.db
    .select({ request: grantRequests, userName: users.displayName, userEmail: users.email })
    .from(grantRequests)
    .innerJoin(users, eq(users.id, grantRequests.userId))
    .where(
      and(
        whereTenant(ctx.actor, "user:read", grantRequests.participantId),
        options.userId ? eq(grantRequests.userId, options.userId) : undefined,
        view === "awaiting-me"
          ? and(eq(grantRequests.status, "pending"), ne(grantRequests.userId, me), or(ne(grantRequests.requestedBy, me), isNull(grantRequests.requestedBy)))
          : undefined,
        view === "mine" ? eq(grantRequests.requestedBy, me) : undefined,
      ),
    )
    .orderBy(view === "awaiting-me" ? asc(grantRequests.requestedAt) : desc(grantRequests.requestedAt))
    .limit(options.limit ?? 200);
  const ids = [...new Set(rows.flatMap((r) => [r.request.requestedBy, r.request.decidedBy]).filter((v): v is string => Boolean(v)))];
  const names = ids.length ? await ctx.db.select({ id: users.id, name: users.displayName }).from(users).where(inArray(users.id, ids)) : [];
  const nameOf = (userId: string | null) => (userId ? (names.find((n) => n.id === userId)?.name ?? null) : null);
  return rows.map((r) => ({
    ...r.request,
    userName: r.userName,
    userEmail: r.userEmail,
    requestedByName: nameOf(r.request.requestedBy),
    decidedByName: nameOf(r.request.decidedBy),
  }));
}

/** Waiver requests for officers to decide (empty for anyone who may not decide them). */
export async function listPendingWaivers(ctx: ServiceContext): Promise<(SodWaiver & { userName: string })[]> {
  if (!mayOn(ctx.actor, "waiver:approve", null)) return [];
  const rows = await ctx.db
    .select({ waiver: sodWaivers, userName: users.displayName })
    .from(sodWaivers)
    .innerJoin(users, eq(users.id, sodWaivers.userId))
    .where(eq(sodWaivers.status, "pending"))
    .orderBy(asc(sodWaivers.requestedAt));
  return rows.map((r) => ({ ...r.waiver, userName: r.userName }));
}
