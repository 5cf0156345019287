import { randomUUID } from "node:crypto";
import { and, asc, eq, inArray, isNull, lte } from "drizzle-orm";
import { z } from "zod";
import type { DbOrTx, Transaction } from "../../../db/client.server";
import {
  FALLBACK_DECISIONS,
  FREEZE_EXCEPTION_KINDS,
  PARTICIPANT_STATUSES,
  PARTICIPANT_TYPES,
  VERIFICATION_OUTCOMES,
  VERIFICATION_SUBJECTS,
  ocpServices,
  participants,
  roleGrants,
  rolloutFallbackDecisions,
  rolloutFreezeExceptions,
  rolloutParticipants,
  rolloutResults,
  rolloutSnapshots,
  rollouts,
  users,
  type Rollout,
  type RolloutFallbackDecision,
  type RolloutFreezeException,
  type RolloutResult,
  type RolloutSnapshot,
} from "../../../db/schema";
import { formatHongKongTime, translator, type MessageKey } from "~/i18n/messages";
import { AppError, notFound } from "~/lib/errors";
import { calendarDay, endOfHongKongDay, hongKongDay, hongKongDayPlus, parseInstant, startOfHongKongDay } from "~/lib/hong-kong-time";
import { defineCommand, platformWide, type CommandContext } from "../command.server";
import type { ServiceContext } from "../context.server";
import { composeMail, queueMail } from "../mail/service.server";
import { optionalText, requiredText } from "../participants/schemas";
import { grantCountsNow } from "../roles/facts.server";
import { ADMINISTRATOR_ROLES } from "../roles/rules";
import { canonicalJson, carryOverAt, sha256Hex } from "./carry-over.server";
import { DEFAULT_STABILISATION_DAYS, MILESTONES, MIN_REASON_LENGTH, inFreeze, milestonesInOrder, moveMilestone as moveRule, type Milestone, type Milestones, type SnapshotContent } from "./rules";

/** The fallback checklist every rollout starts with (circular §5): standby systems, retained passwords, a contact. */
export const DEFAULT_CHECKLIST = ["standby_systems", "retained_credentials", "contact_person"] as const;

const id = z.string().trim().min(1, { error: "validation.required" }).max(100, { error: "validation.tooLong" });
const participantId = z.string().trim().regex(/^[A-Z][0-9]{5}$/, { error: "participant.error.idFormat" });
const reason = z
  .string({ error: "validation.required" })
  .trim()
  .min(MIN_REASON_LENGTH, { error: "rollout.error.reason" })
  .max(2000, { error: "validation.tooLong" });
const instant = z
  .string({ error: "validation.required" })
  .trim()
  .transform((v, ctx) => {
    const at = parseInstant(v);
    if (!at) {
      ctx.addIssue({ code: "custom", message: "rollout.error.instant" });
      return z.NEVER;
    }
    return at;
  });

export function milestonesOf(r: Pick<Rollout, Milestone>): Milestones {
  return Object.fromEntries(MILESTONES.map((k) => [k, r[k]])) as Milestones;
}

// ---------------------------------------------------------------------------------------------------------------
// Mail to the participants' administrators, each in their own language (users.locale): a parameter given as `x` and
// `xZh` reads the Chinese one in Chinese.

async function administratorsOf(tx: DbOrTx, participantIds: readonly string[], now: Date): Promise<{ email: string; participantId: string; locale: string }[]> {
  if (participantIds.length === 0) return [];
  const rows = await tx
    .selectDistinct({ email: users.email, participantId: roleGrants.participantId, locale: users.locale })
    .from(roleGrants)
    .innerJoin(users, eq(users.id, roleGrants.userId))
    .where(and(inArray(roleGrants.participantId, [...participantIds]), inArray(roleGrants.roleCode, [...ADMINISTRATOR_ROLES]), eq(users.status, "active"), grantCountsNow(now)));
  return rows.filter((r): r is { email: string; participantId: string; locale: "en" | "zh-HK" } => r.participantId !== null);
}

async function mailAdministrators(cx: CommandContext, rolloutId: string, participantIds: readonly string[], kind: string, subjectKey: MessageKey, bodyKey: MessageKey, params: Record<string, string>): Promise<number> {
  const admins = await administratorsOf(cx.tx, participantIds, cx.now);
  await queueMail(
    cx.tx,
    admins.map((a) => {
      const mail = composeMail(a.locale, subjectKey, bodyKey, { ...params, participant: a.participantId });
      return { toAddress: a.email, subject: mail.subject, body: mail.body, kind, participantId: a.participantId, createdAt: cx.now, metadata: { rolloutId, locale: mail.locale } };
    }),
  );
  return admins.length;
}

