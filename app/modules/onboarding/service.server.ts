import { and, asc, count, desc, eq, inArray, isNull, ne, or, sql } from "drizzle-orm";
import { z } from "zod";
import { offsetOf, type PageInfo, type Paging } from "~/lib/paging";
import type { DbOrTx } from "../../../db/client.server";
import {
  auditEvents,
  onboardingStepEntries,
  onboardingSteps,
  participants,
  roleGrants,
  users,
  type AuditEvent,
  type OnboardingStep,
  type OnboardingStepEntry,
  type Participant,
  type ParticipantStatus,
  type ParticipantType,
} from "../../../db/schema";
import { pickedUser, userPicker, type UserPicker } from "../users/picker.server";
import { AppError, notFound } from "~/lib/errors";
import { calendarDayPlus } from "~/lib/hong-kong-time";
import { translator } from "~/i18n/messages";
import { diffFields } from "../audit/service.server";
import { defineCommand, type CommandContext } from "../command.server";
import { SYSTEM_ACTOR, type Actor, type ServiceContext } from "../context.server";
import { setParticipantStatus } from "../participants/status.server";
import { holdsRoleNow } from "../roles/facts.server";
import { PERSONA_BY_ROLE } from "~/auth/permissions";
import { assertTenant, mayOn, whereTenant } from "../tenancy.server";
import { issueLinks, LINK_EVENTS } from "../users/links.server";
import { runChecks } from "./checks.server";
import { stepEntrySchema, stepPlanSchema, transitionSchema } from "./schemas";
import {
  WORKFLOW,
  blockersOf,
  deriveParticipantStatus,
  hongKongDate,
  initialCase,
  isOverdue,
  stepDefinition,
  transition,
  type CaseSnapshot,
  type CheckResult,
  type Party,
  type StepAction,
  type StepDefinition,
  type StepEffect,
} from "./workflow";

const REFUSAL_STATUS: Partial<Record<string, 403>> = {
  "case.refused.notYourStep": 403,
  "case.refused.officerOnly": 403,
  "case.refused.fourEyes": 403,
};

/** Which side of the case an actor works on: HKEX officers, the participant's administrators, or the system. */
export function partyOf(actor: Actor): Party | null {
  if (mayOn(actor, "case:automate", null)) return "system";
  if (mayOn(actor, "case:complete", null)) return "officer";
  if (actor.participantId && mayOn(actor, "case:complete", actor.participantId)) return "participant";
  return null;
}

/** A step's owner is HKEX staff or one of the participant's own users. */
/**
 * Who may own a step (issue 13's pickers): the participant's own users who are active or invited, and HKEX's
 * onboarding officers — not compliance, the helpdesk, other firms' users or deactivated accounts.
 */
function ownerEligible(participantId: string, now = new Date()) {
  return or(
    and(eq(users.participantId, participantId), inArray(users.status, ["active", "invited"])),
    and(isNull(users.participantId), eq(users.status, "active"), holdsRoleNow(users.id, OFFICER_ROLES, now)),
  );
}
const OFFICER_ROLES = Object.entries(PERSONA_BY_ROLE).filter(([, persona]) => persona === "officer").map(([code]) => code);

function stepEntityId(participantId: string, stepKey: string) {
  return `${participantId}/${stepKey}`;
}

export function snapshotOf(rows: Pick<OnboardingStep, "stepKey" | "state" | "submittedBy" | "returnReason">[]): CaseSnapshot {
  return Object.fromEntries(
    rows.map((r) => [r.stepKey, { state: r.state, submittedBy: r.submittedBy, returnReason: r.returnReason }]),
  );
}

/** Opens a participant's case inside the command that registers it: one row per workflow step. */
export async function openCase(cx: CommandContext, participantId: string): Promise<void> {
  const initial = initialCase();
  const today = hongKongDate(cx.now);
  await cx.tx.insert(onboardingSteps).values(
    WORKFLOW.map((step) => ({
      participantId,
      stepKey: step.key,
      state: initial[step.key]!.state,
      dueDate: initial[step.key]!.state === "ready" ? calendarDayPlus(today, step.defaultDueDays) : null,
    })),
  );
  cx.audit({
    action: "case.opened",
    entityType: "onboarding_case",
    entityId: participantId,
    participantId,
    metadata: { steps: WORKFLOW.map((s) => s.key) },
  });
}

