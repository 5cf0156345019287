import { eq } from "drizzle-orm";
import { participants, type ParticipantStatus } from "../../../db/schema";
import { notFound } from "~/lib/errors";
import type { CommandContext } from "../command.server";

/**
 * Stores a participant's status as its onboarding case (and any suspension) derives it, and records a change.
 * The participants module owns the row; the onboarding module says what the status is.
 */
export async function setParticipantStatus(cx: CommandContext, participantId: string, status: ParticipantStatus): Promise<ParticipantStatus> {
  const [p] = await cx.tx.select({ status: participants.status }).from(participants).where(eq(participants.id, participantId));
  if (!p) throw notFound();
  if (status !== p.status) {
    await cx.tx.update(participants).set({ status, updatedAt: cx.now }).where(eq(participants.id, participantId));
    cx.audit({
      action: "participant.status.changed",
      entityType: "participant",
      entityId: participantId,
      participantId,
      changes: { status: { before: p.status, after: status } },
    });
  }
  return status;
}
