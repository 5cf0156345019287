import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isMessageKey, translator, type MessageKey } from "~/i18n/messages";
import type { ParticipantStatus } from "../../db/schema/participants";
import {
  MIN_REASON_LENGTH,
  STEP_ACTIONS,
  WORKFLOW,
  activeSteps,
  blockersOf,
  deriveParticipantStatus,
  initialCase,
  stepDefinition,
  transition,
  validateWorkflow,
  type CaseSnapshot,
  type CheckOutcome,
  type CheckResult,
  type Party,
  type StepAction,
  type StepDefinition,
  type TransitionRequest,
} from "~/modules/onboarding/workflow";

/**
 * Random sequences of transitions, from a new case, through the pure rules, applied the way the service applies
 * them (the step's new state, its submitter or return reason, the steps the approval unlocks). After every move
 * the case must still make sense. The seed is fixed so a failure reproduces; FC_SEED and FC_NUM_RUNS override.
 */
const SEED = Number(process.env.FC_SEED ?? 20260614);
const NUM_RUNS = Number(process.env.FC_NUM_RUNS ?? 1000);

const OFFICERS = ["officer-olivia", "officer-owen"] as const;
const PARTICIPANT_USERS = ["da-mandy", "da-chris"] as const;
const STEP_KEYS = WORKFLOW.map((s) => s.key);

interface Command {
  pick: { kind: "active"; index: number } | { kind: "any"; key: string };
  action: StepAction | "natural";
  party: Party | "right";
  userIndex: number;
  reason: string | null | undefined;
  outcomes: CheckOutcome[];
  evidenceCount: number;
  toggleSuspension: boolean;
  /** With the natural action on a submitted step: return it rather than approve it. */
  preferReturn: boolean;
}