async function caseRows(db: DbOrTx, participantId: string): Promise<OnboardingStep[]> {
  return db.select().from(onboardingSteps).where(eq(onboardingSteps.participantId, participantId));
}

export const CASE_STATUS_EVENTS = ["participant.status.changed"] as const;

/** Keeps the stored participant status equal to what the case (and any suspension) says, and audits a change. */
export async function recomputeParticipantStatus(cx: CommandContext, participantId: string): Promise<ParticipantStatus> {
  const [p] = await cx.tx.select({ suspendedAt: participants.suspendedAt }).from(participants).where(eq(participants.id, participantId));
  if (!p) throw notFound();
  const status = deriveParticipantStatus(snapshotOf(await caseRows(cx.tx, participantId)), p.suspendedAt !== null);
  return setParticipantStatus(cx, participantId, status);
}

async function evidenceCount(tx: DbOrTx, participantId: string, stepKey: string): Promise<number> {
  const rows = await tx
    .select({ id: onboardingStepEntries.id })
    .from(onboardingStepEntries)
    .where(
      and(
        eq(onboardingStepEntries.participantId, participantId),
        eq(onboardingStepEntries.stepKey, stepKey),
        eq(onboardingStepEntries.kind, "evidence"),
      ),
    );
  return rows.length;
}

/** What a step's approval sets off, by the effect names the workflow definition uses. */
const STEP_EFFECTS: Record<StepEffect, (cx: CommandContext, participantId: string) => Promise<void>> = {
  async issue_administrator_links(cx, participantId) {
    const nominated = await cx.tx
      .selectDistinct({ id: users.id, email: users.email, displayName: users.displayName, participantId: users.participantId, locale: users.locale })
      .from(roleGrants)
      .innerJoin(users, eq(users.id, roleGrants.userId))
      .where(and(eq(roleGrants.participantId, participantId), inArray(roleGrants.roleCode, ["da_maker", "da_checker"]), eq(roleGrants.status, "active"), eq(users.status, "invited")));
    await issueLinks(cx, nominated, "invitation");
  },
};

const [titlesEn, titlesZh] = [translator("en"), translator("zh-HK")];

/** A refusal naming steps ("locked until …") names them by title, in each language, not by key. */
function withStepTitles(params: Record<string, string | number>): Record<string, string | number> {
  if (typeof params.steps !== "string" || !params.steps) return params;
  const keys = params.steps.split(", ");
  const titles = (t: typeof titlesEn) => keys.map((k) => (stepDefinition(k) ? t(stepDefinition(k)!.titleKey) : k)).join(", ");
  return { ...params, steps: titles(titlesEn), stepsZh: titles(titlesZh) };
}

const ACTION_EVENT = {
  start: "case.step.started",
  submit: "case.step.submitted",
  approve: "case.step.approved",
  return: "case.step.returned",
  auto_complete: "case.step.auto_completed",
} as const satisfies Record<StepAction, string>;

/** Everything a change of a step may record: the step itself, what it unlocks and completes, and their effects. */
export const STEP_EVENTS = [...Object.values(ACTION_EVENT), "case.step.unlocked", ...CASE_STATUS_EVENTS, ...LINK_EVENTS] as const;

/**
 * Applies one transition to a step inside a locked case: asks the pure rules, writes the step, unlocks what the
 * approval unlocks, completes automatic steps whose checks now pass, keeps the participant status in line, and
 * audits each change with its before and after.
 */
