import { eq } from "drizzle-orm";
import { z } from "zod";
import type { Database } from "../../db/client.server";
import { sessions, signInAttempts, users } from "../../db/schema";
import { defineCommand } from "~/modules/command.server";
import { recordSecondFactor } from "~/modules/users/account.server";
import { luciaFor, sessionCookieHeader } from "./lucia.server";
import { actorOf } from "./session.server";
import { hasSecondFactor, lockAfterTooManyFailures, signInContext, throttleWait, type SignInEnv } from "./sign-in.server";
import {
  MAX_CODE_FAILURES_PER_SESSION,
  checkTotpCode,
  groupedKey,
  totpQrDataUrl,
} from "./totp.server";

export type SecondFactorResult =
  | { ok: true; setCookie: string }
  | { ok: false; reason: "wrong-code" | "code-already-used"; attemptsLeft: number }
  | { ok: false; reason: "throttled"; retryAfterSeconds: number }
  /** The sign-in is over (too many wrong codes, account locked, session gone): start again with the password. */
  | { ok: false; reason: "start-again" };

/** What the enrolment page shows: the key as a QR code and as text. Only ever to the session it was made for. */
export interface EnrolmentOffer {
  account: string;
  qrImage: string;
  key: string;
}

export async function enrolmentOffer(db: Database, sessionId: string): Promise<EnrolmentOffer | null> {
  const [row] = await db
    .select({ secret: sessions.mfaPendingSecret, email: users.email })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(eq(sessions.id, sessionId))
    .limit(1);
  if (!row?.secret) return null;
  return {
    account: row.email,
    qrImage: await totpQrDataUrl(row.secret, row.email),
    key: groupedKey(row.secret),
  };
}

/**
 * The second step of signing in: a code from the user's authenticator. For a user who has not enrolled yet the
 * code proves the key offered on the enrolment page was set up, and enrols it. A code is accepted once: the step
 * it belongs to is stored on the user row, locked for the check, so two requests racing with one code cannot both
 * pass. On success the half-signed-in session is replaced by a new one (a new id for the new privilege). Every
 * outcome is audited; the key and the code never are.
 */
const verifySecondFactorCommand = defineCommand({
  name: "auth.verifySecondFactor",
  permission: "public",
  input: z.object({ sessionId: z.string().max(200), code: z.string().max(200), secureCookie: z.boolean() }),
  events: ["auth.mfa.failed", "auth.session.ended", "auth.mfa.enrolled", "auth.sign_in.succeeded", "user.locked"],
  async tenant(tx, input) {
    const [row] = await tx
      .select({ participantId: users.participantId })
      .from(sessions)
      .innerJoin(users, eq(users.id, sessions.userId))
      .where(eq(sessions.id, input.sessionId))
      .limit(1);
    return row?.participantId ?? null;
  },
  lockParticipant: false,
  async run(cx): Promise<SecondFactorResult> {
    const { tx, input, now } = cx;
    const ip = cx.ctx.ip ?? "unknown";
    const [session] = await tx.select().from(sessions).where(eq(sessions.id, input.sessionId)).for("update").limit(1);
    if (!session) return { ok: false, reason: "start-again" };
    const [user] = await tx.select().from(users).where(eq(users.id, session.userId)).for("update").limit(1);
    if (!user) return { ok: false, reason: "start-again" };
    // Throttled like the password, on the same attempts (the login name is the stored, lower-cased email).
    const key = user.email;
    const wait = await throttleWait(tx, key, ip, now);
    const actor = await actorOf(tx, user, now, session.id);
    const audit = (action: "auth.mfa.failed" | "auth.mfa.enrolled" | "auth.sign_in.succeeded" | "auth.session.ended", extra: { reason?: string; metadata?: Record<string, unknown>; entityType?: string } = {}) =>
      cx.audit({ action, entityType: "user", entityId: user.id, participantId: user.participantId, actor, ...extra });

    if (wait > 0) {
      cx.audit({ action: "auth.mfa.failed", entityType: "user", entityId: user.id, participantId: user.participantId, actorName: null, reason: "throttled" });
      return { ok: false, reason: "throttled", retryAfterSeconds: Math.ceil(wait / 1000) };
    }

    const enrolling = !hasSecondFactor(user);
    const secret = enrolling ? session.mfaPendingSecret : user.totpSecret;
    if (!secret || user.status !== "active") {
      await tx.delete(sessions).where(eq(sessions.id, session.id));
      return { ok: false, reason: "start-again" };
    }

    const verdict = checkTotpCode(secret, input.code, enrolling ? null : user.totpLastStep, now);
    if (!verdict.ok) {
      const failures = session.mfaFailures + 1;
      await tx.insert(signInAttempts).values({ emailKey: key, ip, succeeded: false, attemptedAt: now });
      audit("auth.mfa.failed", { reason: verdict.reason, metadata: { enrolling, failures } });
      const locked = await lockAfterTooManyFailures(cx, user, key);
      if (locked || failures >= MAX_CODE_FAILURES_PER_SESSION) {
        await tx.delete(sessions).where(eq(sessions.id, session.id));
        audit("auth.session.ended", { entityType: "session", reason: locked ? "account-locked" : "too-many-wrong-codes" });
        return { ok: false, reason: "start-again" };
      }
      await tx.update(sessions).set({ mfaFailures: failures }).where(eq(sessions.id, session.id));
      return { ok: false, reason: verdict.reason, attemptsLeft: MAX_CODE_FAILURES_PER_SESSION - failures };
    }

    await recordSecondFactor(cx, user, verdict.step, enrolling ? secret : null);
    await tx.insert(signInAttempts).values({ emailKey: key, ip, succeeded: true, attemptedAt: now });
    // A new session id for the fully signed-in session: one learnt before the second factor is worth nothing.
    await tx.delete(sessions).where(eq(sessions.id, session.id));
    const fresh = await luciaFor(tx, input.secureCookie).createSession(user.id, {
      absoluteExpiresAt: session.absoluteExpiresAt,
      lastSeenAt: now,
      ip,
      userAgent: cx.ctx.userAgent,
      mfaPendingSecret: null,
      mfaVerifiedAt: now,
    });
    actor.sessionId = fresh.id;
    if (enrolling) audit("auth.mfa.enrolled", { metadata: { method: "totp" } });
    audit("auth.sign_in.succeeded", { metadata: { personas: actor.personas, secondFactor: "totp" } });
    return { ok: true, setCookie: sessionCookieHeader(tx, input.secureCookie, fresh.id) };
  },
});

export function verifySecondFactor(env: SignInEnv, sessionId: string, code: string): Promise<SecondFactorResult> {
  return verifySecondFactorCommand(signInContext(env), { sessionId, code, secureCookie: env.secureCookie });
}
