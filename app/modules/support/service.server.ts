import { eq } from "drizzle-orm";
import { sessions, supportActions, users } from "../../../db/schema";
import { scopeOf } from "~/auth/permissions";
import { AppError, forbidden } from "~/lib/errors";
import { validate } from "~/lib/validation";
import { appendAuditEvent, diffFields } from "../audit/service.server";
import type { ServiceContext } from "../context.server";
import { ticketSchema, type TicketInput } from "../roles/schemas";
import { resetRolesToBaselineInTx, userInScope } from "../roles/service.server";
import { issueLinks } from "../credentials/links.server";

export const SUPPORT_ACTIONS = ["unlock", "reset_roles", "reset_mfa", "password_reset", "revoke_sessions"] as const;
export type SupportAction = (typeof SUPPORT_ACTIONS)[number];

/**
 * A helpdesk action on a user (SPEC §4): each needs a ticket reference and a reason, is audited as done on behalf of
 * the user, is listed in the user's support history, and can never add a role.
 */
export async function performSupportAction(
  ctx: ServiceContext,
  userId: string,
  action: SupportAction,
  input: TicketInput,
): Promise<{ message: "support.done" }> {
  if (scopeOf(ctx.actor.permissions, "user:support") !== "any") throw forbidden();
  if (!(SUPPORT_ACTIONS as readonly string[]).includes(action)) throw new AppError(400, "error.badRequest", { action: "validation.invalid" });
  const data = validate(ticketSchema, input);
  return ctx.db.transaction(async (tx) => {
    const user = await userInScope(tx, ctx, userId, "user:support");
    const now = new Date();
    const audit = (eventAction: string, extra: Partial<Parameters<typeof appendAuditEvent>[2]> = {}) =>
      appendAuditEvent(tx, ctx, {
        action: eventAction,
        entityType: "user",
        entityId: user.id,
        participantId: user.participantId,
        reason: data.reason,
        ticketRef: data.ticketRef,
        onBehalfOfUserId: user.id,
        ...extra,
      });
    switch (action) {
      case "unlock": {
        if (user.status !== "locked") throw new AppError(400, "support.refused.notLocked");
        const [after] = await tx
          .update(users)
          .set({ status: "active", statusReason: data.reason, statusChangedAt: now, version: user.version + 1, updatedAt: now })
          .where(eq(users.id, user.id))
          .returning();
        await audit("user.unlocked", { changes: diffFields(user, after!, ["status"]) });
        break;
      }
      case "reset_roles":
        await resetRolesToBaselineInTx(tx, ctx, user, data);
        break;
      case "reset_mfa": {
        // The old key is forgotten: the next sign-in enrols a new one.
        await tx
          .update(users)
          .set({ mfaEnrolledAt: null, totpSecret: null, totpLastStep: null, version: user.version + 1, updatedAt: now })
          .where(eq(users.id, user.id));
        // Back to enrolment: existing sessions were made with the old second factor.
        await tx.delete(sessions).where(eq(sessions.userId, user.id));
        await audit("user.mfa.reset", { changes: { mfaEnrolled: { before: user.mfaEnrolledAt !== null, after: false } } });
        break;
      }
      case "password_reset":
        await audit("user.password_reset.requested");
        await issueLinks(tx, ctx, [user], "password_reset", { ticketRef: data.ticketRef });
        break;
      case "revoke_sessions": {
        const ended = await tx.delete(sessions).where(eq(sessions.userId, user.id)).returning({ id: sessions.id });
        await audit("auth.sessions.revoked", { metadata: { sessions: ended.length } });
        break;
      }
    }
    await tx.insert(supportActions).values({
      userId: user.id,
      action,
      ticketRef: data.ticketRef,
      reason: data.reason,
      performedBy: ctx.actor.userId,
      performedAt: now,
    });
    return { message: "support.done" as const };
  });
}

export async function supportHistory(ctx: ServiceContext, userId: string) {
  await userInScope(ctx.db, ctx, userId, "user:read");
  return ctx.db
    .select({ action: supportActions, performedByName: users.displayName })
    .from(supportActions)
    .leftJoin(users, eq(users.id, supportActions.performedBy))
    .where(eq(supportActions.userId, userId))
    .orderBy(supportActions.performedAt);
}
