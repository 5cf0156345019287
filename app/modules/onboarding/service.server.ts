import { and, asc, desc, eq, inArray, isNull, lt, ne, or } from "drizzle-orm";
import type { Transaction } from "../../../db/client.server";
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
import { scopeOf } from "~/auth/permissions";
import { AppError, forbidden, notFound } from "~/lib/errors";
import { validate } from "~/lib/validation";
import { translator } from "~/i18n/messages";
import { appendAuditEvent, diffFields } from "../audit/service.server";
import { SYSTEM_ACTOR, type Actor, type ServiceContext } from "../context.server";
import { participantScope } from "../participants/scope.server";
import { runChecks } from "./checks.server";
import {
  stepEntrySchema,
  stepPlanSchema,
  transitionSchema,
  type StepEntryInput,
  type StepPlanInput,
  type TransitionInput,
} from "./schemas";
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
import { issueLinks } from "../credentials/links.server";

const REFUSAL_STATUS: Partial<Record<string, 403>> = {
  "case.refused.notYourStep": 403,
  "case.refused.officerOnly": 403,
  "case.refused.fourEyes": 403,
};

/** Which side of the case an actor works on: HKEX officers, the participant's administrators, or the system. */
export function partyOf(actor: Actor): Party | null {
  if (actor.persona === "system") return "system";
  if (scopeOf(actor.permissions, "case:complete") === "any") return "officer";
  if (scopeOf(actor.permissions, "case:complete") === "own-participant") return "participant";
  return null;
}

/** A step's owner is HKEX staff or one of the participant's own users. */
function ownerEligible(participantId: string) {
  return or(eq(users.participantId, participantId), isNull(users.participantId));
}

function stepEntityId(participantId: string, stepKey: string) {
  return `${participantId}/${stepKey}`;
}

