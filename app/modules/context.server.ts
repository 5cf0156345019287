import type { Database } from "../../db/client.server";
import { SYSTEM_PERMISSIONS, type Permission, type Persona } from "~/auth/permissions";

/** Who is acting. HKEX staff have no participant; a participant administrator acts for exactly one. */
export interface Actor {
  userId: string | null;
  displayName: string;
  email: string | null;
  participantId: string | null;
  /**
   * The persona recorded in the audit trail. "system" is the console itself (seed, jobs, automatic steps), whose
   * capabilities are the explicit SYSTEM_PERMISSIONS; "none" is a user without a console role, who may do nothing.
   * Services decide by permissions and tenancy (tenancy.server.ts), never by persona.
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
  permissions: new Set(SYSTEM_PERMISSIONS),
  sessionId: null,
};

/**
 * The actor of a request nobody is signed in for (signing in, redeeming a link): it may do nothing by permission;
 * the public commands authorize by what they are given (a password, a session, a link).
 */
export const ANONYMOUS_ACTOR: Actor = { ...SYSTEM_ACTOR, permissions: new Set() };

export function systemContext(db: Database, requestId: string | null = null): ServiceContext {
  return { db, actor: SYSTEM_ACTOR, requestId, ip: null, userAgent: null };
}
