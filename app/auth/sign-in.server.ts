import { and, count, eq, gt, max, min } from "drizzle-orm";
import { z } from "zod";
import type { Database, DbOrTx } from "../../db/client.server";
import type { AppContext } from "~/context";
import { signInAttempts, users } from "../../db/schema";
import { defineCommand, type CommandContext } from "~/modules/command.server";
import { ANONYMOUS_ACTOR, type Actor, type ServiceContext } from "~/modules/context.server";
import { lockAccount, unlockAfterCoolDown } from "~/modules/users/account.server";
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
  ADDRESS_ACCOUNT_THROTTLE,
  ADDRESS_CEILING,
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

/** The context of a sign-in command: nobody is signed in yet, so the actor is anonymous. */
export function signInContext(env: Pick<SignInEnv, "db" | "requestId" | "ip" | "userAgent">): ServiceContext {
  return { db: env.db, actor: ANONYMOUS_ACTOR, requestId: env.requestId, ip: env.ip, userAgent: env.userAgent };
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

/** Whose attempts a history counts: a login name, an address, or one login name from one address. */
type AttemptsOf = { emailKey: string; ip?: string } | { ip: string; emailKey?: undefined };

async function failureHistory(db: DbOrTx, of: AttemptsOf, now: Date): Promise<FailureHistory> {
  const since = new Date(now.getTime() - HOUR_MS);
  const whose = and(
    of.emailKey === undefined ? undefined : eq(signInAttempts.emailKey, of.emailKey),
    of.ip === undefined ? undefined : eq(signInAttempts.ip, of.ip),
  );
  const [success] = await db
    .select({ at: max(signInAttempts.attemptedAt) })
    .from(signInAttempts)
    .where(and(whose, eq(signInAttempts.succeeded, true), gt(signInAttempts.attemptedAt, since)));
  const lastSuccess = success?.at ? new Date(success.at) : since;
  const [inHour] = await db
    .select({ n: count(), oldest: min(signInAttempts.attemptedAt), latest: max(signInAttempts.attemptedAt) })
    .from(signInAttempts)
    .where(and(whose, eq(signInAttempts.succeeded, false), gt(signInAttempts.attemptedAt, since)));
  const [consecutive] = await db
    .select({ n: count() })
    .from(signInAttempts)
    .where(
      and(whose, eq(signInAttempts.succeeded, false), gt(signInAttempts.attemptedAt, lastSuccess)),
    );
  return {
    consecutiveFailures: Number(consecutive?.n ?? 0),
    lastFailureAt: inHour?.latest ? new Date(inHour.latest) : null,
    failuresInHour: Number(inHour?.n ?? 0),
    oldestFailureInHourAt: inHour?.oldest ? new Date(inHour.oldest) : null,
  };
}

/**
 * How long an attempt for this login name from this address must still wait: the longest of the account's
 * throttle, the account-from-this-address throttle, and the address's hourly ceiling. Another account's failures
 * from the same address never delay this one below the ceiling.
 */
export async function throttleWait(db: DbOrTx, key: string, ip: string, now: Date): Promise<number> {
  return Math.max(
    throttleWaitMs(ACCOUNT_THROTTLE, await failureHistory(db, { emailKey: key }, now), now),
    throttleWaitMs(ADDRESS_ACCOUNT_THROTTLE, await failureHistory(db, { emailKey: key, ip }, now), now),
    throttleWaitMs(ADDRESS_CEILING, await failureHistory(db, { ip }, now), now),
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
export async function lockAfterTooManyFailures(cx: CommandContext, user: { id: string; participantId: string | null; status: string }, key: string): Promise<boolean> {
  if (user.status !== "active") return false;
  const history = await failureHistory(cx.tx, { emailKey: key }, cx.now);
  if (history.consecutiveFailures < LOCK_AFTER_FAILURES) return false;
  return lockAccount(cx, user);
}

const signInSchema = z.object({
  email: z.string().max(2000),
  password: z.string().max(5000),
  demoMode: z.boolean(),
  secureCookie: z.boolean(),
});

/**
 * Signs a console user in (the password step). Every outcome is an audit event; every refusal answers the same
 * "invalid" whether the account is unknown, the password wrong, the account not active or without a console role,
 * so that the answer never tells which accounts exist. Throttling is keyed on the login name as typed, known or not.
 */
const signInCommand = defineCommand({
  name: "auth.signIn",
  permission: "public",
  input: signInSchema,
  events: ["auth.sign_in.failed", "auth.sign_in.password_accepted", "user.locked", "user.unlocked"],
  async tenant(tx, input) {
    const [found] = await tx.select({ participantId: users.participantId }).from(users).where(eq(users.email, emailKey(input.email))).limit(1);
    return found?.participantId ?? null;
  },
  lockParticipant: false,
  async run(cx): Promise<SignInResult> {
    const { tx, input, now } = cx;
    const key = emailKey(input.email);
    const ip = cx.ctx.ip ?? "unknown";
    const wait = await throttleWait(tx, key, ip, now);
    const [found] = await tx.select().from(users).where(eq(users.email, key)).limit(1);
    const chain = found?.participantId ?? null;
    const failed = (reason: string, userId: string | null) =>
      cx.audit({ action: "auth.sign_in.failed", entityType: "user", entityId: userId, participantId: chain, actorName: null, reason, metadata: { email: key } });

    if (wait > 0) {
      failed("throttled", found?.id ?? null);
      return { ok: false, reason: "throttled", retryAfterSeconds: Math.ceil(wait / 1000) };
    }

    let user = found;
    // An account locked by failed sign-ins unlocks itself once the cool-down has passed.
    if (user && user.status === "locked" && user.statusReason === AUTO_LOCK_REASON && user.statusChangedAt && now.getTime() - user.statusChangedAt.getTime() >= LOCK_COOL_DOWN_MS) {
      user = await unlockAfterCoolDown(cx, user);
    }
    const passwordOk = await verifyPassword(user?.passwordHash ?? null, input.password);
    const personas = user ? await consolePersonasOf(tx, user.id, now) : [];
    const persona = primaryPersona(personas);
    const failure = !user
      ? "unknown-account"
      : !passwordOk
        ? "wrong-password"
        : user.status !== "active"
          ? `account-${user.status}`
          : !persona
            ? "no-console-role"
            : user.isDemo && !input.demoMode
              ? "demo-account-outside-demo-mode"
              : null;

    if (failure || !user || !persona) {
      await tx.insert(signInAttempts).values({ emailKey: key, ip, succeeded: false, attemptedAt: now });
      failed(failure ?? "invalid", user?.id ?? null);
      // Too many wrong passwords in a row lock an active account until the cool-down passes or the helpdesk unlocks it.
      if (user && failure === "wrong-password") await lockAfterTooManyFailures(cx, user, key);
      return { ok: false, reason: "invalid" };
    }

    // The password is right: a session starts, but it can do nothing until the second factor is verified, or, for a
    // user without one, enrolled (second-factor.server.ts). The sign-in succeeds, and is counted as a success for
    // throttling, only then.
    const actor: Actor = await actorOf(tx, user, now, null);
    const enrolled = hasSecondFactor(user);
    const session = await luciaFor(tx, input.secureCookie).createSession(user.id, {
      absoluteExpiresAt: new Date(now.getTime() + ABSOLUTE_LIFETIME_MS),
      lastSeenAt: now,
      ip,
      userAgent: cx.ctx.userAgent,
      mfaPendingSecret: enrolled ? null : newTotpSecret(),
      mfaVerifiedAt: null,
    });
    actor.sessionId = session.id;
    cx.audit({
      action: "auth.sign_in.password_accepted",
      entityType: "user",
      entityId: user.id,
      participantId: user.participantId,
      metadata: { next: enrolled ? "verify" : "enrol" },
      actor,
    });
    return { ok: true, setCookie: sessionCookieHeader(tx, input.secureCookie, session.id), actor, next: enrolled ? "verify" : "enrol" };
  },
});

export function signIn(env: SignInEnv, input: SignInInput): Promise<SignInResult> {
  return signInCommand(signInContext(env), { ...input, demoMode: env.demoMode, secureCookie: env.secureCookie });
}

const signOutCommand = defineCommand({
  name: "auth.signOut",
  permission: "public",
  input: z.object({ secureCookie: z.boolean() }),
  events: ["auth.sign_out"],
  tenant: (_tx, _input, actor) => actor.participantId,
  lockParticipant: false,
  async run(cx): Promise<void> {
    if (cx.actor.sessionId) await luciaFor(cx.tx, cx.input.secureCookie).invalidateSession(cx.actor.sessionId);
    cx.audit({ action: "auth.sign_out", entityType: "session", entityId: null, participantId: cx.actor.participantId });
  },
});

/** Ends the session on the server and records it; answers the cookie that clears it in the browser. */
export async function signOut(
  env: Omit<SignInEnv, "demoMode" | "ip"> & { ip: string | null },
  actor: Actor,
): Promise<string> {
  await signOutCommand({ db: env.db, actor, requestId: env.requestId, ip: env.ip, userAgent: env.userAgent }, { secureCookie: env.secureCookie });
  return luciaFor(env.db, env.secureCookie).createBlankSessionCookie().serialize();
}
