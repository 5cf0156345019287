import type { Database } from "../../db/client.server";
import type { Permission, Persona } from "~/auth/permissions";

/** Who is acting. HKEX staff have no participant; a participant administrator acts for exactly one. */
export interface Actor {
  userId: string | null;
  displayName: string;
  email: string | null;
  participantId: string | null;
  /**
   * "system" is the console itself (seed, jobs) and bypasses tenant checks; "none" is a user without a console
   * role, who may do nothing. Never give a user "system".
   */
  persona: Persona | "system" | "none";
  personas: readonly Persona[];
  permissions: ReadonlySet<Permission>;
  sessionId: string | null;
}

/** What every service receives: the actor, where the request came from, and the database. */
export interface ServiceContext {
  db: Database;
  actor: Actor;
  requestId: string | null;
  ip: string | null;
  userAgent: string | null;
  /** The console's address as users reach it, for links in mail (APP_ORIGIN, else the request's origin). */
  baseUrl?: string;
}

/** The actor for work the system does by itself: migrations' seed data, the demo seed, scheduled jobs. */
export const SYSTEM_ACTOR: Actor = {
  userId: null,
  displayName: "system",
  email: null,
  participantId: null,
  persona: "system",
  personas: [],
  permissions: new Set(),
  sessionId: null,
};

export function systemContext(db: Database, requestId: string | null = null): ServiceContext {
  return { db, actor: SYSTEM_ACTOR, requestId, ip: null, userAgent: null };
}