async function participantsOf(tx: DbOrTx, rolloutId: string): Promise<string[]> {
  const rows = await tx.select({ participantId: rolloutParticipants.participantId }).from(rolloutParticipants).where(eq(rolloutParticipants.rolloutId, rolloutId)).orderBy(asc(rolloutParticipants.participantId));
  return rows.map((r) => r.participantId);
}

async function lockedRollout(tx: Transaction, rolloutId: string): Promise<Rollout> {
  const [row] = await tx.select().from(rollouts).where(eq(rollouts.id, rolloutId)).for("update");
  if (!row) throw notFound();
  return row;
}

/** The tenant of a command about one participant in a rollout: 404 when the participant is not in it. */
async function participantInRollout(tx: DbOrTx, input: { rolloutId: string; participantId: string }): Promise<string> {
  const [row] = await tx
    .select({ participantId: rolloutParticipants.participantId })
    .from(rolloutParticipants)
    .where(and(eq(rolloutParticipants.rolloutId, input.rolloutId), eq(rolloutParticipants.participantId, input.participantId)));
  if (!row) throw notFound();
  return row.participantId;
}

// ---------------------------------------------------------------------------------------------------------------
// Creating a rollout

const createSchema = z.object({
  name: requiredText(200),
  serviceCodes: z.array(z.string().regex(/^[a-z_]{1,60}$/, { error: "validation.invalid" })).min(1, { error: "rollout.error.services" }).max(20),
  participantIds: z.array(participantId).max(2000).default([]),
  // "All certified GCPs": every participant of this type and status, added to those chosen.
  filterType: z.enum(PARTICIPANT_TYPES, { error: "validation.invalid" }).nullish(),
  filterStatus: z.enum(PARTICIPANT_STATUSES, { error: "validation.invalid" }).nullish(),
  cutoffDay: calendarDay(),
  conversionDay: calendarDay(),
  verificationStart: instant,
  verificationEnd: instant,
  launchDay: calendarDay(),
  stabilisationEndDay: z
    .string()
    .trim()
    .nullish()
    .transform((v) => (v ? v : null))
    .pipe(calendarDay().nullable()),
  checklist: z.array(requiredText(200)).max(20).default([]),
});

/** The milestones a person enters, in Hong Kong time: days for the cutoff, conversion, launch and end; times for the session. */
export function milestonesFromInput(input: { cutoffDay: string; conversionDay: string; verificationStart: Date; verificationEnd: Date; launchDay: string; stabilisationEndDay: string | null }): Milestones {
  const launchAt = startOfHongKongDay(input.launchDay);
  return {
    // The end of the cutoff day: its logins and passwords are the ones carried over.
    cutoffAt: endOfHongKongDay(input.cutoffDay),
    conversionAt: startOfHongKongDay(input.conversionDay),
    verificationStartAt: input.verificationStart,
    verificationEndAt: input.verificationEnd,
    launchAt,
    stabilisationEndAt: input.stabilisationEndDay ? endOfHongKongDay(input.stabilisationEndDay) : startOfHongKongDay(hongKongDayPlus(launchAt, DEFAULT_STABILISATION_DAYS)),
  };
}

/** An officer creates a rollout: its services, its participants (chosen, or by type and status), its milestones. */
export const createRollout = defineCommand({
  name: "rollouts.create",
  permission: "rollout:manage",
  input: createSchema,
  events: ["rollout.created"],
  tenant: platformWide,
  async run(cx): Promise<Rollout> {
    const { tx, input, now } = cx;
    const milestones = milestonesFromInput(input);
    if (!milestonesInOrder(milestones)) throw new AppError(400, "error.badRequest", { launchDay: "rollout.error.order" });
    const services = await tx.select({ code: ocpServices.code }).from(ocpServices).where(inArray(ocpServices.code, input.serviceCodes));
    if (services.length !== new Set(input.serviceCodes).size) throw new AppError(400, "error.badRequest", { serviceCodes: "rollout.error.services" });
    const chosen = [...new Set(input.participantIds)];
    const found = chosen.length ? await tx.select({ id: participants.id }).from(participants).where(inArray(participants.id, chosen)) : [];
    if (found.length !== chosen.length) throw new AppError(400, "error.badRequest", { participantIds: "rollout.error.participants" });
    const filtered =
      input.filterType || input.filterStatus
        ? await tx
            .select({ id: participants.id })
            .from(participants)
            .where(and(input.filterType ? eq(participants.type, input.filterType) : undefined, input.filterStatus ? eq(participants.status, input.filterStatus) : undefined))
        : [];
    const members = [...new Set([...chosen, ...filtered.map((p) => p.id)])].sort();
    if (members.length === 0) throw new AppError(400, "error.badRequest", { participantIds: "rollout.error.noParticipants" });
    const checklist = input.checklist.length ? [...new Set(input.checklist)] : [...DEFAULT_CHECKLIST];
    const [rollout] = await tx
      .insert(rollouts)
      .values({ id: randomUUID(), name: input.name, serviceCodes: [...new Set(input.serviceCodes)].sort(), checklist, ...milestones, createdBy: cx.actor.userId, createdAt: now })
      .returning();
    for (let i = 0; i < members.length; i += 1000) await tx.insert(rolloutParticipants).values(members.slice(i, i + 1000).map((p) => ({ rolloutId: rollout!.id, participantId: p })));
    cx.audit({
      action: "rollout.created",
      entityType: "rollout",
      entityId: rollout!.id,
      metadata: { name: input.name, serviceCodes: rollout!.serviceCodes, participantIds: members, checklist, ...Object.fromEntries(MILESTONES.map((k) => [k, milestones[k].toISOString()])) },
    });
    return rollout!;
  },
});

