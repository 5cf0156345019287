import { and, count, eq, gt, max, min } from "drizzle-orm";
import type { Database, DbOrTx } from "../../db/client.server";
import type { AppContext } from "~/context";
import { signInAttempts, users } from "../../db/schema";
import { appendAuditEvent } from "~/modules/audit/service.server";
import { SYSTEM_ACTOR, type Actor } from "~/modules/context.server";
import { luciaFor, sessionCookieHeader } from "./lucia.server";
import { verifyPassword } from "./password.server";
import { primaryPersona } from "./permissions";
import { newTotpSecret } from "./totp.server";
import {
  ABSOLUTE_LIFETIME_MS,
  ACCOUNT_THROTTLE,
  AUTO_LOCK_REASON,
  LOCK_AFTER_FAILURES,
  LOCK_COOL_DOWN_MS,
  ADDRESS_THROTTLE,
  emailKey,
  throttleWaitMs,
  type FailureHistory,
} from "./rules";
import { actorOf, consolePersonasOf } from "./session.server";

export interface SignInInput {
  email: string;
  password: string;
}

export interface SignInEnv {
  db: Database;
  secureCookie: boolean;
  demoMode: boolean;
  requestId: string | null;
  ip: string;
  userAgent: string | null;
}

/** The sign-in environment of a request: its database, cookie and demo settings, and where it came from. */
export function signInEnvOf(context: AppContext): SignInEnv {
  return {
    db: context.db,
    secureCookie: context.config.cookieSecure,
    demoMode: context.config.demoMode,
    requestId: context.requestId,
    ip: context.clientIp,
    userAgent: context.userAgent,
  };
}

export type SignInResult =
  | { ok: true; setCookie: string; actor: Actor; next: "verify" | "enrol" }
  | { ok: false; reason: "invalid" }
  | { ok: false; reason: "throttled"; retryAfterSeconds: number };

const HOUR_MS = 60 * 60 * 1000;

async function failureHistory(
  db: DbOrTx,
  column: typeof signInAttempts.emailKey | typeof signInAttempts.ip,
  key: string,
  now: Date,
): Promise<FailureHistory> {
  const since = new Date(now.getTime() - HOUR_MS);
  const [success] = await db
    .select({ at: max(signInAttempts.attemptedAt) })
    .from(signInAttempts)
    .where(and(eq(column, key), eq(signInAttempts.succeeded, true), gt(signInAttempts.attemptedAt, since)));
  const lastSuccess = success?.at ? new Date(success.at) : since;
  const [inHour] = await db
    .select({ n: count(), oldest: min(signInAttempts.attemptedAt), latest: max(signInAttempts.attemptedAt) })
    .from(signInAttempts)
    .where(and(eq(column, key), eq(signInAttempts.succeeded, false), gt(signInAttempts.attemptedAt, since)));
  const [consecutive] = await db
    .select({ n: count() })
    .from(signInAttempts)
    .where(
      and(eq(column, key), eq(signInAttempts.succeeded, false), gt(signInAttempts.attemptedAt, lastSuccess)),
    );
  return {
    consecutiveFailures: Number(consecutive?.n ?? 0),
    lastFailureAt: inHour?.latest ? new Date(inHour.latest) : null,
    failuresInHour: Number(inHour?.n ?? 0),
    oldestFailureInHourAt: inHour?.oldest ? new Date(inHour.oldest) : null,
  };
}

/** How long an attempt for this login name from this address must still wait: the longer of the two throttles. */
export async function throttleWait(db: DbOrTx, key: string, ip: string, now: Date): Promise<number> {
  return Math.max(
    throttleWaitMs(ACCOUNT_THROTTLE, await failureHistory(db, signInAttempts.emailKey, key, now), now),
    throttleWaitMs(ADDRESS_THROTTLE, await failureHistory(db, signInAttempts.ip, ip, now), now),
  );
}

/** Whether the user has an authenticator: a key, and its enrolment proved by a code. */
export function hasSecondFactor(user: { mfaEnrolledAt: Date | null; totpSecret: string | null }): boolean {
  return user.mfaEnrolledAt !== null && user.totpSecret !== null;
}

/**
 * Locks an active account whose sign-ins have failed too often in a row (wrong passwords and wrong codes alike),
 * until the cool-down passes or the helpdesk unlocks it. Its sessions end at their next request (session.server.ts).
 */
export async function lockAfterTooManyFailures(
  tx: DbOrTx,
  user: { id: string; participantId: string | null; status: string; version: number },
  key: string,
  now: Date,
  requestInfo: { requestId: string | null; ip: string | null; userAgent: string | null },
): Promise<boolean> {
  if (user.status !== "active") return false;
  const history = await failureHistory(tx, signInAttempts.emailKey, key, now);
  if (history.consecutiveFailures < LOCK_AFTER_FAILURES) return false;
  const [locked] = await tx
    .update(users)
    .set({ status: "locked", statusReason: AUTO_LOCK_REASON, statusChangedAt: now, version: user.version + 1, updatedAt: now })
    .where(and(eq(users.id, user.id), eq(users.status, "active")))
    .returning();
  if (!locked) return false;
  await appendAuditEvent(tx, { ...requestInfo, actor: SYSTEM_ACTOR }, {
    action: "user.locked",
    entityType: "user",
    entityId: user.id,
    participantId: user.participantId,
    reason: AUTO_LOCK_REASON,
    changes: { status: { before: "active", after: "locked" } },
  });
  return true;
}

