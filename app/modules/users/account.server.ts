import { and, eq, sql } from "drizzle-orm";
import { users, type User } from "../../../db/schema";
import { AUTO_LOCK_REASON } from "~/auth/rules";
import type { CommandContext } from "../command.server";
import { SYSTEM_ACTOR } from "../context.server";

/**
 * The writes signing in makes to a user's account, for the sign-in commands (app/auth): the users module owns the
 * row; the sign-in rules decide when.
 */

/** Locks an active account whose sign-ins failed too often in a row; answers whether it did (once, under races). */
export async function lockAccount(cx: CommandContext, user: Pick<User, "id" | "participantId">): Promise<boolean> {
  const [locked] = await cx.tx
    .update(users)
    .set({ status: "locked", statusReason: AUTO_LOCK_REASON, statusChangedAt: cx.now, version: sql`${users.version} + 1`, updatedAt: cx.now })
    .where(and(eq(users.id, user.id), eq(users.status, "active")))
    .returning({ id: users.id });
  if (!locked) return false;
  cx.audit({
    action: "user.locked",
    entityType: "user",
    entityId: user.id,
    participantId: user.participantId,
    reason: AUTO_LOCK_REASON,
    changes: { status: { before: "active", after: "locked" } },
    actor: SYSTEM_ACTOR,
  });
  return true;
}

/** Unlocks an account locked by failed sign-ins once its cool-down has passed (the console does it, at sign-in). */
export async function unlockAfterCoolDown(cx: CommandContext, user: User): Promise<User> {
  const [after] = await cx.tx
    .update(users)
    .set({ status: "active", statusReason: "cool-down passed", statusChangedAt: cx.now, version: user.version + 1, updatedAt: cx.now })
    .where(and(eq(users.id, user.id), eq(users.status, "locked")))
    .returning();
  if (!after) return user;
  cx.audit({
    action: "user.unlocked",
    entityType: "user",
    entityId: user.id,
    participantId: user.participantId,
    reason: "cool-down passed",
    changes: { status: { before: "locked", after: "active" } },
    actor: SYSTEM_ACTOR,
  });
  return after;
}

/**
 * Records a second factor that passed: the time step whose code was accepted (never accepted again), the sign-in
 * time, and for a user enrolling, the key they proved.
 */
export async function recordSecondFactor(cx: CommandContext, user: Pick<User, "id">, step: number, enrolledSecret: string | null): Promise<void> {
  await cx.tx
    .update(users)
    .set({
      totpLastStep: step,
      lastSignInAt: cx.now,
      ...(enrolledSecret ? { totpSecret: enrolledSecret, mfaEnrolledAt: cx.now, version: sql`${users.version} + 1`, updatedAt: cx.now } : {}),
    })
    .where(eq(users.id, user.id));
}
