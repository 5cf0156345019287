import { eq } from "drizzle-orm";
import { HttpClient } from "./server";
import type { Database } from "../../db/client.server";
import { users } from "../../db/schema";
import { luciaFor } from "../../app/auth/lucia.server";
import { ABSOLUTE_LIFETIME_MS } from "../../app/auth/rules";

/**
 * A signed-in session for the user, as a completed sign-in leaves it (app/auth/second-factor.server.ts): a lucia
 * session row with the second factor verified now and the absolute lifetime counted from now. Answers its id, the
 * session cookie's value. For tests that need someone signed in but are not about signing in.
 */
export async function createVerifiedSession(db: Database, email: string): Promise<string> {
  const [user] = await db.select({ id: users.id }).from(users).where(eq(users.email, email.trim().toLowerCase()));
  if (!user) throw new Error(`no user ${email}`);
  const now = new Date();
  const session = await luciaFor(db, false).createSession(user.id, {
    absoluteExpiresAt: new Date(now.getTime() + ABSOLUTE_LIFETIME_MS),
    lastSeenAt: now,
    ip: null,
    userAgent: null,
    mfaPendingSecret: null,
    mfaVerifiedAt: now,
  });
  return session.id;
}

/**
 * One signed-in client per email for a suite's server, made on first use with a verified session (password and
 * second factor done): `const as = verifiedClients(() => server.baseUrl, () => use().db)`.
 */
export function verifiedClients(baseUrl: () => string, db: () => Database): (email: string) => Promise<HttpClient> {
  const clients = new Map<string, HttpClient>();
  return async (email) => {
    let client = clients.get(email);
    if (!client) {
      client = new HttpClient(baseUrl()).useSession(await createVerifiedSession(db(), email));
      clients.set(email, client);
    }
    return client;
  };
}
