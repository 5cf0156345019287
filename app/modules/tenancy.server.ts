import { eq, type Column, type SQL } from "drizzle-orm";
import { scopeOf, type Capability, type Resource } from "~/auth/permissions";
import type { MessageKey } from "~/i18n/messages";
import { AppError, forbidden, notFound } from "~/lib/errors";
import type { Actor } from "./context.server";

/**
 * Tenancy, decided here and nowhere else (SPEC §1). Every object belongs to one participant, or to HKEX as a whole
 * (participantId null). An actor sees an object when it is HKEX staff (no participant of its own) or the object is
 * its participant's; it may act on it when it holds the capability at scope `any`, or at `own-participant` for its
 * own participant's objects. Anything outside what the actor sees answers 404, exactly like an object that does
 * not exist; a visible object the actor may not act on answers 403.
 */

/** Whether the actor sees objects of this participant (null: HKEX-wide objects). */
export function sees(actor: Actor, participantId: string | null): boolean {
  return actor.participantId === null || participantId === actor.participantId;
}

/** Whether the actor may use `capability` on an object of this participant. For view models: which controls to show. */
export function mayOn(actor: Actor, capability: Capability, participantId: string | null): boolean {
  const scope = scopeOf(actor.permissions, capability);
  if (scope === "any") return true;
  return scope === "own-participant" && actor.participantId !== null && participantId === actor.participantId;
}

/**
 * The capability that lets an actor see the objects a capability acts on: a participant's user who may not read
 * requests does not learn that one exists by trying to approve it (404, not 403).
 */
const VISIBLE_WITH: Partial<Record<Resource, Capability>> = {
  participant: "participant:read",
  case: "case:read",
  user: "user:read",
  role: "user:read",
  waiver: "user:read",
  credential: "credential:read",
  review: "review:read",
  audit: "audit:read",
  report: "report:read",
  rollout: "rollout:read",
  certification: "certification:read",
};

/**
 * Throws 404 when the object is outside what the actor sees (another participant's, or one of a kind the actor may
 * not even read), 403 when the actor sees it but may not act on it.
 */
export function assertTenant(actor: Actor, capability: Capability, participantId: string | null, refusal: MessageKey = "error.forbidden"): void {
  if (!sees(actor, participantId)) throw notFound();
  const readable = VISIBLE_WITH[capability.split(":")[0] as Resource];
  // (Only a participant's user is kept from learning what exists; HKEX staff without the capability are told 403.)
  if (actor.participantId !== null && readable && !mayOn(actor, readable, participantId)) throw notFound();
  if (!mayOn(actor, capability, participantId)) {
    // Own-participant scope reaches no HKEX-wide object: that is outside the tenant, so 404 as well.
    if (scopeOf(actor.permissions, capability) === "own-participant") throw notFound();
    throw new AppError(403, refusal);
  }
}

/** For an HKEX-wide operation with no object to hide (a catalogue, a campaign, a checkpoint): 403 without the capability. */
export function assertPlatformCapability(actor: Actor, capability: Capability, refusal: MessageKey = "error.forbidden"): void {
  if (!mayOn(actor, capability, null)) throw new AppError(403, refusal);
}

/**
 * The `where` clause that keeps a query inside the actor's tenant for `capability`: nothing for scope `any`, the
 * actor's participant for `own-participant`; 403 when the actor lacks the capability altogether.
 */
export function whereTenant(actor: Actor, capability: Capability, column: Column): SQL | undefined {
  const scope = scopeOf(actor.permissions, capability);
  if (scope === "any") return undefined;
  if (scope === "own-participant" && actor.participantId) return eq(column, actor.participantId);
  throw forbidden();
}

/** The participant whose objects a query is limited to for `capability` (null: every participant); 403 without it. */
export function tenantOf(actor: Actor, capability: Capability): string | null {
  const scope = scopeOf(actor.permissions, capability);
  if (scope === "any") return null;
  if (scope === "own-participant" && actor.participantId) return actor.participantId;
  throw forbidden();
}
