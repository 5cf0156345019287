import { hongKongDay } from "~/lib/hong-kong-time";
import type { ParticipantStatus } from "../../../db/schema/participants";
import type { StepState } from "../../../db/schema/onboarding";
import { translator, type MessageKey } from "~/i18n/messages";

/**
 * The OCP Onboarding Guide as data (SPEC §3). Adding a step is one entry here (plus its two catalogue texts):
 * the case, the board, the queues and the checks all read this list.
 */
export type Party = "officer" | "participant" | "system";

export const CHECK_IDS = [
  "application_complete",
  "administrators_nominated",
  "administrators_activated",
  "services_covered",
  "test_credentials_issued",
  "certification_signed_off",
  "verification_attended",
  "production_credentials_issued",
] as const;
export type CheckId = (typeof CHECK_IDS)[number];

export interface StepDefinition {
  key: string;
  titleKey: MessageKey;
  descriptionKey: MessageKey;
  /** Steps that must be approved before this one unlocks. */
  dependsOn: readonly string[];
  /** Who works on the step and submits it. */
  completedBy: Exclude<Party, "system">;
  /** An officer approves it (never the person who submitted it), or it completes by itself when its checks pass. */
  approval: "officer" | "automatic";
  /** Automatic checks: a failing one blocks submission; a "manual" one asks the reviewer to look at the evidence. */
  checks: readonly CheckId[];
  /** Whether at least one piece of evidence must be attached before submission. */
  requiresEvidence: boolean;
  /** The participant's status once this step is approved (the latest such step in order wins). */
  statusOnApproval?: Exclude<ParticipantStatus, "prospect" | "suspended">;
  /** Default time allowed, in days from the step becoming ready, when an officer sets no due date. */
  defaultDueDays: number;
  /** What approving the step sets off (see STEP_EFFECTS in service.server.ts). */
  onApproved?: readonly StepEffect[];
}

/** Effects a step's approval can have; each is one function in the onboarding service. */
export type StepEffect = "issue_administrator_links";

export const WORKFLOW: readonly StepDefinition[] = [
  {
    key: "application",
    titleKey: "step.application.title",
    descriptionKey: "step.application.description",
    dependsOn: [],
    completedBy: "officer",
    approval: "officer",
    checks: ["application_complete"],
    requiresEvidence: true,
    statusOnApproval: "onboarding",
    defaultDueDays: 10,
  },
  {
    key: "admin_nomination",
    titleKey: "step.admin_nomination.title",
    descriptionKey: "step.admin_nomination.description",
    dependsOn: ["application"],
    completedBy: "officer",
    approval: "officer",
    checks: ["administrators_nominated"],
    requiresEvidence: true,
    defaultDueDays: 10,
    // Approval sends the nominated administrators their activation links.
    onApproved: ["issue_administrator_links"],
  },
  {
    key: "admin_activation",
    titleKey: "step.admin_activation.title",
    descriptionKey: "step.admin_activation.description",
    dependsOn: ["admin_nomination"],
    completedBy: "participant",
    approval: "automatic",
    checks: ["administrators_activated"],
    requiresEvidence: false,
    defaultDueDays: 5,
  },
  {
    key: "users_and_roles",
    titleKey: "step.users_and_roles.title",
    descriptionKey: "step.users_and_roles.description",
    dependsOn: ["admin_activation"],
    completedBy: "participant",
    approval: "officer",
    checks: ["services_covered"],
    requiresEvidence: false,
    defaultDueDays: 15,
  },
  {
    key: "test_credentials",
    titleKey: "step.test_credentials.title",
    descriptionKey: "step.test_credentials.description",
    dependsOn: ["admin_activation"],
    completedBy: "participant",
    approval: "officer",
    checks: ["test_credentials_issued"],
    requiresEvidence: true,
    defaultDueDays: 10,
  },
  {
    key: "api_certification",
    titleKey: "step.api_certification.title",
    descriptionKey: "step.api_certification.description",
    dependsOn: ["test_credentials"],
    completedBy: "participant",
    approval: "officer",
    checks: ["certification_signed_off"],
    requiresEvidence: true,
    statusOnApproval: "certified",
    defaultDueDays: 30,
  },
  {
    key: "readiness_verification",
    titleKey: "step.readiness_verification.title",
    descriptionKey: "step.readiness_verification.description",
    dependsOn: ["users_and_roles", "api_certification"],
    completedBy: "officer",
    approval: "officer",
    checks: ["verification_attended"],
    requiresEvidence: true,
    defaultDueDays: 10,
  },
  {
    key: "production_enablement",
    titleKey: "step.production_enablement.title",
    descriptionKey: "step.production_enablement.description",
    dependsOn: ["readiness_verification"],
    completedBy: "participant",
    approval: "officer",
    checks: ["production_credentials_issued"],
    requiresEvidence: true,
    statusOnApproval: "live",
    defaultDueDays: 10,
  },
];

