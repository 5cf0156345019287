import { and, count, desc, eq, sql } from "drizzle-orm";
import { likePattern } from "~/lib/like";
import { mayOn, whereTenant } from "../tenancy.server";
import { z } from "zod";
import { supportActions, users } from "../../../db/schema";
import { endSessionsOf } from "~/auth/session.server";
import { AppError } from "~/lib/errors";
import { diffFields, type AuditEventInput } from "../audit/service.server";
import { defineCommand } from "../command.server";
import type { ServiceContext } from "../context.server";
import { ticketSchema } from "../roles/schemas";
import { RESET_TO_BASELINE_EVENTS, resetToBaselineIn } from "../roles/service.server";
import { issueLinks } from "./links.server";
import { findUser, participantOfUser, userVisibleTo } from "./lookup.server";

export const SUPPORT_ACTIONS = ["unlock", "reset_roles", "reset_mfa", "password_reset", "revoke_sessions"] as const;
export type SupportAction = (typeof SUPPORT_ACTIONS)[number];

/**
 * A helpdesk action on a user (SPEC §4): each needs a ticket reference and a reason, is audited as done on behalf of
 * the user, is listed in the user's support history, and can never add a role.
 */
export const performSupportAction = defineCommand({
  name: "users.support",
  permission: "user:support",
  input: ticketSchema.extend({
    userId: z.string().min(1).max(100),
    action: z.enum(SUPPORT_ACTIONS, { error: "validation.invalid" }),
  }),
  events: ["user.unlocked", "user.mfa.reset", "user.password_reset.requested", "user.password_reset.issued", "auth.sessions.revoked", ...RESET_TO_BASELINE_EVENTS],
  tenant: (tx, input) => participantOfUser(tx, input.userId),
  async run(cx): Promise<{ message: "support.done" }> {
    const { tx, input: data, now } = cx;
    // Nobody supports themselves: another agent takes the ticket (separation of duties).
    if (data.userId === cx.actor.userId) throw new AppError(403, "support.refused.self");
    const user = await findUser(tx, data.userId, { lock: true });
    const audit = (action: AuditEventInput["action"], extra: Partial<AuditEventInput> = {}) =>
      cx.audit({
        action,
        entityType: "user",
        entityId: user.id,
        participantId: user.participantId,
        reason: data.reason,
        ticketRef: data.ticketRef,
        onBehalfOfUserId: user.id,
        ...extra,
      });
    switch (data.action) {
      case "unlock": {
        if (user.status !== "locked") throw new AppError(400, "support.refused.notLocked");
        const [after] = await tx
          .update(users)
          .set({ status: "active", statusReason: data.reason, statusChangedAt: now, version: user.version + 1, updatedAt: now })
          .where(eq(users.id, user.id))
          .returning();
        audit("user.unlocked", { changes: diffFields(user, after!, ["status"]) });
        break;
      }
      case "reset_roles":
        await resetToBaselineIn(cx, user, data);
        break;
      case "reset_mfa": {
        // The old key is forgotten: the next sign-in enrols a new one.
        await tx
          .update(users)
          .set({ mfaEnrolledAt: null, totpSecret: null, totpLastStep: null, version: user.version + 1, updatedAt: now })
          .where(eq(users.id, user.id));
        // Back to enrolment: existing sessions were made with the old second factor.
        await endSessionsOf(tx, user.id);
        audit("user.mfa.reset", { changes: { mfaEnrolled: { before: user.mfaEnrolledAt !== null, after: false } } });
        break;
      }
      case "password_reset":
        audit("user.password_reset.requested");
        await issueLinks(cx, [user], "password_reset", { ticketRef: data.ticketRef });
        break;
      case "revoke_sessions": {
        const ended = await endSessionsOf(tx, user.id);
        audit("auth.sessions.revoked", { metadata: { sessions: ended } });
        break;
      }
    }
    await tx.insert(supportActions).values({
      userId: user.id,
      action: data.action,
      ticketRef: data.ticketRef,
      reason: data.reason,
      performedBy: cx.actor.userId,
      performedAt: now,
    });
    return { message: "support.done" as const };
  },
});

export async function supportHistory(ctx: ServiceContext, userId: string) {
  await userVisibleTo(ctx.db, ctx.actor, userId, "user:read");
  return ctx.db
    .select({ action: supportActions, performedByName: users.displayName })
    .from(supportActions)
    .leftJoin(users, eq(users.id, supportActions.performedBy))
    .where(eq(supportActions.userId, userId))
    .orderBy(supportActions.performedAt);
}

/** Support actions whose ticket reference contains `q` (global search), with the user they were for, in scope. */
export async function searchTickets(ctx: ServiceContext, q: string, limit: number) {
  if (!mayOn(ctx.actor, "user:read", ctx.actor.participantId)) return { rows: [], total: 0 };
  const where = and(whereTenant(ctx.actor, "user:read", users.participantId), sql`lower(${supportActions.ticketRef}) like ${likePattern(q)} escape '\\'`);
  const [{ total } = { total: 0 }] = await ctx.db.select({ total: count() }).from(supportActions).innerJoin(users, eq(users.id, supportActions.userId)).where(where);
  const rows = await ctx.db
    .select({ ticketRef: supportActions.ticketRef, action: supportActions.action, performedAt: supportActions.performedAt, userId: users.id, userName: users.displayName })
    .from(supportActions)
    .innerJoin(users, eq(users.id, supportActions.userId))
    .where(where)
    .orderBy(desc(supportActions.performedAt), desc(supportActions.id))
    .limit(limit);
  return { rows, total: Number(total) };
}