async function applyTransition(
  cx: CommandContext,
  participantId: string,
  row: OnboardingStep,
  action: StepAction,
  reason: string | null,
  checks: CheckResult[],
): Promise<OnboardingStep> {
  const { tx, actor } = cx;
  const rows = await caseRows(tx, participantId);
  const snapshot = snapshotOf(rows);
  const party = partyOf(actor);
  if (!party) throw new AppError(403, "case.refused.notYourStep");
  const result = transition(snapshot, row.stepKey, {
    action,
    party,
    userId: actor.userId,
    reason,
    checks,
    evidenceCount: action === "submit" ? await evidenceCount(tx, participantId, row.stepKey) : 0,
  });
  if (!result.ok) {
    throw new AppError(REFUSAL_STATUS[result.messageKey] ?? 400, result.messageKey, {}, withStepTitles(result.params ?? {}));
  }
  const now = cx.now;
  const update: Partial<OnboardingStep> = { state: result.state, version: row.version + 1, updatedAt: now };
  if (action === "submit") Object.assign(update, { submittedBy: actor.userId, submittedAt: now });
  if (action === "approve" || action === "return" || action === "auto_complete") {
    Object.assign(update, { decidedBy: actor.userId, decidedAt: now });
  }
  if (action === "return") update.returnReason = reason;
  const [after] = await tx
    .update(onboardingSteps)
    .set(update)
    .where(and(eq(onboardingSteps.participantId, participantId), eq(onboardingSteps.stepKey, row.stepKey)))
    .returning();
  cx.audit({
    action: ACTION_EVENT[action],
    entityType: "onboarding_step",
    entityId: stepEntityId(participantId, row.stepKey),
    participantId,
    reason,
    changes: diffFields(row, after!, ["state", "submittedBy", "decidedBy", "returnReason"]),
    metadata: checks.length ? { checks: checks.map((c) => ({ id: c.id, outcome: c.outcome })) } : null,
  });

  if (action === "approve" || action === "auto_complete") {
    for (const effect of stepDefinition(row.stepKey)?.onApproved ?? []) await STEP_EFFECTS[effect](cx, participantId);
  }

  const today = hongKongDate(now);
  for (const key of result.unlocked) {
    const before = rows.find((r) => r.stepKey === key)!;
    const def = stepDefinition(key)!;
    const [unlocked] = await tx
      .update(onboardingSteps)
      .set({ state: "ready", dueDate: before.dueDate ?? calendarDayPlus(today, def.defaultDueDays), version: before.version + 1, updatedAt: now })
      .where(and(eq(onboardingSteps.participantId, participantId), eq(onboardingSteps.stepKey, key)))
      .returning();
    cx.audit({
      action: "case.step.unlocked",
      entityType: "onboarding_step",
      entityId: stepEntityId(participantId, key),
      participantId,
      changes: diffFields(before, unlocked!, ["state", "dueDate"]),
      metadata: { after: row.stepKey },
    });
  }
  await recomputeParticipantStatus(cx, participantId);
  if (result.unlocked.length > 0) await completeAutomaticSteps(cx, participantId);
  return after!;
}

/**
 * Automatic steps that are ready complete by themselves, when all their checks pass: recorded as done by the
 * console itself, inside whatever change made them pass.
 */
async function completeAutomaticSteps(cx: CommandContext, participantId: string): Promise<number> {
  const asSystem: CommandContext = { ...cx, actor: SYSTEM_ACTOR, audit: (event) => cx.audit({ ...event, actor: SYSTEM_ACTOR }) };
  let completed = 0;
  for (;;) {
    const rows = await caseRows(cx.tx, participantId);
    const candidate = WORKFLOW.find((s) => {
      const state = rows.find((r) => r.stepKey === s.key)?.state;
      return s.approval === "automatic" && (state === "ready" || state === "in_progress");
    });
    if (!candidate) return completed;
    const checks = await runChecks(cx.tx, participantId, candidate.checks, cx.now);
    if (checks.some((c) => c.outcome !== "pass")) return completed;
    await applyTransition(asSystem, participantId, rows.find((r) => r.stepKey === candidate.key)!, "auto_complete", null, checks);
    completed++;
  }
}

async function stepRow(cx: CommandContext, participantId: string, stepKey: string, version: number): Promise<OnboardingStep> {
  const [row] = await cx.tx
    .select()
    .from(onboardingSteps)
    .where(and(eq(onboardingSteps.participantId, participantId), eq(onboardingSteps.stepKey, stepKey)))
    .for("update");
  if (!row) throw notFound();
  if (row.version !== version) throw new AppError(409, "error.conflict");
  return row;
}

/** A case's participant must exist: its row is the case's lock. */
async function existingCase(tx: DbOrTx, input: { participantId: string }): Promise<string> {
  const [p] = await tx.select({ id: participants.id }).from(participants).where(eq(participants.id, input.participantId));
  if (!p) throw notFound();
  return p.id;
}

const caseInput = { participantId: z.string().max(20) };

/**
 * Moves a step: start, submit, approve or return (with a reason). The editor's version must be the step's
 * current one (else 409: someone else moved it first, and nothing is written).
 */
