import { eq, type SQL } from "drizzle-orm";
import { participants } from "../../../db/schema";
import { scopeOf } from "~/auth/permissions";
import { forbidden } from "~/lib/errors";
import type { ServiceContext } from "../context.server";

/**
 * The participants an actor may read, as a where clause. A participant administrator's scope is their own
 * participant, applied in the query itself, so another participant's row is never even fetched.
 */
export function participantScope(ctx: ServiceContext, capability: "participant:read" | "case:read" = "participant:read"): SQL | undefined {
  if (ctx.actor.persona === "system") return undefined;
  const scope = scopeOf(ctx.actor.permissions, capability);
  if (scope === "any") return undefined;
  if (scope === "own-participant" && ctx.actor.participantId) {
    return eq(participants.id, ctx.actor.participantId);
  }
  throw forbidden();
}