export type Workflow = readonly StepDefinition[];

export function stepDefinition(key: string, workflow: Workflow = WORKFLOW): StepDefinition | undefined {
  return workflow.find((s) => s.key === key);
}

/** A workflow is well formed when keys are unique and every dependency names an earlier step. */
export function validateWorkflow(workflow: Workflow): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const step of workflow) {
    if (seen.has(step.key)) problems.push(`duplicate step ${step.key}`);
    for (const dep of step.dependsOn) {
      if (!seen.has(dep)) problems.push(`${step.key} depends on ${dep}, which is not an earlier step`);
    }
    seen.add(step.key);
  }
  return problems;
}

export interface StepSnapshot {
  state: StepState;
  submittedBy: string | null;
  returnReason: string | null;
}
export type CaseSnapshot = Record<string, StepSnapshot>;

/** A new case: steps without dependencies are ready, the rest locked. */
export function initialCase(workflow: Workflow = WORKFLOW): CaseSnapshot {
  return Object.fromEntries(
    workflow.map((s) => [
      s.key,
      { state: s.dependsOn.length === 0 ? "ready" : "locked", submittedBy: null, returnReason: null },
    ]),
  ) as CaseSnapshot;
}

export type StepAction = "start" | "submit" | "approve" | "return" | "auto_complete";
export const STEP_ACTIONS: readonly StepAction[] = ["start", "submit", "approve", "return", "auto_complete"];

export type CheckOutcome = "pass" | "fail" | "manual";
export interface CheckResult {
  id: CheckId;
  outcome: CheckOutcome;
  messageKey: MessageKey;
  params?: Record<string, string | number>;
}

export interface TransitionRequest {
  action: StepAction;
  party: Party;
  userId: string | null;
  reason?: string | null;
  checks?: readonly CheckResult[];
  evidenceCount?: number;
}

export type TransitionResult =
  | { ok: true; state: StepState; unlocked: string[] }
  | { ok: false; messageKey: MessageKey; params?: Record<string, string | number> };

/** Checks named in plain words, in each language ("{checks}" reads "checksZh" on a Chinese page). */
function checkNames(ids: readonly CheckId[]): { checks: string; checksZh: string } {
  const en = translator("en");
  const zh = translator("zh-HK");
  return { checks: ids.map((id) => en(`check.name.${id}`)).join(", "), checksZh: ids.map((id) => zh(`check.name.${id}`)).join("、") };
}

function refuse(messageKey: MessageKey, params?: Record<string, string | number>): TransitionResult {
  return { ok: false, messageKey, params };
}

/** The dependencies of a step that are not yet approved. */
export function blockersOf(step: StepDefinition, snapshot: CaseSnapshot): string[] {
  return step.dependsOn.filter((d) => snapshot[d]?.state !== "approved");
}

/** Steps that unlock once `approvedKey` is approved: locked ones whose every dependency is then approved. */
export function unlockedBy(approvedKey: string, snapshot: CaseSnapshot, workflow: Workflow = WORKFLOW): string[] {
  const after: CaseSnapshot = { ...snapshot, [approvedKey]: { ...snapshot[approvedKey]!, state: "approved" } };
  return workflow
    .filter((s) => s.dependsOn.includes(approvedKey) && after[s.key]?.state === "locked")
    .filter((s) => blockersOf(s, after).length === 0)
    .map((s) => s.key);
}

export const MIN_REASON_LENGTH = 5;

/**
 * The one place that decides whether a step may move, and where to. Pure: the service loads the case, asks
 * here, and writes what this answers. Every refusal is a message a person understands.
 */