export const transitionStep = defineCommand({
  name: "onboarding.transitionStep",
  permission: (input) => (input.action === "approve" || input.action === "return" ? "case:approve" : "case:complete"),
  refusal: "case.refused.notYourStep",
  input: transitionSchema.extend(caseInput),
  events: STEP_EVENTS,
  tenant: existingCase,
  async run(cx): Promise<OnboardingStep> {
    const { input } = cx;
    const row = await stepRow(cx, input.participantId, input.stepKey, input.version);
    const def = stepDefinition(row.stepKey)!;
    const checks = input.action === "submit" ? await runChecks(cx.tx, input.participantId, def.checks, cx.now) : [];
    return applyTransition(cx, input.participantId, row, input.action, input.reason, checks);
  },
});

/** Re-runs the automatic steps' checks (for example after administrators activated their accounts). */
export const runAutomaticSteps = defineCommand({
  name: "onboarding.runAutomaticSteps",
  permission: "case:complete",
  input: z.object(caseInput),
  events: STEP_EVENTS,
  tenant: existingCase,
  run: (cx): Promise<number> => completeAutomaticSteps(cx, cx.input.participantId),
});

/** Sets a step's owner and due date (officers plan the case). */
export const updateStepPlan = defineCommand({
  name: "onboarding.planStep",
  permission: "case:plan",
  input: stepPlanSchema.extend(caseInput),
  events: ["case.step.planned"],
  tenant: existingCase,
  async run(cx): Promise<OnboardingStep> {
    const { input: data, tx } = cx;
    const participantId = data.participantId;
    const row = await stepRow(cx, participantId, data.stepKey, data.version);
    // The owner comes from the menu (an id) or, for a participant with more users than the menu lists, by email.
    let ownerUserId: string | null = null;
    if (data.ownerUserId) {
      const owner = await pickedUser(tx, data.ownerUserId, ownerEligible(participantId, cx.now));
      if (!owner) throw new AppError(400, "error.badRequest", { ownerUserId: "case.error.owner" });
      ownerUserId = owner.id;
    }
    const changes = diffFields(row, { ...row, ownerUserId, dueDate: data.dueDate }, ["ownerUserId", "dueDate"]);
    if (Object.keys(changes).length === 0) return row;
    const [after] = await tx
      .update(onboardingSteps)
      .set({ ownerUserId, dueDate: data.dueDate, version: row.version + 1, updatedAt: cx.now })
      .where(and(eq(onboardingSteps.participantId, participantId), eq(onboardingSteps.stepKey, data.stepKey)))
      .returning();
    cx.audit({
      action: "case.step.planned",
      entityType: "onboarding_step",
      entityId: stepEntityId(participantId, data.stepKey),
      participantId,
      changes,
    });
    return after!;
  },
});

/** Adds a note or a piece of evidence to a step. Entries are never edited; their history is the audit trail. */
export const addStepEntry = defineCommand({
  name: "onboarding.addStepEntry",
  permission: "case:comment",
  input: stepEntrySchema.extend(caseInput),
  events: ["case.step.evidence_added", "case.step.note_added"],
  tenant: existingCase,
  async run(cx): Promise<OnboardingStepEntry> {
    const { input: data } = cx;
    if (!stepDefinition(data.stepKey)) throw notFound();
    const [entry] = await cx.tx
      .insert(onboardingStepEntries)
      .values({
        participantId: data.participantId,
        stepKey: data.stepKey,
        kind: data.kind,
        body: data.body,
        reference: data.reference,
        authorUserId: cx.actor.userId,
        authorName: cx.actor.displayName,
        createdAt: cx.now,
      })
      .returning();
    cx.audit({
      action: data.kind === "evidence" ? "case.step.evidence_added" : "case.step.note_added",
      entityType: "onboarding_step",
      entityId: stepEntityId(data.participantId, data.stepKey),
      participantId: data.participantId,
      changes: { [data.kind]: { before: null, after: { body: data.body, reference: data.reference } } },
    });
    return entry!;
  },
});

/** The participant of a case, within the actor's case scope (else 404). */
async function getCaseParticipant(ctx: ServiceContext, participantId: string): Promise<Participant> {
  const [p] = await ctx.db.select().from(participants).where(eq(participants.id, participantId));
  if (!p) throw notFound();
  assertTenant(ctx.actor, "case:read", p.id);
  return p;
}