function addDays(isoDate: string, days: number): string {
  const d = new Date(`${isoDate}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

export function snapshotOf(rows: Pick<OnboardingStep, "stepKey" | "state" | "submittedBy" | "returnReason">[]): CaseSnapshot {
  return Object.fromEntries(
    rows.map((r) => [r.stepKey, { state: r.state, submittedBy: r.submittedBy, returnReason: r.returnReason }]),
  );
}

/** Opens a participant's case in the caller's transaction: one row per workflow step. */
export async function openCase(tx: Transaction, ctx: ServiceContext, participantId: string): Promise<void> {
  const initial = initialCase();
  const today = hongKongDate(new Date());
  await tx.insert(onboardingSteps).values(
    WORKFLOW.map((step) => ({
      participantId,
      stepKey: step.key,
      state: initial[step.key]!.state,
      dueDate: initial[step.key]!.state === "ready" ? addDays(today, step.defaultDueDays) : null,
    })),
  );
  await appendAuditEvent(tx, ctx, {
    action: "case.opened",
    entityType: "onboarding_case",
    entityId: participantId,
    participantId,
    metadata: { steps: WORKFLOW.map((s) => s.key) },
  });
}

async function caseRows(db: ServiceContext["db"] | Transaction, participantId: string): Promise<OnboardingStep[]> {
  return db.select().from(onboardingSteps).where(eq(onboardingSteps.participantId, participantId));
}

/** Keeps the stored participant status equal to what the case (and any suspension) says, and audits a change. */
export async function recomputeParticipantStatus(tx: Transaction, ctx: ServiceContext, participantId: string): Promise<ParticipantStatus> {
  const [p] = await tx.select().from(participants).where(eq(participants.id, participantId));
  if (!p) throw notFound();
  const status = deriveParticipantStatus(snapshotOf(await caseRows(tx, participantId)), p.suspendedAt !== null);
  if (status !== p.status) {
    await tx.update(participants).set({ status, updatedAt: new Date() }).where(eq(participants.id, participantId));
    await appendAuditEvent(tx, ctx, {
      action: "participant.status.changed",
      entityType: "participant",
      entityId: participantId,
      participantId,
      changes: { status: { before: p.status, after: status } },
    });
  }
  return status;
}

/** Locks the case (its participant row) so that changes to one case are applied one at a time. */
async function lockCase(tx: Transaction, ctx: ServiceContext, participantId: string): Promise<Participant> {
  const [p] = await tx
    .select()
    .from(participants)
    .where(and(eq(participants.id, participantId), participantScope(ctx, "case:read")))
    .for("update");
  if (!p) throw notFound();
  return p;
}

async function evidenceCount(tx: Transaction, participantId: string, stepKey: string): Promise<number> {
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
const STEP_EFFECTS: Record<StepEffect, (tx: Transaction, ctx: ServiceContext, participantId: string) => Promise<void>> = {
  async issue_administrator_links(tx, ctx, participantId) {
    const nominated = await tx
      .selectDistinct({ id: users.id, email: users.email, displayName: users.displayName, participantId: users.participantId })
      .from(roleGrants)
      .innerJoin(users, eq(users.id, roleGrants.userId))
      .where(and(eq(roleGrants.participantId, participantId), inArray(roleGrants.roleCode, ["da_maker", "da_checker"]), eq(roleGrants.status, "active"), eq(users.status, "invited")));
    await issueLinks(tx, ctx, nominated, "invitation");
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

const ACTION_EVENT: Record<StepAction, string> = {
  start: "case.step.started",
  submit: "case.step.submitted",
  approve: "case.step.approved",
  return: "case.step.returned",
  auto_complete: "case.step.auto_completed",
};

/**
 * Applies one transition to a step inside a locked case: asks the pure rules, writes the step, unlocks what the
 * approval unlocks, completes automatic steps whose checks now pass, keeps the participant status in line, and
 * audits each change with its before and after.
 */
async function applyTransition(
  tx: Transaction,
  ctx: ServiceContext,
  participantId: string,
  row: OnboardingStep,
  action: StepAction,
  reason: string | null,
  checks: CheckResult[],
): Promise<OnboardingStep> {
  const rows = await caseRows(tx, participantId);
  const snapshot = snapshotOf(rows);
  const party = partyOf(ctx.actor);
  if (!party) throw forbidden();
  const result = transition(snapshot, row.stepKey, {
    action,
    party,
    userId: ctx.actor.userId,
    reason,
    checks,
    evidenceCount: action === "submit" ? await evidenceCount(tx, participantId, row.stepKey) : 0,
  });
  if (!result.ok) {
    throw new AppError(REFUSAL_STATUS[result.messageKey] ?? 400, result.messageKey, {}, withStepTitles(result.params ?? {}));
  }
  const now = new Date();
  const update: Partial<OnboardingStep> = { state: result.state, version: row.version + 1, updatedAt: now };
  if (action === "submit") Object.assign(update, { submittedBy: ctx.actor.userId, submittedAt: now });
  if (action === "approve" || action === "return" || action === "auto_complete") {
    Object.assign(update, { decidedBy: ctx.actor.userId, decidedAt: now });
  }
  if (action === "return") update.returnReason = reason;
  const [after] = await tx
    .update(onboardingSteps)
    .set(update)
    .where(and(eq(onboardingSteps.participantId, participantId), eq(onboardingSteps.stepKey, row.stepKey)))
    .returning();
  await appendAuditEvent(tx, ctx, {
    action: ACTION_EVENT[action],
    entityType: "onboarding_step",
    entityId: stepEntityId(participantId, row.stepKey),
    participantId,
    reason,
    changes: diffFields(row, after!, ["state", "submittedBy", "decidedBy", "returnReason"]),
    metadata: checks.length ? { checks: checks.map((c) => ({ id: c.id, outcome: c.outcome })) } : null,
  });

  if (action === "approve" || action === "auto_complete") {
    for (const effect of stepDefinition(row.stepKey)?.onApproved ?? []) await STEP_EFFECTS[effect](tx, ctx, participantId);
  }

  const today = hongKongDate(now);
  for (const key of result.unlocked) {
    const before = rows.find((r) => r.stepKey === key)!;
    const def = stepDefinition(key)!;
    const [unlocked] = await tx
      .update(onboardingSteps)
      .set({ state: "ready", dueDate: before.dueDate ?? addDays(today, def.defaultDueDays), version: before.version + 1, updatedAt: now })
      .where(and(eq(onboardingSteps.participantId, participantId), eq(onboardingSteps.stepKey, key)))
      .returning();
    await appendAuditEvent(tx, ctx, {
      action: "case.step.unlocked",
      entityType: "onboarding_step",
      entityId: stepEntityId(participantId, key),
      participantId,
      changes: diffFields(before, unlocked!, ["state", "dueDate"]),
      metadata: { after: row.stepKey },
    });
  }
  await recomputeParticipantStatus(tx, ctx, participantId);
  if (result.unlocked.length > 0) await completeAutomaticSteps(tx, ctx, participantId);
  return after!;
}

/** Automatic steps that are ready complete by themselves, as the system, when all their checks pass. */
async function completeAutomaticSteps(tx: Transaction, ctx: ServiceContext, participantId: string): Promise<number> {
  const systemCtx: ServiceContext = { ...ctx, actor: SYSTEM_ACTOR };
  let completed = 0;
  for (;;) {
    const rows = await caseRows(tx, participantId);
    const candidate = WORKFLOW.find((s) => {
      const state = rows.find((r) => r.stepKey === s.key)?.state;
      return s.approval === "automatic" && (state === "ready" || state === "in_progress");
    });
    if (!candidate) return completed;
    const checks = await runChecks(tx, participantId, candidate.checks, new Date());
    if (checks.some((c) => c.outcome !== "pass")) return completed;
    await applyTransition(tx, systemCtx, participantId, rows.find((r) => r.stepKey === candidate.key)!, "auto_complete", null, checks);
    completed++;
  }
}

/**
 * Moves a step: start, submit, approve or return (with a reason). The editor's version must be the step's
 * current one (else 409: someone else moved it first, and nothing is written).
 */
export async function transitionStep(ctx: ServiceContext, participantId: string, input: TransitionInput): Promise<OnboardingStep> {
  const data = validate(transitionSchema, input);
  const capability = data.action === "approve" || data.action === "return" ? "case:approve" : "case:complete";
  if (!scopeOf(ctx.actor.permissions, capability) && ctx.actor.persona !== "system") {
    // Still 404 for a case outside the actor's scope, so that a refusal never confirms the case exists.
    await getCaseParticipant(ctx, participantId);
    throw new AppError(403, "case.refused.notYourStep");
  }
  return ctx.db.transaction(async (tx) => {
    await lockCase(tx, ctx, participantId);
    const [row] = await tx
      .select()
      .from(onboardingSteps)
      .where(and(eq(onboardingSteps.participantId, participantId), eq(onboardingSteps.stepKey, data.stepKey)));
    if (!row) throw notFound();
    if (row.version !== data.version) throw new AppError(409, "error.conflict");
    const def = stepDefinition(row.stepKey)!;
    const checks = data.action === "submit" ? await runChecks(tx, participantId, def.checks, new Date()) : [];
    return applyTransition(tx, ctx, participantId, row, data.action, data.reason, checks);
  });
}

/** Re-runs the automatic steps' checks (for example after administrators activated their accounts). */
export async function runAutomaticSteps(ctx: ServiceContext, participantId: string): Promise<number> {
  if (!scopeOf(ctx.actor.permissions, "case:complete") && ctx.actor.persona !== "system") throw forbidden();
  return ctx.db.transaction(async (tx) => {
    await lockCase(tx, ctx, participantId);
    return completeAutomaticSteps(tx, ctx, participantId);
  });
}

/** Sets a step's owner and due date (officers plan the case). */
export async function updateStepPlan(ctx: ServiceContext, participantId: string, input: StepPlanInput): Promise<OnboardingStep> {
  const data = validate(stepPlanSchema, input);
  if (scopeOf(ctx.actor.permissions, "case:plan") !== "any" && ctx.actor.persona !== "system") {
    await getCaseParticipant(ctx, participantId);
    throw forbidden();
  }
  return ctx.db.transaction(async (tx) => {
    await lockCase(tx, ctx, participantId);
    const [row] = await tx
      .select()
      .from(onboardingSteps)
      .where(and(eq(onboardingSteps.participantId, participantId), eq(onboardingSteps.stepKey, data.stepKey)));
    if (!row) throw notFound();
    if (row.version !== data.version) throw new AppError(409, "error.conflict");
    if (data.ownerUserId) {
      const [owner] = await tx
        .select({ id: users.id })
        .from(users)
        .where(
          and(
            eq(users.id, data.ownerUserId),
            ne(users.status, "deactivated"),
            ownerEligible(participantId),
          ),
        );
      if (!owner) throw new AppError(400, "error.badRequest", { ownerUserId: "case.error.owner" });
    }
    const changes = diffFields(row, { ...row, ownerUserId: data.ownerUserId, dueDate: data.dueDate }, ["ownerUserId", "dueDate"]);
    if (Object.keys(changes).length === 0) return row;
    const [after] = await tx
      .update(onboardingSteps)
      .set({ ownerUserId: data.ownerUserId, dueDate: data.dueDate, version: row.version + 1, updatedAt: new Date() })
      .where(and(eq(onboardingSteps.participantId, participantId), eq(onboardingSteps.stepKey, data.stepKey)))
      .returning();
    await appendAuditEvent(tx, ctx, {
      action: "case.step.planned",
      entityType: "onboarding_step",
      entityId: stepEntityId(participantId, data.stepKey),
      participantId,
      changes,
    });
    return after!;
  });
}

/** Adds a note or a piece of evidence to a step. Entries are never edited; their history is the audit trail. */
export async function addStepEntry(ctx: ServiceContext, participantId: string, input: StepEntryInput): Promise<OnboardingStepEntry> {
  const data = validate(stepEntrySchema, input);
  if (!scopeOf(ctx.actor.permissions, "case:comment") && ctx.actor.persona !== "system") {
    await getCaseParticipant(ctx, participantId);
    throw forbidden();
  }
  return ctx.db.transaction(async (tx) => {
    await lockCase(tx, ctx, participantId);
    if (!stepDefinition(data.stepKey)) throw notFound();
    const [entry] = await tx
      .insert(onboardingStepEntries)
      .values({
        participantId,
        stepKey: data.stepKey,
        kind: data.kind,
        body: data.body,
        reference: data.reference,
        authorUserId: ctx.actor.userId,
        authorName: ctx.actor.displayName,
        createdAt: new Date(),
      })
      .returning();
    await appendAuditEvent(tx, ctx, {
      action: data.kind === "evidence" ? "case.step.evidence_added" : "case.step.note_added",
      entityType: "onboarding_step",
      entityId: stepEntityId(participantId, data.stepKey),
      participantId,
      changes: { [data.kind]: { before: null, after: { body: data.body, reference: data.reference } } },
    });
    return entry!;
  });
}

/** The participant of a case, within the actor's case scope (else 404). */
async function getCaseParticipant(ctx: ServiceContext, participantId: string): Promise<Participant> {
  const [p] = await ctx.db
    .select()
    .from(participants)
    .where(and(eq(participants.id, participantId), participantScope(ctx, "case:read")));
  if (!p) throw notFound();
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
  owners: { id: string; name: string }[];
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
  const owners = scopeOf(ctx.actor.permissions, "case:plan")
    ? await ctx.db
        .select({ id: users.id, name: users.displayName })
        .from(users)
        .where(and(ne(users.status, "deactivated"), ownerEligible(participantId)))
        .orderBy(asc(users.displayName))
    : [];
  return { ...step, participant: view.participant, entries, checks, owners };
}

export interface TimelinePage {
  events: AuditEvent[];
  nextCursor: number | null;
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

/** Everything that happened to a participant and its case, newest first, from the audit trail. */
export async function caseTimeline(
  ctx: ServiceContext,
  participantId: string,
  options: { before?: number; limit?: number } = {},
): Promise<TimelinePage> {
  await getCaseParticipant(ctx, participantId);
  const limit = Math.min(Math.max(options.limit ?? 50, 1), 200);
  const rows = await ctx.db
    .select()
    .from(auditEvents)
    .where(and(eq(auditEvents.participantId, participantId), options.before ? lt(auditEvents.id, options.before) : undefined))
    .orderBy(desc(auditEvents.id))
    .limit(limit + 1);
  const events = rows.slice(0, limit);
  return {
    events,
    nextCursor: rows.length > limit ? events[events.length - 1]!.id : null,
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
        participantScope(ctx, "case:read"),
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

export interface WorkItem {
  participantId: string;
  participantName: string;
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
export async function myWork(ctx: ServiceContext): Promise<WorkItem[]> {
  const party = partyOf(ctx.actor);
  if (!party || party === "system") return [];
  const rows = await ctx.db
    .select({ step: onboardingSteps, participant: participants })
    .from(onboardingSteps)
    .innerJoin(participants, eq(participants.id, onboardingSteps.participantId))
    .where(
      and(
        participantScope(ctx, "case:read"),
        inArray(onboardingSteps.state, ["ready", "in_progress", "submitted", "returned"]),
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
