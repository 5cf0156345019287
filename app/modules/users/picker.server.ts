import { and, asc, eq, type SQL } from "drizzle-orm";
import type { DbOrTx } from "../../../db/client.server";
import { users } from "../../../db/schema";

/**
 * Pickers of a user (an API client's owner, a step's owner) list the candidates in a menu while there are at most
 * this many. A participant with more (the large firms have thousands of staff) gets an email field instead: a menu
 * of thousands is neither readable nor cheap to send on every view of the page.
 */
export const PICKER_MENU_LIMIT = 200;

export interface UserPicker {
  /** The candidates to choose from, or null when there are more than PICKER_MENU_LIMIT: the form asks for an email. */
  options: { id: string; name: string }[] | null;
  /** The current choice's email, for the email field. */
  currentEmail: string | null;
}

/** The picker for the users `eligible` selects, in name order, at most PICKER_MENU_LIMIT + 1 rows read. */
export async function userPicker(db: DbOrTx, eligible: SQL | undefined, label: (u: { name: string; email: string }) => string, currentUserId?: string | null): Promise<UserPicker> {
  const rows = await db
    .select({ id: users.id, name: users.displayName, email: users.email })
    .from(users)
    .where(eligible)
    .orderBy(asc(users.displayName), asc(users.id))
    .limit(PICKER_MENU_LIMIT + 1);
  if (rows.length <= PICKER_MENU_LIMIT) return { options: rows.map((u) => ({ id: u.id, name: label(u) })), currentEmail: null };
  let currentEmail: string | null = null;
  if (currentUserId) {
    const [current] = await db.select({ email: users.email }).from(users).where(eq(users.id, currentUserId));
    currentEmail = current?.email ?? null;
  }
  return { options: null, currentEmail };
}

/**
 * The user a picker's value names among those `eligible` selects: the id from the menu, or the email typed in the
 * email field (any case). Undefined when it names nobody eligible.
 */
export async function pickedUser(db: DbOrTx, value: string, eligible: SQL | undefined): Promise<{ id: string } | undefined> {
  // Emails are stored in lower case (a check constraint), so the unique index finds the typed one.
  const named = value.includes("@") ? eq(users.email, value.trim().toLowerCase()) : eq(users.id, value);
  const [user] = await db.select({ id: users.id }).from(users).where(and(named, eligible)).limit(1);
  return user;
}