export interface StepView {
  definition: StepDefinition;
  row: OnboardingStep;
  ownerName: string | null;
  blockers: string[];
  overdue: boolean;
  /** What the actor may do to this step now (the service still decides when they do it). */
  allowedActions: StepAction[];
}

export interface CaseView {
  participant: Participant;
  steps: StepView[];
  today: string;
}

function allowedActionsFor(ctx: ServiceContext, snapshot: CaseSnapshot, key: string): StepAction[] {
  const party = partyOf(ctx.actor);
  if (!party) return [];
  const actions: StepAction[] = ["start", "submit", "approve", "return"];
  // "manual" checks and evidence are weighed at submission; here only the structural rules are asked.
  return actions.filter((action) => {
    const result = transition(snapshot, key, {
      action,
      party,
      userId: ctx.actor.userId,
      reason: "x".repeat(10),
      checks: [],
      evidenceCount: 1,
    });
    return result.ok;
  });
}

/** A participant's case: every step with its state, owner, due date, what blocks it, and what the actor may do. */
export async function getCase(ctx: ServiceContext, participantId: string): Promise<CaseView> {
  const participant = await getCaseParticipant(ctx, participantId);
  const rows = await caseRows(ctx.db, participantId);
  const ownerIds = [...new Set(rows.map((r) => r.ownerUserId).filter((v): v is string => Boolean(v)))];
  const owners = ownerIds.length
    ? await ctx.db.select({ id: users.id, name: users.displayName }).from(users).where(inArray(users.id, ownerIds))
    : [];
  const snapshot = snapshotOf(rows);
  const today = hongKongDate(new Date());
  const steps = WORKFLOW.flatMap((definition) => {
    const row = rows.find((r) => r.stepKey === definition.key);
    if (!row) return [];
    return [
      {
        definition,
        row,
        ownerName: owners.find((o) => o.id === row.ownerUserId)?.name ?? null,
        blockers: row.state === "locked" ? blockersOf(definition, snapshot) : [],
        overdue: isOverdue(row.state, row.dueDate, today),
        allowedActions: allowedActionsFor(ctx, snapshot, definition.key),
      },
    ];
  });
  return { participant, steps, today };
}

export interface StepDetail extends StepView {
  participant: Participant;
  entries: OnboardingStepEntry[];
  checks: CheckResult[];
  owners: UserPicker;
}

/** One step of a case with its notes, evidence and the current result of its automatic checks. */
export async function getStep(ctx: ServiceContext, participantId: string, stepKey: string): Promise<StepDetail> {
  const view = await getCase(ctx, participantId);
  const step = view.steps.find((s) => s.definition.key === stepKey);
  if (!step) throw notFound();
  const entries = await ctx.db
    .select()
    .from(onboardingStepEntries)
    .where(and(eq(onboardingStepEntries.participantId, participantId), eq(onboardingStepEntries.stepKey, stepKey)))
    .orderBy(asc(onboardingStepEntries.createdAt), asc(onboardingStepEntries.id));
  const checks = await runChecks(ctx.db, participantId, step.definition.checks, new Date());
  // The step's owner picker: a menu of the eligible, or an email field for a participant with thousands of users.
  const owners: UserPicker = mayOn(ctx.actor, "case:plan", participantId)
    ? await userPicker(ctx.db, ownerEligible(participantId), (u) => u.name, step.row.ownerUserId)
    : { options: [], currentEmail: null };
  return { ...step, participant: view.participant, entries, checks, owners };
}

export interface TimelinePage {
  events: AuditEvent[];
  /** The keyset cursor of the next (older) page: the last event's time and id (timelineCursor). */
  nextCursor: string | null;
  /** Display names of the users that the events' changes refer to by id, so the timeline reads as names. */
  userNames: Record<string, string>;
}

const USER_ID_FIELDS = new Set(["submittedBy", "decidedBy", "ownerUserId", "userId", "requestedBy", "approvedBy"]);

/** The users named by id in events' changes and metadata, as display names. */
export async function userNamesIn(db: ServiceContext["db"], events: AuditEvent[]): Promise<Record<string, string>> {
  const ids = new Set<string>();
  for (const e of events) {
    for (const [field, change] of Object.entries(e.changes ?? {})) {
      if (!USER_ID_FIELDS.has(field)) continue;
      for (const v of [change.before, change.after]) if (typeof v === "string") ids.add(v);
    }
    const metaUser = e.metadata?.userId;
    if (typeof metaUser === "string") ids.add(metaUser);
  }
  if (ids.size === 0) return {};
  const rows = await db.select({ id: users.id, name: users.displayName }).from(users).where(inArray(users.id, [...ids]));
  return Object.fromEntries(rows.map((r) => [r.id, r.name]));
}