// ---------------------------------------------------------------------------------------------------------------
// Moving a milestone

const DAY_MILESTONES: Partial<Record<Milestone, (day: string) => Date>> = {
  cutoffAt: endOfHongKongDay,
  conversionAt: startOfHongKongDay,
  launchAt: startOfHongKongDay,
  stabilisationEndAt: endOfHongKongDay,
};

/** What a person enters for a milestone: a Hong Kong day for the day milestones, a time for the session's window. */
export function milestoneInstant(milestone: Milestone, text: string): Date | null {
  const toDay = DAY_MILESTONES[milestone];
  if (toDay) return /^\d{4}-\d{2}-\d{2}$/.test(text.trim()) && parseInstant(text.trim()) ? toDay(text.trim()) : null;
  return parseInstant(text.trim());
}

const MOVE_REFUSALS: Record<string, MessageKey> = {
  passed: "rollout.error.passed",
  to_past: "rollout.error.toPast",
  order: "rollout.error.order",
  reason: "rollout.error.reason",
  ended: "rollout.error.ended",
  unchanged: "rollout.error.unchanged",
};

/**
 * Moves a milestone that has not passed, with a reason; the participants' administrators are told by mail. Under
 * the rollout's row lock, so two officers moving milestones take turns and the order always holds.
 */
export const moveRolloutMilestone = defineCommand({
  name: "rollouts.moveMilestone",
  permission: "rollout:manage",
  input: z.object({ rolloutId: id, milestone: z.enum(MILESTONES, { error: "validation.invalid" }), to: z.string().trim().max(40), reason }),
  events: ["rollout.milestone.moved"],
  tenant: platformWide,
  async run(cx): Promise<Rollout> {
    const { tx, input, now } = cx;
    const rollout = await lockedRollout(tx, input.rolloutId);
    const to = milestoneInstant(input.milestone, input.to);
    if (!to) throw new AppError(400, "error.badRequest", { to: "rollout.error.instant" });
    const moved = moveRule(milestonesOf(rollout), input.milestone, to, input.reason, now, rollout.stabilisationEndedAt !== null);
    if (!moved.ok) {
      const key = MOVE_REFUSALS[moved.refusal]!;
      if (moved.refusal === "passed" || moved.refusal === "ended") throw new AppError(409, key);
      throw new AppError(400, "error.badRequest", { [moved.refusal === "reason" ? "reason" : "to"]: key });
    }
    const [after] = await tx
      .update(rollouts)
      .set({ [input.milestone]: to, version: rollout.version + 1 })
      .where(eq(rollouts.id, rollout.id))
      .returning();
    const members = await participantsOf(tx, rollout.id);
    const recipients = await mailAdministrators(cx, rollout.id, members, "rollout_milestone_moved", "rollout.mail.moved.subject", "rollout.mail.moved.body", {
      rollout: rollout.name,
      milestone: translator("en")(`rollout.milestone.${input.milestone}`),
      milestoneZh: translator("zh-HK")(`rollout.milestone.${input.milestone}`),
      from: formatHongKongTime(rollout[input.milestone], "en"),
      fromZh: formatHongKongTime(rollout[input.milestone], "zh-HK"),
      to: formatHongKongTime(to, "en"),
      toZh: formatHongKongTime(to, "zh-HK"),
      reason: input.reason,
    });
    cx.audit({
      action: "rollout.milestone.moved",
      entityType: "rollout",
      entityId: rollout.id,
      reason: input.reason,
      changes: { [input.milestone]: { before: rollout[input.milestone].toISOString(), after: to.toISOString() } },
      metadata: { milestone: input.milestone, recipients },
    });
    return after!;
  },
});

// ---------------------------------------------------------------------------------------------------------------
// The carry-over snapshot

