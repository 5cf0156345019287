import { eq } from "drizzle-orm";
import type { DbOrTx } from "../../../db/client.server";
import { users, type User } from "../../../db/schema";
import type { Capability } from "~/auth/permissions";
import { notFound } from "~/lib/errors";
import type { Actor } from "../context.server";
import { assertTenant } from "../tenancy.server";

/** A user by id, or 404. Reading is open to every module; only the users module writes the users table. */
export async function findUser(db: DbOrTx, userId: string, options: { lock?: boolean } = {}): Promise<User> {
  const query = db.select().from(users).where(eq(users.id, userId)).limit(1);
  const [user] = options.lock ? await query.for("update") : await query;
  if (!user) throw notFound();
  return user;
}

/** The tenant of a command about a user: the user's participant (null for HKEX staff), or 404. */
export async function participantOfUser(db: DbOrTx, userId: string): Promise<string | null> {
  const [row] = await db.select({ participantId: users.participantId }).from(users).where(eq(users.id, userId)).limit(1);
  if (!row) throw notFound();
  return row.participantId;
}

/** A user the actor may see and use `capability` on (404 outside its tenant, 403 without the capability). */
export async function userVisibleTo(db: DbOrTx, actor: Actor, userId: string, capability: Capability): Promise<User> {
  const user = await findUser(db, userId);
  assertTenant(actor, capability, user.participantId);
  return user;
}