/** A timeline page's cursor: the time and id of its last event, in a URL-safe form. */
export function timelineCursor(e: Pick<AuditEvent, "occurredAt" | "id">): string {
  return Buffer.from(`${e.occurredAt.toISOString()}|${e.id}`).toString("base64url");
}

function readTimelineCursor(value: string | null | undefined): { occurredAt: Date; id: number } | null {
  if (!value || value.length > 100) return null;
  const [time, id] = Buffer.from(value, "base64url").toString("utf8").split("|");
  const occurredAt = new Date(time ?? "");
  const n = Number(id);
  return Number.isNaN(occurredAt.getTime()) || !Number.isSafeInteger(n) ? null : { occurredAt, id: n };
}

/**
 * Everything that happened to a participant and its case, newest first, from the audit trail: in the order of the
 * (participant_id, occurred_at desc, id desc) index, keyset-paged by (time, id), so a page reads its 50 rows
 * whatever the history's length. An unreadable cursor means the first page.
 */
export async function caseTimeline(
  ctx: ServiceContext,
  participantId: string,
  options: { before?: string | null; limit?: number } = {},
): Promise<TimelinePage> {
  await getCaseParticipant(ctx, participantId);
  const limit = Math.min(Math.max(options.limit ?? 50, 1), 200);
  const cursor = readTimelineCursor(options.before);
  const rows = await ctx.db
    .select()
    .from(auditEvents)
    .where(
      and(
        eq(auditEvents.participantId, participantId),
        cursor
          ? sql`(${auditEvents.occurredAt}, ${auditEvents.id}) < (${cursor.occurredAt.toISOString()}::timestamptz, ${cursor.id}::bigint)`
          : undefined,
      ),
    )
    .orderBy(desc(auditEvents.occurredAt), desc(auditEvents.id))
    .limit(limit + 1);
  const events = rows.slice(0, limit);
  return {
    events,
    nextCursor: rows.length > limit ? timelineCursor(events[events.length - 1]!) : null,
    userNames: await userNamesIn(ctx.db, events),
  };
}

export interface BoardFilters {
  type?: ParticipantType;
  status?: ParticipantStatus;
}

export interface BoardCard {
  participantId: string;
  nameEn: string;
  nameZh: string;
  type: ParticipantType;
  status: ParticipantStatus;
  state: OnboardingStep["state"];
  dueDate: string | null;
  overdue: boolean;
}

export interface BoardColumn {
  stepKey: string;
  titleKey: StepDefinition["titleKey"];
  cards: BoardCard[];
  overdue: number;
}

/** The pipeline board: for each step, the participants working on it now; overdue ones counted and marked. */
export async function pipelineBoard(ctx: ServiceContext, filters: BoardFilters = {}): Promise<{ columns: BoardColumn[]; live: BoardCard[]; today: string }> {
  const rows = await ctx.db
    .select({ step: onboardingSteps, participant: participants })
    .from(onboardingSteps)
    .innerJoin(participants, eq(participants.id, onboardingSteps.participantId))
    .where(
      and(
        whereTenant(ctx.actor, "case:read", participants.id),
        filters.type ? eq(participants.type, filters.type) : undefined,
        filters.status ? eq(participants.status, filters.status) : undefined,
      ),
    )
    .orderBy(asc(participants.id));
  const today = hongKongDate(new Date());
  const card = (r: (typeof rows)[number]): BoardCard => ({
    participantId: r.participant.id,
    nameEn: r.participant.nameEn,
    nameZh: r.participant.nameZh,
    type: r.participant.type,
    status: r.participant.status,
    state: r.step.state,
    dueDate: r.step.dueDate,
    overdue: isOverdue(r.step.state, r.step.dueDate, today),
  });
  const columns = WORKFLOW.map((def) => {
    const cards = rows
      .filter((r) => r.step.stepKey === def.key && r.step.state !== "locked" && r.step.state !== "approved")
      .map(card);
    return { stepKey: def.key, titleKey: def.titleKey, cards, overdue: cards.filter((c) => c.overdue).length };
  });
  const last = WORKFLOW[WORKFLOW.length - 1]!.key;
  const live = rows.filter((r) => r.step.stepKey === last && r.step.state === "approved").map(card);
  return { columns, live, today };
}