/**
 * Seals what carries over for one participant at the rollout's cutoff: its users, grants, API clients and keys, as
 * canonical JSON with its SHA-256 digest, which the audit event carries into the hash chain. It is the state when
 * the snapshot is sealed — the jobs runner seals it as soon as the end-of-day cutoff has passed, and the page shows
 * when it was taken — not a reconstruction from timestamps (users have no status history outside the audit trail).
 * Idempotent: the unique (rollout, participant) key and the participant's row lock make one snapshot however many
 * times, or by however many processes, it is asked for; a second ask returns the first and records nothing.
 */
export const takeSnapshot = defineCommand({
  name: "rollouts.takeSnapshot",
  permission: "rollout:manage",
  input: z.object({ rolloutId: id, participantId }),
  events: ["rollout.snapshot.taken"],
  tenant: (tx, input) => participantInRollout(tx, input),
  async run(cx): Promise<{ snapshot: RolloutSnapshot; created: boolean }> {
    const { tx, input, now } = cx;
    const [rollout] = await tx.select().from(rollouts).where(eq(rollouts.id, input.rolloutId));
    if (!rollout) throw notFound();
    const existing = await snapshotOf(tx, rollout.id, input.participantId);
    if (existing) return { snapshot: existing, created: false };
    if (now.getTime() <= rollout.cutoffAt.getTime()) throw new AppError(409, "rollout.error.beforeCutoff");
    const content: SnapshotContent = {
      rolloutId: rollout.id,
      participantId: input.participantId,
      cutoffAt: rollout.cutoffAt.toISOString(),
      ...(await carryOverAt(tx, input.participantId, now)),
    };
    const text = canonicalJson(content);
    const digest = sha256Hex(text);
    const [snapshot] = await tx
      .insert(rolloutSnapshots)
      .values({ id: randomUUID(), rolloutId: rollout.id, participantId: input.participantId, cutoffAt: rollout.cutoffAt, content: text, digest, takenBy: cx.actor.userId, takenAt: now })
      .onConflictDoNothing()
      .returning();
    if (!snapshot) return { snapshot: (await snapshotOf(tx, rollout.id, input.participantId))!, created: false };
    cx.audit({
      action: "rollout.snapshot.taken",
      entityType: "rollout_snapshot",
      entityId: snapshot.id,
      participantId: input.participantId,
      metadata: {
        rolloutId: rollout.id,
        cutoffAt: rollout.cutoffAt.toISOString(),
        digest,
        algorithm: "sha256 of RFC 8785 canonical JSON",
        users: content.users.length,
        grants: content.grants.length,
        apiClients: content.apiClients.length,
        keys: content.keys.length,
      },
    });
    return { snapshot, created: true };
  },
});

export async function snapshotOf(db: DbOrTx, rolloutId: string, participantId: string): Promise<RolloutSnapshot | null> {
  const [row] = await db.select().from(rolloutSnapshots).where(and(eq(rolloutSnapshots.rolloutId, rolloutId), eq(rolloutSnapshots.participantId, participantId)));
  return row ?? null;
}

/** The snapshots due (cutoff passed, none taken yet), for the jobs runner. */
export async function dueSnapshots(db: DbOrTx, now: Date): Promise<{ rolloutId: string; participantId: string }[]> {
  return db
    .select({ rolloutId: rolloutParticipants.rolloutId, participantId: rolloutParticipants.participantId })
    .from(rolloutParticipants)
    .innerJoin(rollouts, eq(rollouts.id, rolloutParticipants.rolloutId))
    .leftJoin(rolloutSnapshots, and(eq(rolloutSnapshots.rolloutId, rolloutParticipants.rolloutId), eq(rolloutSnapshots.participantId, rolloutParticipants.participantId)))
    .where(and(lte(rollouts.cutoffAt, now), isNull(rolloutSnapshots.id), isNull(rollouts.stabilisationEndedAt)))
    .orderBy(asc(rolloutParticipants.rolloutId), asc(rolloutParticipants.participantId));
}

/** The jobs runner's part: every snapshot due, taken by the console itself. Answers how many it made. */
export async function takeDueSnapshots(ctx: ServiceContext, now = new Date()): Promise<number> {
  let taken = 0;
  for (const due of await dueSnapshots(ctx.db, now)) {
    const { created } = await takeSnapshot(ctx, due);
    if (created) taken++;
  }
  return taken;
}

// ---------------------------------------------------------------------------------------------------------------
// Verification session results

const resultSchema = z
  .object({
    rolloutId: id,
    participantId,
    subjectKind: z.enum(VERIFICATION_SUBJECTS, { error: "validation.invalid" }),
    subjectRef: id,
    outcome: z.enum(VERIFICATION_OUTCOMES, { error: "validation.invalid" }),
    reason: optionalText(2000),
    evidence: optionalText(4000),
  })
  .refine((v) => v.outcome !== "failed" || (v.reason ?? "").length >= MIN_REASON_LENGTH, { error: "rollout.error.failureReason", path: ["reason"] });

