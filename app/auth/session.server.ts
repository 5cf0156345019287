import { and, eq, gt, isNull, lte, or, sql } from "drizzle-orm";
import type { Database, DbOrTx, Transaction } from "../../db/client.server";
import { roleGrants, roles, sessions, users } from "../../db/schema";
import { z } from "zod";
import { defineCommand } from "~/modules/command.server";
import type { Actor } from "~/modules/context.server";
import { luciaFor } from "./lucia.server";
import { PERSONA_BY_ROLE, permissionsFor, primaryPersona, type Persona } from "./permissions";
import { ABSOLUTE_LIFETIME_MS, LAST_SEEN_WRITE_INTERVAL_MS, nextExpiry, sessionVerdict } from "./rules";
import { SECOND_FACTOR_TIMEOUT_MS } from "./totp.server";

/**
 * Where a session stands with the second factor: "verified" may use the console; "verify" must enter a code from
 * its authenticator, "enrol" must first set one up. Until verified, a session reaches only the second-factor pages.
 */
export type SecondFactorState = "verified" | "verify" | "enrol";

export interface Authenticated {
  actor: Actor;
  sessionId: string;
  secondFactor: SecondFactorState;
}

export interface AuthResult {
  auth: Authenticated | null;
  /** A Set-Cookie header to send: clears a cookie that no longer names a live session. */
  setCookie: string | null;
}

interface RequestInfo {
  requestId: string | null;
  ip: string | null;
  userAgent: string | null;
}

/** Ends a session that has expired or may no longer be used, and records why; another request may end it first. */
const endSession = defineCommand({
  name: "auth.endSession",
  permission: "public",
  input: z.object({ sessionId: z.string(), reason: z.string() }),
  events: ["auth.session.ended"],
  tenant: (_tx, _input, actor) => actor.participantId,
  lockParticipant: false,
  async run(cx): Promise<void> {
    const deleted = await cx.tx.delete(sessions).where(eq(sessions.id, cx.input.sessionId)).returning({ id: sessions.id });
    // Another request may have ended it at the same moment: record the end once.
    if (deleted.length > 0) {
      cx.audit({ action: "auth.session.ended", entityType: "session", entityId: null, participantId: cx.actor.participantId, reason: cx.input.reason });
    }
  },
});

/** Ends every session of a user at once (suspension, deactivation, a password or 2FA reset); answers how many. */
export async function endSessionsOf(tx: Transaction, userId: string): Promise<number> {
  const ended = await tx.delete(sessions).where(eq(sessions.userId, userId)).returning({ id: sessions.id });
  return ended.length;
}

/** The console roles a user holds right now, as personas. A grant past its valid-to no longer counts. */
export async function consolePersonasOf(db: DbOrTx, userId: string, now: Date): Promise<Persona[]> {
  const rows = await db
    .select({ roleCode: roleGrants.roleCode })
    .from(roleGrants)
    .innerJoin(roles, eq(roles.code, roleGrants.roleCode))
    .where(
      and(
        eq(roleGrants.userId, userId),
        eq(roleGrants.status, "active"),
        eq(roles.isConsole, true),
        lte(roleGrants.validFrom, now),
        or(isNull(roleGrants.validTo), gt(roleGrants.validTo, now)),
      ),
    );
  const personas = rows.map((r) => PERSONA_BY_ROLE[r.roleCode]).filter((p): p is Persona => Boolean(p));
  return [...new Set(personas)];
}

/** The actor a user is right now: their console roles as personas and the permissions those give. */
export async function actorOf(
  db: DbOrTx,
  user: { id: string; displayName: string; email: string; participantId: string | null },
  now: Date,
  sessionId: string | null,
): Promise<Actor> {
  return actorWith(user, await consolePersonasOf(db, user.id, now), sessionId);
}

function actorWith(
  user: { id: string; displayName: string; email: string; participantId: string | null },
  personas: Persona[],
  sessionId: string | null,
): Actor {
  return {
    userId: user.id,
    displayName: user.displayName,
    email: user.email,
    participantId: user.participantId,
    persona: primaryPersona(personas) ?? "none",
    personas,
    permissions: permissionsFor(personas),
    sessionId,
  };
}