export function transition(
  snapshot: CaseSnapshot,
  stepKey: string,
  request: TransitionRequest,
  workflow: Workflow = WORKFLOW,
): TransitionResult {
  const step = stepDefinition(stepKey, workflow);
  const current = snapshot[stepKey];
  if (!step || !current) return refuse("case.refused.unknownStep");
  const { action, party } = request;

  if (current.state === "locked") {
    const blockers = blockersOf(step, snapshot);
    return refuse("case.refused.locked", { steps: blockers.join(", ") });
  }
  if (current.state === "approved") return refuse("case.refused.alreadyApproved");

  switch (action) {
    case "start": {
      if (party !== step.completedBy) return refuse("case.refused.notYourStep");
      if (current.state !== "ready" && current.state !== "returned") return refuse("case.refused.cannotStart");
      return { ok: true, state: "in_progress", unlocked: [] };
    }
    case "submit": {
      if (step.approval === "automatic") return refuse("case.refused.automatic");
      if (party !== step.completedBy) return refuse("case.refused.notYourStep");
      if (current.state === "submitted") return refuse("case.refused.alreadySubmitted");
      const failing = (request.checks ?? []).filter((c) => c.outcome === "fail");
      if (failing.length > 0) return refuse("case.refused.checksFailing", checkNames(failing.map((c) => c.id)));
      if (step.requiresEvidence && (request.evidenceCount ?? 0) === 0) return refuse("case.refused.evidenceRequired");
      return { ok: true, state: "submitted", unlocked: [] };
    }
    case "approve": {
      if (step.approval !== "officer") return refuse("case.refused.automatic");
      if (party !== "officer") return refuse("case.refused.officerOnly");
      if (current.state !== "submitted") return refuse("case.refused.notSubmitted");
      if (request.userId !== null && request.userId === current.submittedBy) return refuse("case.refused.fourEyes");
      return { ok: true, state: "approved", unlocked: unlockedBy(stepKey, snapshot, workflow) };
    }
    case "return": {
      if (step.approval !== "officer") return refuse("case.refused.automatic");
      if (party !== "officer") return refuse("case.refused.officerOnly");
      if (current.state !== "submitted") return refuse("case.refused.notSubmitted");
      if (request.userId !== null && request.userId === current.submittedBy) return refuse("case.refused.fourEyes");
      if ((request.reason ?? "").trim().length < MIN_REASON_LENGTH) {
        return refuse("case.refused.reasonRequired", { min: MIN_REASON_LENGTH });
      }
      return { ok: true, state: "returned", unlocked: [] };
    }
    case "auto_complete": {
      if (step.approval !== "automatic") return refuse("case.refused.notAutomatic");
      if (party !== "system") return refuse("case.refused.automatic");
      // Every one of the step's own checks must have a passing result; a missing result counts as not passing.
      const notPassing = step.checks.filter((id) => !(request.checks ?? []).some((c) => c.id === id && c.outcome === "pass"));
      if (notPassing.length > 0) return refuse("case.refused.checksFailing", checkNames(notPassing));
      return { ok: true, state: "approved", unlocked: unlockedBy(stepKey, snapshot, workflow) };
    }
  }
}

/** The participant's status as its case says (SPEC §2): suspension overrides; else the latest status reached. */
export function deriveParticipantStatus(
  snapshot: CaseSnapshot,
  suspended: boolean,
  workflow: Workflow = WORKFLOW,
): ParticipantStatus {
  if (suspended) return "suspended";
  let status: ParticipantStatus = "prospect";
  for (const step of workflow) {
    if (step.statusOnApproval && snapshot[step.key]?.state === "approved") status = step.statusOnApproval;
  }
  return status;
}

/** Steps someone can work on now (not locked, not approved), in workflow order. */
export function activeSteps(snapshot: CaseSnapshot, workflow: Workflow = WORKFLOW): StepDefinition[] {
  return workflow.filter((s) => {
    const state = snapshot[s.key]?.state;
    return state !== undefined && state !== "locked" && state !== "approved";
  });
}

/** Overdue: a due date in the past (Hong Kong calendar day) on a step not yet approved. */
export function isOverdue(state: StepState, dueDate: string | null, todayHongKong: string): boolean {
  return dueDate !== null && state !== "approved" && dueDate < todayHongKong;
}

/** Today's date in Hong Kong as YYYY-MM-DD. */
export const hongKongDate = hongKongDay;