/** The subjects a participant verifies: the rollout's services, and the logins and API clients its snapshot carries over. */
export async function subjectsOf(db: DbOrTx, rollout: Rollout, participantId: string): Promise<{ services: string[]; logins: string[]; apiClients: string[] } | null> {
  const snapshot = await snapshotOf(db, rollout.id, participantId);
  if (!snapshot) return null;
  const content = JSON.parse(snapshot.content) as SnapshotContent;
  return { services: rollout.serviceCodes, logins: content.users.filter((u) => u.status === "active").map((u) => u.id), apiClients: content.apiClients.map((c) => c.id) };
}

/**
 * A participant's administrator records a result of the verification session: for a service of the rollout or a
 * login or API client its snapshot carries over; verified, failed (with the reason) or not attempted. Recording it
 * again replaces it, and an officer's confirmation of the earlier one no longer counts.
 */
export const recordResult = defineCommand({
  name: "rollouts.recordResult",
  permission: "rollout:complete",
  input: resultSchema,
  events: ["rollout.result.recorded"],
  tenant: (tx, input) => participantInRollout(tx, input),
  async run(cx): Promise<RolloutResult> {
    const { tx, input, now } = cx;
    const [rollout] = await tx.select().from(rollouts).where(eq(rollouts.id, input.rolloutId));
    if (!rollout) throw notFound();
    if (rollout.stabilisationEndedAt) throw new AppError(409, "rollout.error.ended");
    if (input.subjectKind === "service") {
      if (!rollout.serviceCodes.includes(input.subjectRef)) throw new AppError(400, "error.badRequest", { subjectRef: "rollout.error.subject" });
    } else {
      const subjects = await subjectsOf(tx, rollout, input.participantId);
      if (!subjects) throw new AppError(409, "rollout.error.noSnapshot");
      const list = input.subjectKind === "login" ? subjects.logins : subjects.apiClients;
      if (!list.includes(input.subjectRef)) throw new AppError(400, "error.badRequest", { subjectRef: "rollout.error.subject" });
    }
    const where = and(
      eq(rolloutResults.rolloutId, rollout.id),
      eq(rolloutResults.participantId, input.participantId),
      eq(rolloutResults.subjectKind, input.subjectKind),
      eq(rolloutResults.subjectRef, input.subjectRef),
    );
    const [before] = await tx.select().from(rolloutResults).where(where).for("update");
    const values = { outcome: input.outcome, reason: input.reason, evidence: input.evidence, recordedBy: cx.actor.userId, recordedAt: now, confirmedBy: null, confirmedAt: null };
    const [after] = before
      ? await tx.update(rolloutResults).set({ ...values, version: before.version + 1 }).where(eq(rolloutResults.id, before.id)).returning()
      : await tx.insert(rolloutResults).values({ id: randomUUID(), rolloutId: rollout.id, participantId: input.participantId, subjectKind: input.subjectKind, subjectRef: input.subjectRef, ...values }).returning();
    cx.audit({
      action: "rollout.result.recorded",
      entityType: "rollout_result",
      entityId: after!.id,
      participantId: input.participantId,
      reason: input.reason,
      changes: { outcome: { before: before?.outcome ?? null, after: input.outcome } },
      metadata: { rolloutId: rollout.id, subjectKind: input.subjectKind, subjectRef: input.subjectRef, evidence: input.evidence, replacedConfirmation: before?.confirmedBy ?? null },
    });
    return after!;
  },
});

async function participantOfResult(tx: DbOrTx, resultId: string): Promise<string> {
  const [row] = await tx.select({ participantId: rolloutResults.participantId }).from(rolloutResults).where(eq(rolloutResults.id, resultId));
  if (!row) throw notFound();
  return row.participantId;
}

/** An officer confirms a recorded result; never the person who recorded it (four eyes). */
export const confirmResult = defineCommand({
  name: "rollouts.confirmResult",
  permission: "rollout:approve",
  input: z.object({ resultId: id, version: z.coerce.number().int().positive().optional() }),
  events: ["rollout.result.confirmed"],
  tenant: (tx, input) => participantOfResult(tx, input.resultId),
  async run(cx): Promise<RolloutResult> {
    const { tx, input, now } = cx;
    const [result] = await tx.select().from(rolloutResults).where(eq(rolloutResults.id, input.resultId)).for("update");
    if (!result) throw notFound();
    if (input.version !== undefined && input.version !== result.version) throw new AppError(409, "error.conflict");
    if (result.recordedBy === cx.actor.userId) throw new AppError(403, "rollout.error.fourEyes");
    if (result.confirmedAt) throw new AppError(409, "rollout.error.alreadyConfirmed");
    const [after] = await tx.update(rolloutResults).set({ confirmedBy: cx.actor.userId, confirmedAt: now, version: result.version + 1 }).where(eq(rolloutResults.id, result.id)).returning();
    cx.audit({
      action: "rollout.result.confirmed",
      entityType: "rollout_result",
      entityId: result.id,
      participantId: result.participantId,
      metadata: { rolloutId: result.rolloutId, subjectKind: result.subjectKind, subjectRef: result.subjectRef, outcome: result.outcome, recordedBy: result.recordedBy },
    });
    return after!;
  },
});

