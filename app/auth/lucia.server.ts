import { DrizzlePostgreSQLAdapter } from "@lucia-auth/adapter-drizzle";
import { Cookie, Lucia, TimeSpan } from "lucia";
import type { DbOrTx } from "../../db/client.server";
import { sessions, users } from "../../db/schema";
import { IDLE_TIMEOUT_MS } from "./rules";

export const SESSION_COOKIE_NAME = "ocp_session";

function createLucia(db: DbOrTx, secureCookie: boolean) {
  // The adapter's types name PgDatabase; a transaction is one, narrowed to this schema.
  const adapter = new DrizzlePostgreSQLAdapter(db as never, sessions, users);
  return new Lucia(adapter, {
    // Lucia's 30-day sliding default must not run: its own expiry is the idle timeout, and session.server.ts
    // also enforces the absolute lifetime and the exact idle limit.
    sessionExpiresIn: new TimeSpan(IDLE_TIMEOUT_MS / 1000, "s"),
    sessionCookie: {
      name: SESSION_COOKIE_NAME,
      // A browser-session cookie: closing the browser forgets it; the server decides when the session ends.
      expires: false,
      attributes: { secure: secureCookie, sameSite: "lax" },
    },
    getSessionAttributes: (attributes) => ({
      absoluteExpiresAt: attributes.absoluteExpiresAt,
      lastSeenAt: attributes.lastSeenAt,
    }),
    getUserAttributes: (attributes) => ({
      email: attributes.email,
      displayName: attributes.displayName,
      participantId: attributes.participantId,
      status: attributes.status,
      isDemo: attributes.isDemo,
    }),
  });
}

/** Lucia bound to a database or to the caller's transaction, so sessions change atomically with their audit. */
export function luciaFor(db: DbOrTx, secureCookie: boolean) {
  return createLucia(db, secureCookie);
}

/**
 * The Set-Cookie header for a new session: a browser-session cookie (no Max-Age; lucia's "never expires" would
 * keep it 400 days), HttpOnly, SameSite=Lax, Secure in production. The server decides when the session ends.
 */
export function sessionCookieHeader(db: DbOrTx, secureCookie: boolean, sessionId: string): string {
  const cookie = luciaFor(db, secureCookie).createSessionCookie(sessionId);
  return new Cookie(cookie.name, cookie.value, { ...cookie.attributes, maxAge: undefined }).serialize();
}

declare module "lucia" {
  interface Register {
    Lucia: ReturnType<typeof createLucia>;
    DatabaseSessionAttributes: {
      absoluteExpiresAt: Date;
      lastSeenAt: Date;
      ip: string | null;
      userAgent: string | null;
      mfaPendingSecret: string | null;
      mfaVerifiedAt: Date | null;
    };
    DatabaseUserAttributes: {
      email: string;
      displayName: string;
      participantId: string | null;
      status: string;
      isDemo: boolean;
    };
  }
}