export interface StepCount {
  stepKey: string;
  titleKey: StepDefinition["titleKey"];
  /** Participants with this step open (not locked, not approved). */
  open: number;
  overdue: number;
}

/**
 * The pipeline at a glance (issues 13 and 16): per step, how many participants have it open and how many of those
 * are overdue, and how many are live — one aggregate query, whatever the number of participants.
 */
export async function pipelineSummary(ctx: ServiceContext, filters: BoardFilters = {}): Promise<{ steps: StepCount[]; live: number; total: number }> {
  const today = hongKongDate(new Date());
  const last = WORKFLOW[WORKFLOW.length - 1]!.key;
  const open = sql`${onboardingSteps.state} not in ('locked', 'approved')`;
  const rows = await ctx.db
    .select({
      stepKey: onboardingSteps.stepKey,
      open: sql<number>`count(*) filter (where ${open})`,
      overdue: sql<number>`count(*) filter (where ${open} and ${onboardingSteps.dueDate} < ${today})`,
      approved: sql<number>`count(*) filter (where ${onboardingSteps.state} = 'approved')`,
      total: sql<number>`count(*)`,
    })
    .from(onboardingSteps)
    .innerJoin(participants, eq(participants.id, onboardingSteps.participantId))
    .where(boardWhere(ctx, filters))
    .groupBy(onboardingSteps.stepKey);
  const of = (key: string) => rows.find((r) => r.stepKey === key);
  return {
    steps: WORKFLOW.map((def) => ({ stepKey: def.key, titleKey: def.titleKey, open: Number(of(def.key)?.open ?? 0), overdue: Number(of(def.key)?.overdue ?? 0) })),
    live: Number(of(last)?.approved ?? 0),
    total: Number(of(WORKFLOW[0]!.key)?.total ?? 0),
  };
}

export const PIPELINE_SORTS = ["participant", "step", "dueDate"] as const;
export interface PipelineRow extends BoardCard {
  stepKey: string;
}

/**
 * The pipeline as a list (issues 13 and 16): one row per open step (or per live participant with `step=live`),
 * filtered to one step or to overdue ones, paged with a total.
 */
export async function pipelineList(
  ctx: ServiceContext,
  filters: BoardFilters & { step?: string; overdueOnly?: boolean },
  paging: Paging<(typeof PIPELINE_SORTS)[number]>,
): Promise<{ rows: PipelineRow[]; info: PageInfo }> {
  const today = hongKongDate(new Date());
  const last = WORKFLOW[WORKFLOW.length - 1]!.key;
  const live = filters.step === "live";
  const where = and(
    boardWhere(ctx, filters),
    live ? and(eq(onboardingSteps.stepKey, last), eq(onboardingSteps.state, "approved")) : sql`${onboardingSteps.state} not in ('locked', 'approved')`,
    !live && filters.step ? eq(onboardingSteps.stepKey, filters.step) : undefined,
    filters.overdueOnly ? sql`${onboardingSteps.dueDate} < ${today}` : undefined,
  );
  const direction = paging.dir === "asc" ? asc : desc;
  const order =
    paging.sort === "dueDate"
      ? [sql`${onboardingSteps.dueDate} ${sql.raw(paging.dir)} nulls last`, asc(participants.id), asc(onboardingSteps.stepKey)]
      : paging.sort === "step"
        ? [direction(sql`array_position(array[${sql.join(WORKFLOW.map((d) => sql`${d.key}`), sql`, `)}]::text[], ${onboardingSteps.stepKey})`), asc(participants.id)]
        : [direction(participants.id), asc(onboardingSteps.stepKey)];
  const [{ total } = { total: 0 }] = await ctx.db.select({ total: count() }).from(onboardingSteps).innerJoin(participants, eq(participants.id, onboardingSteps.participantId)).where(where);
  const rows = await ctx.db
    .select({ step: onboardingSteps, participant: participants })
    .from(onboardingSteps)
    .innerJoin(participants, eq(participants.id, onboardingSteps.participantId))
    .where(where)
    .orderBy(...order)
    .limit(paging.size)
    .offset(offsetOf(paging));
  return {
    rows: rows.map((r) => ({
      stepKey: r.step.stepKey,
      participantId: r.participant.id,
      nameEn: r.participant.nameEn,
      nameZh: r.participant.nameZh,
      type: r.participant.type,
      status: r.participant.status,
      state: r.step.state,
      dueDate: r.step.dueDate,
      overdue: isOverdue(r.step.state, r.step.dueDate, today),
    })),
    info: { total: Number(total), page: paging.page, size: paging.size },
  };
}