// ---------------------------------------------------------------------------------------------------------------
// The fallback checklist

/** A participant's administrator confirms the items of the rollout's fallback checklist it has in place. */
export const confirmChecklist = defineCommand({
  name: "rollouts.confirmChecklist",
  permission: "rollout:complete",
  input: z.object({ rolloutId: id, participantId, items: z.array(z.string().trim().min(1).max(200)).max(20).default([]), contactPerson: optionalText(200) }),
  events: ["rollout.checklist.confirmed"],
  tenant: (tx, input) => participantInRollout(tx, input),
  async run(cx): Promise<void> {
    const { tx, input, now } = cx;
    const [rollout] = await tx.select().from(rollouts).where(eq(rollouts.id, input.rolloutId));
    if (!rollout) throw notFound();
    if (rollout.stabilisationEndedAt) throw new AppError(409, "rollout.error.ended");
    const items = [...new Set(input.items)];
    if (items.some((i) => !rollout.checklist.includes(i))) throw new AppError(400, "error.badRequest", { items: "rollout.error.checklistItem" });
    if (items.includes("contact_person") && !input.contactPerson) throw new AppError(400, "error.badRequest", { contactPerson: "rollout.error.contact" });
    const [before] = await tx
      .select()
      .from(rolloutParticipants)
      .where(and(eq(rolloutParticipants.rolloutId, rollout.id), eq(rolloutParticipants.participantId, input.participantId)))
      .for("update");
    await tx
      .update(rolloutParticipants)
      .set({ checklistConfirmed: items, checklistConfirmedBy: cx.actor.userId, checklistConfirmedAt: now, contactPerson: input.contactPerson, version: before!.version + 1 })
      .where(and(eq(rolloutParticipants.rolloutId, rollout.id), eq(rolloutParticipants.participantId, input.participantId)));
    cx.audit({
      action: "rollout.checklist.confirmed",
      entityType: "rollout_participant",
      entityId: `${rollout.id}/${input.participantId}`,
      participantId: input.participantId,
      changes: { checklistConfirmed: { before: before!.checklistConfirmed, after: items }, contactPerson: { before: before!.contactPerson, after: input.contactPerson } },
      metadata: { rolloutId: rollout.id, open: rollout.checklist.filter((i) => !items.includes(i)) },
    });
  },
});

// ---------------------------------------------------------------------------------------------------------------
// The fallback decision, four eyes

/** An officer proposes the fallback decision (invoke the fallback plan, or continue), with a reason; during stabilisation. */
export const proposeFallback = defineCommand({
  name: "rollouts.proposeFallback",
  permission: "rollout:decide",
  input: z.object({ rolloutId: id, decision: z.enum(FALLBACK_DECISIONS, { error: "validation.invalid" }), reason }),
  events: ["rollout.fallback.proposed"],
  tenant: platformWide,
  async run(cx): Promise<RolloutFallbackDecision> {
    const { tx, input, now } = cx;
    const rollout = await lockedRollout(tx, input.rolloutId);
    if (rollout.stabilisationEndedAt) throw new AppError(409, "rollout.error.ended");
    if (now.getTime() < rollout.launchAt.getTime()) throw new AppError(409, "rollout.error.notInStabilisation");
    if (rollout.fallbackDecision) throw new AppError(409, "rollout.error.fallbackDecided");
    const [open] = await tx.select({ id: rolloutFallbackDecisions.id }).from(rolloutFallbackDecisions).where(and(eq(rolloutFallbackDecisions.rolloutId, rollout.id), eq(rolloutFallbackDecisions.status, "proposed")));
    if (open) throw new AppError(409, "rollout.error.fallbackOpen");
    const [row] = await tx.insert(rolloutFallbackDecisions).values({ id: randomUUID(), rolloutId: rollout.id, decision: input.decision, reason: input.reason, proposedBy: cx.actor.userId, proposedAt: now }).returning();
    cx.audit({ action: "rollout.fallback.proposed", entityType: "rollout_fallback_decision", entityId: row!.id, reason: input.reason, metadata: { rolloutId: rollout.id, decision: input.decision } });
    return row!;
  },
});

