import { and, asc, eq, inArray, isNull, lte } from "drizzle-orm";
import { rolloutFreezeExceptions, rolloutSnapshots, rollouts } from "../../../db/schema";
import { formatHongKongTime } from "~/i18n/messages";
import { AppError } from "~/lib/errors";
import { hongKongDay } from "~/lib/hong-kong-time";
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

/** The logins an exception already let through in this command run, so one change needs one exception (keyed by the run's `now`). */
const permittedInRun = new WeakMap<Date, Set<string>>();

/**
 * The change freeze on carried-over logins (circular §2(i): participants keep the logins and passwords of the cutoff
 * for the fallback plan; decision 017): from a rollout's verification session until HKEX announces the end of
 * stabilisation, granting or revoking a role of a login the participant's snapshot carries over, or suspending,
 * reinstating or deactivating it, needs a "role_change" exception approved by an officer (four eyes), named by the
 * login's email or user id. Each approved exception lets one change (one command) through and is then used up, with
 * its use audited. Logins added after the cutoff are not carried over and are not frozen. Called by the one writer
 * of grants (grantRoles, revokeGrants) and by the user status change, inside the command's transaction.
 */
export async function guardFrozenLogins(cx: CommandContext, participantId: string | null, userIds: readonly string[]): Promise<void> {
  if (!participantId || userIds.length === 0) return;
  const { tx, now } = cx;
  const frozen = await tx
    .select({ rollout: rollouts, content: rolloutSnapshots.content })
    .from(rolloutSnapshots)
    .innerJoin(rollouts, eq(rollouts.id, rolloutSnapshots.rolloutId))
    .where(and(eq(rolloutSnapshots.participantId, participantId), lte(rollouts.verificationStartAt, now), isNull(rollouts.stabilisationEndedAt)));
  if (frozen.length === 0) return;
  const touched = new Set(userIds);
  let permitted = permittedInRun.get(now);
  if (!permitted) permittedInRun.set(now, (permitted = new Set()));
  for (const { rollout, content } of frozen) {
    const carried = (JSON.parse(content) as SnapshotContent).users.filter((u) => touched.has(u.id) && !permitted.has(`${rollout.id}/${u.id}`));
    for (const login of carried) {
      const refs = new Set([login.id.toLowerCase(), login.email.toLowerCase()]);
      const approved = await tx
        .select()
        .from(rolloutFreezeExceptions)
        .where(
          and(
            eq(rolloutFreezeExceptions.rolloutId, rollout.id),
            eq(rolloutFreezeExceptions.participantId, participantId),
            eq(rolloutFreezeExceptions.kind, "role_change"),
            eq(rolloutFreezeExceptions.status, "approved"),
          ),
        )
        .orderBy(asc(rolloutFreezeExceptions.decidedAt), asc(rolloutFreezeExceptions.id))
        .for("update");
      const exception = approved.find((e) => refs.has(e.subjectRef.trim().toLowerCase()));
      if (!exception) {
        throw new AppError(409, "rollout.error.frozenLogin", {}, {
          rollout: rollout.name,
          login: login.email,
          from: formatHongKongTime(rollout.verificationStartAt, "en"),
          fromZh: formatHongKongTime(rollout.verificationStartAt, "zh-HK"),
          until: hongKongDay(rollout.stabilisationEndAt),
        });
      }
      await tx.update(rolloutFreezeExceptions).set({ status: "used" }).where(eq(rolloutFreezeExceptions.id, exception.id));
      permitted.add(`${rollout.id}/${login.id}`);
      cx.audit({
        action: "rollout.freeze_exception.used",
        entityType: "rollout_freeze_exception",
        entityId: exception.id,
        participantId,
        metadata: { rolloutId: rollout.id, kind: exception.kind, subjectRef: exception.subjectRef, userId: login.id },
      });
    }
  }
}