function boardWhere(ctx: ServiceContext, filters: BoardFilters) {
  return and(
    whereTenant(ctx.actor, "case:read", participants.id),
    filters.type ? eq(participants.type, filters.type) : undefined,
    filters.status ? eq(participants.status, filters.status) : undefined,
  );
}

export interface WorkItem {
  participantId: string;
  participantName: string;
  participantNameZh: string;
  stepKey: string;
  titleKey: StepDefinition["titleKey"];
  state: OnboardingStep["state"];
  dueDate: string | null;
  overdue: boolean;
  /** Why it is here: to approve, to work on, or waiting on someone else. */
  reason: "approve" | "work" | "waiting" | "own-submission";
}

/**
 * "My work": an officer sees steps submitted for approval (flagging their own submissions, which another officer
 * must approve) and the steps HKEX completes; a participant administrator sees their firm's steps to work on and
 * those waiting for HKEX.
 */
const OFFICER_APPROVES = WORKFLOW.filter((d) => d.approval === "officer").map((d) => d.key);
const OFFICER_COMPLETES = WORKFLOW.filter((d) => d.completedBy === "officer").map((d) => d.key);

export async function myWork(ctx: ServiceContext): Promise<WorkItem[]> {
  const party = partyOf(ctx.actor);
  if (!party || party === "system") return [];
  // Only the columns a work item shows: an officer's list spans the market, and mapping whole rows cost more than the query.
  const rows = await ctx.db
    .select({
      step: { stepKey: onboardingSteps.stepKey, state: onboardingSteps.state, dueDate: onboardingSteps.dueDate, submittedBy: onboardingSteps.submittedBy },
      participant: { id: participants.id, nameEn: participants.nameEn, nameZh: participants.nameZh },
    })
    .from(onboardingSteps)
    .innerJoin(participants, eq(participants.id, onboardingSteps.participantId))
    .where(
      and(
        whereTenant(ctx.actor, "case:read", participants.id),
        inArray(onboardingSteps.state, ["ready", "in_progress", "submitted", "returned"]),
        // An officer's work across the whole market: only the steps an officer approves (submitted) or completes
        // (open), read in the database rather than every open step of every participant (issue 16).
        party === "officer"
          ? or(
              and(eq(onboardingSteps.state, "submitted"), inArray(onboardingSteps.stepKey, OFFICER_APPROVES)),
              and(ne(onboardingSteps.state, "submitted"), inArray(onboardingSteps.stepKey, OFFICER_COMPLETES)),
            )
          : undefined,
      ),
    )
    .orderBy(asc(onboardingSteps.dueDate), asc(participants.id));
  const today = hongKongDate(new Date());
  const items: WorkItem[] = [];
  for (const { step, participant } of rows) {
    const def = stepDefinition(step.stepKey);
    if (!def) continue;
    let reason: WorkItem["reason"] | null = null;
    if (party === "officer") {
      if (step.state === "submitted" && def.approval === "officer") {
        reason = step.submittedBy === ctx.actor.userId ? "own-submission" : "approve";
      } else if (step.state !== "submitted" && def.completedBy === "officer") reason = "work";
    } else {
      if (step.state !== "submitted" && def.completedBy === "participant" && def.approval !== "automatic") reason = "work";
      else if (step.state !== "submitted" && def.approval === "automatic") reason = "waiting";
      else if (step.state === "submitted" && def.completedBy === "participant") reason = "waiting";
    }
    if (!reason) continue;
    items.push({
      participantId: participant.id,
      participantName: participant.nameEn,
      participantNameZh: participant.nameZh,
      stepKey: step.stepKey,
      titleKey: def.titleKey,
      state: step.state,
      dueDate: step.dueDate,
      overdue: isOverdue(step.state, step.dueDate, today),
      reason,
    });
  }
  const order = { approve: 0, work: 1, "own-submission": 2, waiting: 3 } as const;
  return items.sort((a, b) => order[a.reason] - order[b.reason]);
}