async function fallbackDecision(tx: DbOrTx, decisionId: string): Promise<RolloutFallbackDecision> {
  const [row] = await tx.select().from(rolloutFallbackDecisions).where(eq(rolloutFallbackDecisions.id, decisionId));
  if (!row) throw notFound();
  return row;
}

/**
 * A second officer approves or rejects the proposed decision. Approved, it marks the rollout and every
 * participant's administrators are told.
 */
export const decideFallback = defineCommand({
  name: "rollouts.decideFallback",
  permission: "rollout:decide",
  input: z.object({ decisionId: id, approve: z.union([z.boolean(), z.enum(["approve", "reject"]).transform((v) => v === "approve")]), comment: optionalText(2000) }),
  events: ["rollout.fallback.approved", "rollout.fallback.rejected"],
  tenant: platformWide,
  async run(cx): Promise<RolloutFallbackDecision> {
    const { tx, input, now } = cx;
    const proposal = await fallbackDecision(tx, input.decisionId);
    const rollout = await lockedRollout(tx, proposal.rolloutId);
    const [locked] = await tx.select().from(rolloutFallbackDecisions).where(eq(rolloutFallbackDecisions.id, proposal.id)).for("update");
    if (locked!.status !== "proposed") throw new AppError(409, "rollout.error.fallbackNotOpen");
    if (locked!.proposedBy === cx.actor.userId) throw new AppError(403, "rollout.error.fourEyes");
    const [after] = await tx
      .update(rolloutFallbackDecisions)
      .set({ status: input.approve ? "approved" : "rejected", decidedBy: cx.actor.userId, decidedAt: now })
      .where(eq(rolloutFallbackDecisions.id, proposal.id))
      .returning();
    let recipients = 0;
    if (input.approve) {
      await tx.update(rollouts).set({ fallbackDecision: locked!.decision, fallbackDecidedAt: now, version: rollout.version + 1 }).where(eq(rollouts.id, rollout.id));
      recipients = await mailAdministrators(cx, rollout.id, await participantsOf(tx, rollout.id), "rollout_fallback_decided", `rollout.mail.fallback.${locked!.decision}.subject`, `rollout.mail.fallback.${locked!.decision}.body`, {
        rollout: rollout.name,
        reason: locked!.reason,
      });
    }
    cx.audit({
      action: input.approve ? "rollout.fallback.approved" : "rollout.fallback.rejected",
      entityType: "rollout_fallback_decision",
      entityId: proposal.id,
      reason: input.comment,
      changes: input.approve ? { fallbackDecision: { before: null, after: locked!.decision } } : null,
      metadata: { rolloutId: rollout.id, decision: locked!.decision, proposedBy: locked!.proposedBy, recipients },
    });
    return after!;
  },
});

// ---------------------------------------------------------------------------------------------------------------
// Change freeze exceptions, four eyes

/**
 * During the freeze, a participant's administrator asks for an exception to change something carried over (a key
 * rotation, a role change of a carried-over login, a new program version), with a reason. The dashboard shows it
 * until an officer decides.
 */
export const requestFreezeException = defineCommand({
  name: "rollouts.requestFreezeException",
  permission: "rollout:complete",
  input: z.object({ rolloutId: id, participantId, kind: z.enum(FREEZE_EXCEPTION_KINDS, { error: "validation.invalid" }), subjectRef: requiredText(200), reason }),
  events: ["rollout.freeze_exception.requested"],
  tenant: (tx, input) => participantInRollout(tx, input),
  async run(cx): Promise<RolloutFreezeException> {
    const { tx, input, now } = cx;
    const [rollout] = await tx.select().from(rollouts).where(eq(rollouts.id, input.rolloutId));
    if (!rollout) throw notFound();
    if (!inFreeze(rollout, rollout.stabilisationEndedAt, now)) throw new AppError(409, "rollout.error.notFrozen");
    const [row] = await tx
      .insert(rolloutFreezeExceptions)
      .values({ id: randomUUID(), rolloutId: rollout.id, participantId: input.participantId, kind: input.kind, subjectRef: input.subjectRef, reason: input.reason, requestedBy: cx.actor.userId, requestedAt: now })
      .returning();
    cx.audit({ action: "rollout.freeze_exception.requested", entityType: "rollout_freeze_exception", entityId: row!.id, participantId: input.participantId, reason: input.reason, metadata: { rolloutId: rollout.id, kind: input.kind, subjectRef: input.subjectRef } });
    return row!;
  },
});

async function participantOfException(tx: DbOrTx, exceptionId: string): Promise<string> {
  const [row] = await tx.select({ participantId: rolloutFreezeExceptions.participantId }).from(rolloutFreezeExceptions).where(eq(rolloutFreezeExceptions.id, exceptionId));
  if (!row) throw notFound();
  return row.participantId;
}

