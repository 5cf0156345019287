import { and, asc, eq, type SQL } from "drizzle-orm";
import { participants, type Participant } from "../../../db/schema";
import { scopeOf } from "~/auth/permissions";
import { AppError, forbidden, notFound } from "~/lib/errors";
import { appendAuditEvent, diffFields } from "../audit/service.server";
import type { ServiceContext } from "../context.server";
import { createParticipantSchema, participantIdSchema, type CreateParticipantInput } from "./schemas";

/**
 * The participants an actor may read, as a where clause. A participant administrator's scope is their own
 * participant, applied in the query itself, so another participant's row is never even fetched.
 */
function readScope(ctx: ServiceContext): SQL | undefined {
  const scope = scopeOf(ctx.actor.permissions, "participant:read");
  if (scope === "any") return undefined;
  if (scope === "own-participant" && ctx.actor.participantId) {
    return eq(participants.id, ctx.actor.participantId);
  }
  throw forbidden();
}

export async function listParticipants(ctx: ServiceContext): Promise<Participant[]> {
  return ctx.db.select().from(participants).where(readScope(ctx)).orderBy(asc(participants.id));
}

/** One participant, or 404 when it does not exist or lies outside the actor's scope: the two look the same. */
export async function getParticipant(ctx: ServiceContext, id: string): Promise<Participant> {
  const parsed = participantIdSchema.safeParse(id);
  if (!parsed.success) throw notFound();
  const [row] = await ctx.db
    .select()
    .from(participants)
    .where(and(eq(participants.id, parsed.data), readScope(ctx)))
    .limit(1);
  if (!row) throw notFound();
  return row;
}

const AUDITED_FIELDS = ["id", "nameEn", "nameZh", "type", "bic", "status"] as const;

/** Registers a participant (officer, or the system for the demo seed). */
export async function createParticipant(ctx: ServiceContext, input: CreateParticipantInput): Promise<Participant> {
  if (ctx.actor.persona !== "system" && scopeOf(ctx.actor.permissions, "participant:create") !== "any") {
    throw forbidden();
  }
  const parsed = createParticipantSchema.safeParse(input);
  if (!parsed.success) {
    const fieldErrors = Object.fromEntries(
      parsed.error.issues.map((i) => [String(i.path[0]), "validation.invalid" as const]),
    );
    throw new AppError(400, "error.badRequest", fieldErrors);
  }
  const data = parsed.data;
  return ctx.db.transaction(async (tx) => {
    const inserted = await tx
      .insert(participants)
      .values({ ...data, bic: data.bic ?? null })
      .onConflictDoNothing()
      .returning();
    const row = inserted[0];
    if (!row) throw new AppError(400, "error.badRequest", { id: "validation.invalid" });
    await appendAuditEvent(tx, ctx, {
      action: "participant.created",
      entityType: "participant",
      entityId: row.id,
      participantId: row.id,
      changes: diffFields(null, row, AUDITED_FIELDS),
    });
    return row;
  });
}