const commandArb: fc.Arbitrary<Command> = fc.record({
  pick: fc.oneof(
    { weight: 5, arbitrary: fc.record({ kind: fc.constant("active" as const), index: fc.nat(5) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("any" as const), key: fc.constantFrom(...STEP_KEYS, "no_such_step") }) },
  ),
  action: fc.oneof({ weight: 6, arbitrary: fc.constant("natural" as const) }, { weight: 1, arbitrary: fc.constantFrom(...STEP_ACTIONS) }),
  party: fc.oneof(
    { weight: 6, arbitrary: fc.constant("right" as const) },
    { weight: 1, arbitrary: fc.constantFrom<Party>("officer", "participant", "system") },
  ),
  userIndex: fc.nat(1),
  reason: fc.oneof(
    fc.constant(undefined),
    fc.constant(null),
    fc.constantFrom("", "    ", "no", " abcd ", "Missing the signed form.", "請補交文件副本"),
    fc.string({ maxLength: 8 }),
  ),
  outcomes: fc.oneof(
    { weight: 1, arbitrary: fc.constant([] as CheckOutcome[]) },
    { weight: 8, arbitrary: fc.array(fc.constantFrom<CheckOutcome>("pass", "pass", "pass", "pass", "fail", "manual"), { minLength: 1, maxLength: 2 }) },
  ),
  evidenceCount: fc.oneof({ weight: 1, arbitrary: fc.constant(0) }, { weight: 6, arbitrary: fc.integer({ min: 1, max: 3 }) }),
  toggleSuspension: fc.oneof({ weight: 20, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  preferReturn: fc.oneof({ weight: 3, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
});

/** What a person would do next with a step in this state. */
function naturalAction(def: StepDefinition, state: CaseSnapshot[string]["state"], returnInstead: boolean): StepAction {
  if (def.approval === "automatic") return "auto_complete";
  if (state === "in_progress") return "submit";
  if (state === "submitted") return returnInstead ? "return" : "approve";
  return "start";
}

function rightParty(def: StepDefinition, action: StepAction): Party {
  if (action === "start" || action === "submit") return def.completedBy;
  if (action === "auto_complete") return "system";
  return "officer";
}

function userOf(party: Party, index: number): string | null {
  if (party === "officer") return OFFICERS[index]!;
  if (party === "participant") return PARTICIPANT_USERS[index]!;
  return null;
}

/** A plain assertion for the hot loop: vitest's expect is too slow for tens of thousands of moves. */
function ensure(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object") {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** The status the spec asks for, worked out independently: the furthest status any approved step has reached. */
const STATUS_RANK: ParticipantStatus[] = ["prospect", "onboarding", "certified", "live"];
function expectedStatus(snapshot: CaseSnapshot, suspended: boolean): ParticipantStatus {
  if (suspended) return "suspended";
  let rank = 0;
  for (const step of WORKFLOW) {
    if (step.statusOnApproval && snapshot[step.key]!.state === "approved") {
      rank = Math.max(rank, STATUS_RANK.indexOf(step.statusOnApproval));
    }
  }
  return STATUS_RANK[rank]!;
}

interface Model {
  snapshot: CaseSnapshot;
  /** Who approved each step (the service's decided_by), and how. */
  decided: Record<string, { by: string | null; action: StepAction; checks: CheckResult[] }>;
  suspended: boolean;
}

/** Writes an accepted transition as the service does (applyTransition in service.server.ts). */
function apply(model: Model, key: string, request: TransitionRequest, state: CaseSnapshot[string]["state"], unlocked: string[]): Model {
  const snapshot = structuredClone(model.snapshot);
  const step = snapshot[key]!;
  step.state = state;
  if (request.action === "submit") step.submittedBy = request.userId;
  if (request.action === "return") step.returnReason = request.reason ?? null;
  for (const u of unlocked) snapshot[u]!.state = "ready";
  const decided = { ...model.decided };
  if (state === "approved") decided[key] = { by: request.userId, action: request.action, checks: [...(request.checks ?? [])] };
  return { ...model, snapshot, decided };
}

/** The invariants that hold after every move. */
function expectCaseMakesSense(model: Model, before: Model) {
  const { snapshot } = model;
  ensure(Object.keys(snapshot).join() === STEP_KEYS.join(), "the case lost or gained steps");
  for (const def of WORKFLOW) {
    const step = snapshot[def.key]!;
    const blockers = blockersOf(def, snapshot);
    // No step is approved (or even open) before its dependencies; none stays locked once they are all approved.
    ensure(step.state !== "approved" || blockers.length === 0, `${def.key} approved before ${blockers.join(", ")}`);
    ensure((step.state === "locked") === blockers.length > 0, `${def.key} is ${step.state} with blockers [${blockers.join(", ")}]`);
    // A returned step carries its reason.
    if (step.state === "returned") {
      ensure((step.returnReason ?? "").trim().length >= MIN_REASON_LENGTH, `${def.key} returned without a reason: ${JSON.stringify(step.returnReason)}`);
    }
    // A submitted step says who submitted it, someone of the side that completes it.
    if (step.state === "submitted") {
      const pool: readonly (string | null)[] = def.completedBy === "officer" ? OFFICERS : PARTICIPANT_USERS;
      ensure(pool.includes(step.submittedBy), `${def.key} submitted by ${step.submittedBy}`);
    }
    if (step.state === "approved") {
      const decision = model.decided[def.key];
      ensure(decision !== undefined, `${def.key} approved without a decision`);
      if (def.approval === "officer") {
        // Four eyes: an officer approved it, never the one who submitted it.
        ensure(decision.action === "approve", `${def.key} approved by ${decision.action}`);
        ensure((OFFICERS as readonly (string | null)[]).includes(decision.by), `${def.key} approved by ${decision.by}`);
        ensure(decision.by !== step.submittedBy, `${def.key} approved by its submitter ${decision.by}`);
      } else {
        // An automatic step completes by itself, as the system, with every one of its checks passing.
        ensure(decision.action === "auto_complete" && decision.by === null, `${def.key} completed by ${decision.by} (${decision.action})`);
        for (const id of def.checks) {
          ensure(decision.checks.some((c) => c.id === id && c.outcome === "pass"), `${def.key} completed without ${id} passing`);
        }
      }
    }
    // Approval is final.
    ensure(before.snapshot[def.key]!.state !== "approved" || step.state === "approved", `${def.key} left approved`);
  }
  // The participant's status always matches the steps; suspension overrides.
  for (const suspended of [model.suspended, !model.suspended]) {
    const derived = deriveParticipantStatus(snapshot, suspended);
    const expected = expectedStatus(snapshot, suspended);
    ensure(derived === expected, `status ${derived}, expected ${expected} (suspended: ${suspended})`);
  }
  // Without a suspension, a participant never goes back down the pipeline.
  const rank = (m: Model) => STATUS_RANK.indexOf(deriveParticipantStatus(m.snapshot, false));
  ensure(rank(model) >= rank(before), "the participant went back down the pipeline");
}

/** A refusal names a catalogue message, filled completely in both languages, and a locked step names its blockers. */
function expectReadableRefusal(messageKey: MessageKey, params: Record<string, string | number> | undefined, snapshot: CaseSnapshot, key: string) {
  ensure(isMessageKey(messageKey), `${messageKey} is not in the catalogue`);
  for (const locale of ["en", "zh-HK"] as const) {
    const text = translator(locale)(messageKey, params);
    ensure(!/\{\w+\}/.test(text) && !/[:：]\s*[.。]$/.test(text), `${locale}: "${text}" is not filled in`);
  }
  if (messageKey === "case.refused.locked") {
    const blockers = blockersOf(stepDefinition(key)!, snapshot).join(", ");
    ensure(params?.steps === blockers, `locked names ${params?.steps}, blockers are ${blockers}`);
  }
}

interface Tally {
  transitions: number;
  accepted: Record<string, number>;
  refusals: Record<string, number>;
  furthest: Record<string, number>;
}

function runSequence(commands: Command[], tally: Tally): Model {
  let model: Model = { snapshot: initialCase(), decided: {}, suspended: false };
  expectCaseMakesSense(model, model);
  for (const command of commands) {
    const before = model;
    if (command.toggleSuspension) model = { ...model, suspended: !model.suspended };

    const active = activeSteps(model.snapshot);
    if (active.length === 0 && command.pick.kind === "active") continue;
    const key = command.pick.kind === "any" ? command.pick.key : active[command.pick.index % active.length]!.key;
    const def = stepDefinition(key);
    const state = model.snapshot[key]?.state ?? "ready";
    const action = command.action === "natural" ? (def ? naturalAction(def, state, command.preferReturn) : "start") : command.action;
    const party = command.party === "right" ? (def ? rightParty(def, action) : "officer") : command.party;
    const request: TransitionRequest = {
      action,
      party,
      userId: userOf(party, command.userIndex),
      reason: command.reason,
      checks: (def?.checks ?? []).flatMap((id, i) => {
        const outcome = command.outcomes[i];
        return outcome ? [{ id, outcome, messageKey: "check.manual.credentials" as const }] : [];
      }),
      evidenceCount: command.evidenceCount,
    };

    // The rules must not touch the case they are shown.
    const result = transition(deepFreeze(structuredClone(model.snapshot)), key, request);
    tally.transitions++;
    if (result.ok) {
      tally.accepted[action] = (tally.accepted[action] ?? 0) + 1;
      const expectedState = { start: "in_progress", submit: "submitted", approve: "approved", return: "returned", auto_complete: "approved" }[action];
      ensure(result.state === expectedState, `${action} led to ${result.state}`);
      ensure(result.state === "approved" || result.unlocked.length === 0, `${action} unlocked ${result.unlocked.join(", ")}`);
      for (const u of result.unlocked) {
        ensure(model.snapshot[u]!.state === "locked", `${u} unlocked twice`);
        ensure(stepDefinition(u)!.dependsOn.includes(key), `${u} unlocked by ${key}, which it does not depend on`);
      }
      if (action === "submit") {
        ensure(!request.checks!.some((c) => c.outcome === "fail"), `${key} submitted with a failing check`);
        ensure(!def!.requiresEvidence || (request.evidenceCount ?? 0) > 0, `${key} submitted without evidence`);
      }
      model = apply(model, key, request, result.state, result.unlocked);
    } else {
      tally.refusals[result.messageKey] = (tally.refusals[result.messageKey] ?? 0) + 1;
      expectReadableRefusal(result.messageKey, result.params, model.snapshot, key);
    }
    expectCaseMakesSense(model, before);
  }
  return model;
}

/** Drives a case to the end the way the people would, from wherever it stands; it must never get stuck. */
function finish(start: Model): Model {
  let model = start;
  for (let i = 0; i < 4 * WORKFLOW.length; i++) {
    const next = activeSteps(model.snapshot)[0];
    if (!next) break;
    const step = model.snapshot[next.key]!;
    const action = naturalAction(next, step.state, false);
    const party = rightParty(next, action);
    const request: TransitionRequest = {
      action,
      party,
      userId: action === "approve" ? OFFICERS.find((o) => o !== step.submittedBy)! : userOf(party, 0),
      checks: next.checks.map((id) => ({ id, outcome: "pass" as const, messageKey: "check.manual.credentials" as const })),
      evidenceCount: 1,
    };
    const result = transition(model.snapshot, next.key, request);
    if (!result.ok) throw new Error(`stuck at ${next.key} (${step.state}): ${result.messageKey}`);
    const before = model;
    model = apply(model, next.key, request, result.state, result.unlocked);
    expectCaseMakesSense(model, before);
  }
  return model;
}

describe("the onboarding workflow under random transitions", () => {
  it("is a well-formed definition", () => {
    expect(validateWorkflow(WORKFLOW)).toEqual([]);
  });

  it("keeps every case consistent after every move, and never gets stuck", () => {
    const tally: Tally = { transitions: 0, accepted: {}, refusals: {}, furthest: {} };
    const property = fc.property(fc.array(commandArb, { minLength: 1, maxLength: 120, size: "max" }), (commands) => {
      const model = runSequence(commands, tally);
      const status = deriveParticipantStatus(model.snapshot, false);
      tally.furthest[status] = (tally.furthest[status] ?? 0) + 1;
      const done = finish(model);
      expect(WORKFLOW.every((s) => done.snapshot[s.key]!.state === "approved")).toBe(true);
      expect(deriveParticipantStatus(done.snapshot, done.suspended)).toBe(done.suspended ? "suspended" : "live");
    });
    const details = fc.check(property, { numRuns: NUM_RUNS, seed: SEED });
    expect(details.failed, fc.defaultReportMessage(details) ?? "").toBe(false);
    expect(details.numRuns).toBe(NUM_RUNS);

    // The generator has to reach deep into the workflow, or the invariants prove little.
    expect(tally.furthest.live ?? 0, JSON.stringify(tally.furthest)).toBeGreaterThan(0);
    expect(tally.furthest.certified ?? 0).toBeGreaterThan(0);
    for (const action of STEP_ACTIONS) expect(tally.accepted[action] ?? 0, action).toBeGreaterThan(0);
    for (const key of [
      "case.refused.locked",
      "case.refused.notYourStep",
      "case.refused.fourEyes",
      "case.refused.reasonRequired",
      "case.refused.evidenceRequired",
      "case.refused.checksFailing",
      "case.refused.automatic",
      "case.refused.officerOnly",
      "case.refused.alreadyApproved",
      "case.refused.unknownStep",
    ]) {
      expect(tally.refusals[key] ?? 0, key).toBeGreaterThan(0);
    }
    console.log(
      `workflow property: ${details.numRuns} runs (seed ${SEED}), ${tally.transitions} transitions; ` +
        `furthest status reached ${JSON.stringify(tally.furthest)}; accepted ${JSON.stringify(tally.accepted)}; ` +
        `refusals ${JSON.stringify(tally.refusals)}`,
    );
  });
});