/** An officer other than the requester approves or rejects a freeze exception. */
export const decideFreezeException = defineCommand({
  name: "rollouts.decideFreezeException",
  permission: "rollout:approve",
  input: z.object({ exceptionId: id, approve: z.union([z.boolean(), z.enum(["approve", "reject"]).transform((v) => v === "approve")]), comment: optionalText(2000) }),
  events: ["rollout.freeze_exception.approved", "rollout.freeze_exception.rejected"],
  tenant: (tx, input) => participantOfException(tx, input.exceptionId),
  async run(cx): Promise<RolloutFreezeException> {
    const { tx, input, now } = cx;
    const [row] = await tx.select().from(rolloutFreezeExceptions).where(eq(rolloutFreezeExceptions.id, input.exceptionId)).for("update");
    if (!row) throw notFound();
    if (row.status !== "pending") throw new AppError(409, "rollout.error.exceptionDecided");
    if (row.requestedBy === cx.actor.userId) throw new AppError(403, "rollout.error.fourEyes");
    const [after] = await tx
      .update(rolloutFreezeExceptions)
      .set({ status: input.approve ? "approved" : "rejected", decidedBy: cx.actor.userId, decidedAt: now })
      .where(eq(rolloutFreezeExceptions.id, row.id))
      .returning();
    cx.audit({
      action: input.approve ? "rollout.freeze_exception.approved" : "rollout.freeze_exception.rejected",
      entityType: "rollout_freeze_exception",
      entityId: row.id,
      participantId: row.participantId,
      reason: input.comment,
      metadata: { rolloutId: row.rolloutId, kind: row.kind, subjectRef: row.subjectRef, requestedBy: row.requestedBy },
    });
    return after!;
  },
});

// ---------------------------------------------------------------------------------------------------------------
// The end of stabilisation

/**
 * HKEX announces the end of stabilisation: a recorded step, after launch, that releases the change freeze and the
 * retained credentials; the participants' administrators are told.
 */
export const endStabilisation = defineCommand({
  name: "rollouts.endStabilisation",
  permission: "rollout:manage",
  input: z.object({ rolloutId: id, reason: optionalText(2000) }),
  events: ["rollout.stabilisation.ended"],
  tenant: platformWide,
  async run(cx): Promise<Rollout> {
    const { tx, input, now } = cx;
    const rollout = await lockedRollout(tx, input.rolloutId);
    if (rollout.stabilisationEndedAt) throw new AppError(409, "rollout.error.ended");
    if (now.getTime() < rollout.launchAt.getTime()) throw new AppError(409, "rollout.error.notInStabilisation");
    const [open] = await tx.select({ id: rolloutFallbackDecisions.id }).from(rolloutFallbackDecisions).where(and(eq(rolloutFallbackDecisions.rolloutId, rollout.id), eq(rolloutFallbackDecisions.status, "proposed")));
    if (open) throw new AppError(409, "rollout.error.fallbackOpen");
    const [after] = await tx.update(rollouts).set({ stabilisationEndedAt: now, stabilisationEndedBy: cx.actor.userId, version: rollout.version + 1 }).where(eq(rollouts.id, rollout.id)).returning();
    const recipients = await mailAdministrators(cx, rollout.id, await participantsOf(tx, rollout.id), "rollout_stabilisation_ended", "rollout.mail.ended.subject", "rollout.mail.ended.body", { rollout: rollout.name, day: hongKongDay(now) });
    cx.audit({
      action: "rollout.stabilisation.ended",
      entityType: "rollout",
      entityId: rollout.id,
      reason: input.reason,
      changes: { stabilisationEndedAt: { before: null, after: now.toISOString() } },
      metadata: { plannedEnd: rollout.stabilisationEndAt.toISOString(), recipients },
    });
    return after!;
  },
});

/** An officer takes the snapshots of a rollout now (after its cutoff), for the participants that have none yet. */
export async function takeSnapshotsOf(ctx: ServiceContext, rolloutId: string): Promise<number> {
  const due = (await dueSnapshots(ctx.db, new Date())).filter((d) => d.rolloutId === rolloutId);
  if (due.length === 0) {
    const [rollout] = await ctx.db.select({ cutoffAt: rollouts.cutoffAt }).from(rollouts).where(eq(rollouts.id, rolloutId));
    if (!rollout) throw notFound();
    if (rollout.cutoffAt.getTime() >= Date.now()) throw new AppError(409, "rollout.error.beforeCutoff");
  }
  let taken = 0;
  for (const d of due) if ((await takeSnapshot(ctx, d)).created) taken++;
  return taken;
}