/**
 * Signs a console user in. Every outcome is an audit event; every refusal answers the same "invalid" whether
 * the account is unknown, the password wrong, the account not active or without a console role, so that the
 * answer never tells which accounts exist. Throttling is keyed on the login name as typed, known or not.
 */
export async function signIn(env: SignInEnv, input: SignInInput): Promise<SignInResult> {
  const now = new Date();
  const key = emailKey(input.email);
  const requestInfo = { requestId: env.requestId, ip: env.ip, userAgent: env.userAgent };

  const wait = await throttleWait(env.db, key, env.ip, now);

  const [found] = await env.db.select().from(users).where(eq(users.email, key)).limit(1);
  const chain = found?.participantId ?? null;

  if (wait > 0) {
    await env.db.transaction(async (tx) => {
      await appendAuditEvent(tx, { ...requestInfo, actor: SYSTEM_ACTOR }, {
        action: "auth.sign_in.failed",
        entityType: "user",
        entityId: found?.id ?? null,
        participantId: chain,
        actorName: null,
        reason: "throttled",
        metadata: { email: key },
      });
    });
    return { ok: false, reason: "throttled", retryAfterSeconds: Math.ceil(wait / 1000) };
  }

  let user = found;
  // An account locked by failed sign-ins unlocks itself once the cool-down has passed.
  if (user && user.status === "locked" && user.statusReason === AUTO_LOCK_REASON && user.statusChangedAt && now.getTime() - user.statusChangedAt.getTime() >= LOCK_COOL_DOWN_MS) {
    const locked = user;
    user = await env.db.transaction(async (tx) => {
      const [after] = await tx
        .update(users)
        .set({ status: "active", statusReason: "cool-down passed", statusChangedAt: now, version: locked.version + 1, updatedAt: now })
        .where(and(eq(users.id, locked.id), eq(users.status, "locked")))
        .returning();
      if (after) {
        await appendAuditEvent(tx, { ...requestInfo, actor: SYSTEM_ACTOR }, {
          action: "user.unlocked",
          entityType: "user",
          entityId: locked.id,
          participantId: locked.participantId,
          reason: "cool-down passed",
          changes: { status: { before: "locked", after: "active" } },
        });
      }
      return after ?? locked;
    });
  }
  const passwordOk = await verifyPassword(user?.passwordHash ?? null, input.password);
  const personas = user ? await consolePersonasOf(env.db, user.id, now) : [];
  const persona = primaryPersona(personas);
  const failure = !user
    ? "unknown-account"
    : !passwordOk
      ? "wrong-password"
      : user.status !== "active"
        ? `account-${user.status}`
        : !persona
          ? "no-console-role"
          : user.isDemo && !env.demoMode
            ? "demo-account-outside-demo-mode"
            : null;

  if (failure || !user || !persona) {
    await env.db.transaction(async (tx) => {
      await tx.insert(signInAttempts).values({ emailKey: key, ip: env.ip, succeeded: false, attemptedAt: now });
      await appendAuditEvent(tx, { ...requestInfo, actor: SYSTEM_ACTOR }, {
        action: "auth.sign_in.failed",
        entityType: "user",
        entityId: user?.id ?? null,
        participantId: chain,
        actorName: null,
        reason: failure ?? "invalid",
        metadata: { email: key },
      });
      // Too many wrong passwords in a row lock an active account until the cool-down passes or the helpdesk unlocks it.
      if (user && failure === "wrong-password") await lockAfterTooManyFailures(tx, user, key, now, requestInfo);
    });
    return { ok: false, reason: "invalid" };
  }

  // The password is right: a session starts, but it can do nothing until the second factor is verified, or, for a
  // user without one, enrolled (second-factor.server.ts). The sign-in succeeds, and is counted as a success for
  // throttling, only then.
  const actor: Actor = await actorOf(env.db, user, now, null);
  const enrolled = hasSecondFactor(user);
  const setCookie = await env.db.transaction(async (tx) => {
    const session = await luciaFor(tx, env.secureCookie).createSession(user.id, {
      absoluteExpiresAt: new Date(now.getTime() + ABSOLUTE_LIFETIME_MS),
      lastSeenAt: now,
      ip: env.ip,
      userAgent: env.userAgent,
      mfaPendingSecret: enrolled ? null : newTotpSecret(),
      mfaVerifiedAt: null,
    });
    actor.sessionId = session.id;
    await appendAuditEvent(tx, { ...requestInfo, actor }, {
      action: "auth.sign_in.password_accepted",
      entityType: "user",
      entityId: user.id,
      participantId: user.participantId,
      metadata: { next: enrolled ? "verify" : "enrol" },
    });
    return sessionCookieHeader(tx, env.secureCookie, session.id);
  });
  return { ok: true, setCookie, actor, next: enrolled ? "verify" : "enrol" };
}

/** Ends the session on the server and records it; answers the cookie that clears it in the browser. */
export async function signOut(
  env: Omit<SignInEnv, "demoMode" | "ip"> & { ip: string | null },
  actor: Actor,
): Promise<string> {
  await env.db.transaction(async (tx) => {
    if (actor.sessionId) await luciaFor(tx, env.secureCookie).invalidateSession(actor.sessionId);
    await appendAuditEvent(tx, { requestId: env.requestId, ip: env.ip, userAgent: env.userAgent, actor }, {
      action: "auth.sign_out",
      entityType: "session",
      entityId: null,
      participantId: actor.participantId,
    });
  });
  return luciaFor(env.db, env.secureCookie).createBlankSessionCookie().serialize();
}