/**
 * Reads the session cookie and returns the actor, or null. Enforces, on the server: the idle timeout, the
 * absolute lifetime, the user's status and their console roles; an expired session is deleted and audited.
 */
export async function authenticateRequest(
  db: Database,
  cookieHeader: string | null,
  secureCookie: boolean,
  info: RequestInfo,
  demoMode: boolean,
): Promise<AuthResult> {
  const lucia = luciaFor(db, secureCookie);
  const sessionId = lucia.readSessionCookie(cookieHeader ?? "");
  if (!sessionId) return { auth: null, setCookie: null };
  const blank = lucia.createBlankSessionCookie().serialize();

  // One statement: the session, its user and the user's console roles now (consolePersonasOf's conditions). The
  // session is judged here from its row, as lucia's validateSession would and more strictly (the idle limit and
  // the absolute lifetime, exact); lucia's second read of the same session and user is not needed.
  const now = new Date();
  const at = sql`${now.toISOString()}::timestamptz`;
  const [stored] = await db
    .select({
      session: sessions,
      user: {
        id: users.id,
        email: users.email,
        displayName: users.displayName,
        participantId: users.participantId,
        status: users.status,
        isDemo: users.isDemo,
        mfaEnrolledAt: users.mfaEnrolledAt,
      },
      consoleRoles: sql<string | null>`(select string_agg(g.role_code, ',') from ${roleGrants} g join ${roles} r on r.code = g.role_code
        where g.user_id = ${users.id} and g.status = 'active' and r.is_console and g.valid_from <= ${at}
          and (g.valid_to is null or g.valid_to > ${at}))`,
    })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(eq(sessions.id, sessionId))
    .limit(1);
  if (!stored) return { auth: null, setCookie: blank };
  const { session, user } = stored;

  const verdict = sessionVerdict(
    { createdAt: now, lastSeenAt: session.lastSeenAt, absoluteExpiresAt: session.absoluteExpiresAt },
    now,
  );
  // Past lucia's own stored expiry but not past ours (only if the two were written apart): gone, as lucia does it.
  if (verdict === "valid" && session.expiresAt.getTime() <= now.getTime()) {
    await lucia.invalidateSession(session.id);
    return { auth: null, setCookie: blank };
  }
  const personas = [
    ...new Set((stored.consoleRoles ?? "").split(",").map((code) => PERSONA_BY_ROLE[code]).filter((p): p is Persona => Boolean(p))),
  ];
  const actor = actorWith(user, personas, session.id);
  const persona = primaryPersona(actor.personas);

  // A key on offer counts only while the user has none: enrolled meanwhile in another browser, they verify.
  const secondFactor: SecondFactorState = session.mfaVerifiedAt
    ? "verified"
    : session.mfaPendingSecret && !user.mfaEnrolledAt
      ? "enrol"
      : "verify";
  const endReason =
    verdict !== "valid"
      ? verdict
      : // (when the password was accepted: the absolute limit is counted from then, by the server's clock)
        secondFactor !== "verified" &&
          now.getTime() - (session.absoluteExpiresAt.getTime() - ABSOLUTE_LIFETIME_MS) >= SECOND_FACTOR_TIMEOUT_MS
        ? "second-factor-timeout"
      : user.status !== "active"
        ? "user-not-active"
        : !persona
          ? "no-console-role"
          : user.isDemo && !demoMode
            ? "demo-account-outside-demo-mode"
            : null;
  if (endReason) {
    await endSession({ db, actor, ...info }, { sessionId: session.id, reason: endReason });
    return { auth: null, setCookie: blank };
  }

  if (now.getTime() - session.lastSeenAt.getTime() >= LAST_SEEN_WRITE_INTERVAL_MS) {
    await db
      .update(sessions)
      .set({ lastSeenAt: now, expiresAt: nextExpiry(session, now) })
      .where(eq(sessions.id, session.id));
  }
  return { auth: { actor, sessionId: session.id, secondFactor }, setCookie: null };
}
