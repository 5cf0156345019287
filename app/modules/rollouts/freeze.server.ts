import { and, eq, inArray, isNull, lte } from "drizzle-orm";
import { rolloutFreezeExceptions, rolloutSnapshots, rollouts } from "../../../db/schema";
import { AppError } from "~/lib/errors";
import type { CommandContext } from "../command.server";
import type { SnapshotContent } from "./rules";

/** What a change guarded by the freeze may append: the use of the approved exception that let it through. */
export const FREEZE_GUARD_EVENTS = ["rollout.freeze_exception.used"] as const;

/**
 * The change freeze on carried-over production credentials (circular §2(i); decision 017): from a rollout's
 * verification session until HKEX announces the end of stabilisation, registering, rotating or revoking a key of a
 * production API client that the participant's snapshot carries over needs an exception approved by an officer
 * (four eyes). Each approved exception lets one change through and is then used up. Simulator and test clients are
 * not frozen: they do not go live. Called inside the credentials command, with its client row locked.
 */
export async function guardFrozenClient(cx: CommandContext, client: { id: string; clientId: string; name: string; participantId: string; environment: string }): Promise<void> {
  if (client.environment !== "production") return;
  const { tx, now } = cx;
  const frozen = await tx
    .select({ rollout: rollouts, content: rolloutSnapshots.content })
    .from(rolloutSnapshots)
    .innerJoin(rollouts, eq(rollouts.id, rolloutSnapshots.rolloutId))
    .where(and(eq(rolloutSnapshots.participantId, client.participantId), lte(rollouts.verificationStartAt, now), isNull(rollouts.stabilisationEndedAt)));
  const carrying = frozen.filter((f) => (JSON.parse(f.content) as SnapshotContent).apiClients.some((c) => c.id === client.id));
  for (const { rollout } of carrying) {
    const refs = [client.id, client.clientId, client.name];
    const [exception] = await tx
      .select()
      .from(rolloutFreezeExceptions)
      .where(
        and(
          eq(rolloutFreezeExceptions.rolloutId, rollout.id),
          eq(rolloutFreezeExceptions.participantId, client.participantId),
          eq(rolloutFreezeExceptions.kind, "key_rotation"),
          eq(rolloutFreezeExceptions.status, "approved"),
          inArray(rolloutFreezeExceptions.subjectRef, refs),
        ),
      )
      .limit(1)
      .for("update");
    if (!exception) throw new AppError(409, "rollout.error.frozen", {}, { rollout: rollout.name, client: client.clientId });
    await tx.update(rolloutFreezeExceptions).set({ status: "used" }).where(eq(rolloutFreezeExceptions.id, exception.id));
    cx.audit({
      action: "rollout.freeze_exception.used",
      entityType: "rollout_freeze_exception",
      entityId: exception.id,
      participantId: client.participantId,
      metadata: { rolloutId: rollout.id, kind: exception.kind, subjectRef: exception.subjectRef, clientId: client.clientId },
    });
  }
}
