import { describe, expect, it } from "vitest";
import { isMessageKey, translator, type MessageKey } from "~/i18n/messages";
import {
  CHECK_IDS,
  MIN_REASON_LENGTH,
  WORKFLOW,
  activeSteps,
  blockersOf,
  deriveParticipantStatus,
  hongKongDate,
  initialCase,
  isOverdue,
  stepDefinition,
  transition,
  unlockedBy,
  validateWorkflow,
  type CaseSnapshot,
  type CheckResult,
  type StepDefinition,
  type TransitionRequest,
  type TransitionResult,
} from "~/modules/onboarding/workflow";

const OFFICER = "officer-olivia";
const OFFICER_2 = "officer-owen";
const DA = "da-mandy";

const officer = (userId = OFFICER) => ({ party: "officer" as const, userId });
const participant = (userId = DA) => ({ party: "participant" as const, userId });
const system = { party: "system" as const, userId: null };

function check(id: CheckResult["id"], outcome: CheckResult["outcome"]): CheckResult {
  return { id, outcome, messageKey: outcome === "manual" ? "check.manual.credentials" : "check.services_covered.pass" };
}
const passing = (key: string) => stepDefinition(key)!.checks.map((id) => check(id, "pass"));

/** A case with the given steps in the given states (submittedBy and returnReason as the service would keep them). */
function caseWith(states: Record<string, Partial<CaseSnapshot[string]> & { state: CaseSnapshot[string]["state"] }>): CaseSnapshot {
  const snapshot = initialCase();
  for (const [key, s] of Object.entries(states)) snapshot[key] = { ...snapshot[key]!, ...s };
  return snapshot;
}

/** Every step before `key` in workflow order approved, `key` itself in `state`. */
function caseAt(key: string, state: CaseSnapshot[string]["state"], extra: Partial<CaseSnapshot[string]> = {}): CaseSnapshot {
  const snapshot = initialCase();
  for (const step of WORKFLOW) {
    if (step.key === key) {
      snapshot[step.key] = { state, submittedBy: null, returnReason: null, ...extra };
      break;
    }
    snapshot[step.key] = { state: "approved", submittedBy: null, returnReason: null };
  }
  return snapshot;
}

function refusal(result: TransitionResult): { messageKey: MessageKey; params?: Record<string, string | number> } {
  if (result.ok) throw new Error(`expected a refusal, got ${JSON.stringify(result)}`);
  return result;
}

/** A refusal a person can read: a catalogue key, filled completely in both languages. */
function expectReadableRefusal(result: TransitionResult, messageKey: MessageKey) {
  const r = refusal(result);
  expect(r.messageKey).toBe(messageKey);
  expect(isMessageKey(r.messageKey)).toBe(true);
  for (const locale of ["en", "zh-HK"] as const) {
    const text = translator(locale)(r.messageKey, r.params);
    expect(text, `${locale}: ${text}`).not.toMatch(/\{\w+\}/);
    expect(text, `${locale}: ${text}`).not.toMatch(/[:：]\s*[.。]$/);
  }
  return r;
}

function move(snapshot: CaseSnapshot, key: string, request: TransitionRequest): TransitionResult {
  return transition(snapshot, key, request);
}

describe("the workflow definition", () => {
  it("is well formed: unique keys, every dependency an earlier step", () => {
    expect(validateWorkflow(WORKFLOW)).toEqual([]);
  });

  it("follows the OCP Onboarding Guide's eight steps in order", () => {
    expect(WORKFLOW.map((s) => s.key)).toEqual([
      "application",
      "admin_nomination",
      "admin_activation",
      "users_and_roles",
      "test_credentials",
      "api_certification",
      "readiness_verification",
      "production_enablement",
    ]);
  });

  it("gives every step a title and description in the catalogue, and only known checks", () => {
    for (const step of WORKFLOW) {
      expect(isMessageKey(step.titleKey), step.titleKey).toBe(true);
      expect(isMessageKey(step.descriptionKey), step.descriptionKey).toBe(true);
      for (const id of step.checks) expect(CHECK_IDS).toContain(id);
    }
  });

  it("lets an automatic step complete only through at least one check, and moves the status forward in order", () => {
    for (const step of WORKFLOW.filter((s) => s.approval === "automatic")) expect(step.checks.length, step.key).toBeGreaterThan(0);
    const statuses = WORKFLOW.flatMap((s) => (s.statusOnApproval ? [s.statusOnApproval] : []));
    expect(statuses).toEqual(["onboarding", "certified", "live"]);
  });

  it("reports a duplicate step, a dependency on a later step, an unknown step and a step depending on itself", () => {
    const base: StepDefinition = { ...WORKFLOW[0]!, dependsOn: [] };
    expect(validateWorkflow([base, { ...base }])).toEqual(["duplicate step application"]);
    expect(
      validateWorkflow([
        { ...base, key: "a", dependsOn: ["b"] },
        { ...base, key: "b", dependsOn: [] },
      ]),
    ).toEqual(["a depends on b, which is not an earlier step"]);
    expect(validateWorkflow([{ ...base, key: "a", dependsOn: ["nowhere"] }])).toEqual([
      "a depends on nowhere, which is not an earlier step",
    ]);
    expect(validateWorkflow([{ ...base, key: "a", dependsOn: ["a"] }])).toEqual(["a depends on a, which is not an earlier step"]);
  });
});

describe("a new case", () => {
  it("has the application ready and every other step locked", () => {
    const snapshot = initialCase();
    expect(Object.keys(snapshot)).toEqual(WORKFLOW.map((s) => s.key));
    expect(snapshot.application).toEqual({ state: "ready", submittedBy: null, returnReason: null });
    for (const step of WORKFLOW.slice(1)) expect(snapshot[step.key]!.state, step.key).toBe("locked");
    expect(activeSteps(snapshot).map((s) => s.key)).toEqual(["application"]);
  });

  it("makes a participant a prospect until the application is approved", () => {
    expect(deriveParticipantStatus(initialCase(), false)).toBe("prospect");
  });
});

describe("moving a step: ready → in progress → submitted → approved", () => {
  it("walks the application through with an officer who submits and another who approves", () => {
    let snapshot = initialCase();
    const started = move(snapshot, "application", { action: "start", ...officer() });
    expect(started).toEqual({ ok: true, state: "in_progress", unlocked: [] });
    snapshot = caseWith({ application: { state: "in_progress" } });
    const submitted = move(snapshot, "application", { action: "submit", ...officer(), checks: passing("application"), evidenceCount: 1 });
    expect(submitted).toEqual({ ok: true, state: "submitted", unlocked: [] });
    snapshot = caseWith({ application: { state: "submitted", submittedBy: OFFICER } });
    const approved = move(snapshot, "application", { action: "approve", ...officer(OFFICER_2) });
    expect(approved).toEqual({ ok: true, state: "approved", unlocked: ["admin_nomination"] });
  });

  it("lets a returned step be started again and resubmitted", () => {
    const snapshot = caseAt("test_credentials", "returned", { submittedBy: DA, returnReason: "The client ID is missing." });
    expect(move(snapshot, "test_credentials", { action: "start", ...participant() })).toMatchObject({ ok: true, state: "in_progress" });
    expect(move(snapshot, "test_credentials", { action: "submit", ...participant(), checks: [], evidenceCount: 1 })).toMatchObject({
      ok: true,
      state: "submitted",
    });
  });

  it("returns a submitted step with a reason", () => {
    const snapshot = caseAt("test_credentials", "submitted", { submittedBy: DA });
    expect(move(snapshot, "test_credentials", { action: "return", ...officer(), reason: "The client ID is missing." })).toEqual({
      ok: true,
      state: "returned",
      unlocked: [],
    });
  });

  it("accepts checks an officer judges by hand ('manual') at submission", () => {
    const snapshot = caseAt("test_credentials", "in_progress");
    expect(
      move(snapshot, "test_credentials", {
        action: "submit",
        ...participant(),
        checks: [check("test_credentials_issued", "manual")],
        evidenceCount: 1,
      }),
    ).toMatchObject({ ok: true, state: "submitted" });
  });

  it("does not change the case it is asked about", () => {
    const snapshot = caseAt("test_credentials", "submitted", { submittedBy: DA });
    const copy = structuredClone(snapshot);
    move(snapshot, "test_credentials", { action: "approve", ...officer() });
    move(snapshot, "test_credentials", { action: "return", ...officer(), reason: "Missing documents." });
    expect(snapshot).toEqual(copy);
  });
});

describe("refusals say why, in words a person understands", () => {
  it("refuses a locked step and names the steps it waits for", () => {
    const r = expectReadableRefusal(move(initialCase(), "admin_nomination", { action: "start", ...officer() }), "case.refused.locked");
    expect(r.params).toEqual({ steps: "application" });
  });

  it("names every unapproved dependency of a step that waits for two", () => {
    const snapshot = caseWith({
      application: { state: "approved" },
      admin_nomination: { state: "approved" },
      admin_activation: { state: "approved" },
      users_and_roles: { state: "in_progress" },
      test_credentials: { state: "approved" },
      api_certification: { state: "submitted" },
    });
    const r = expectReadableRefusal(move(snapshot, "readiness_verification", { action: "start", ...officer() }), "case.refused.locked");
    expect(r.params).toEqual({ steps: "users_and_roles, api_certification" });
    expect(translator("en")(r.messageKey, r.params)).toBe(
      "This step is locked until these steps are approved: users_and_roles, api_certification.",
    );
  });

  it("refuses to start a step meant for the other side", () => {
    expectReadableRefusal(move(initialCase(), "application", { action: "start", ...participant() }), "case.refused.notYourStep");
    const at = caseAt("test_credentials", "ready");
    expectReadableRefusal(move(at, "test_credentials", { action: "start", ...officer() }), "case.refused.notYourStep");
    expectReadableRefusal(move(at, "test_credentials", { action: "submit", ...officer(), evidenceCount: 1 }), "case.refused.notYourStep");
  });

  it("refuses to start a step twice", () => {
    expectReadableRefusal(move(caseAt("test_credentials", "in_progress"), "test_credentials", { action: "start", ...participant() }), "case.refused.cannotStart");
  });

  it("refuses an approval or a return by anyone but an officer", () => {
    const snapshot = caseAt("test_credentials", "submitted", { submittedBy: DA });
    expectReadableRefusal(move(snapshot, "test_credentials", { action: "approve", ...participant("da-chris") }), "case.refused.officerOnly");
    expectReadableRefusal(
      move(snapshot, "test_credentials", { action: "return", ...participant("da-chris"), reason: "Not good enough" }),
      "case.refused.officerOnly",
    );
    expectReadableRefusal(move(snapshot, "test_credentials", { action: "approve", ...system }), "case.refused.officerOnly");
  });

  it("refuses an approval by the officer who submitted the step (four eyes), and lets a second officer approve", () => {
    const snapshot = caseWith({ application: { state: "submitted", submittedBy: OFFICER } });
    expectReadableRefusal(move(snapshot, "application", { action: "approve", ...officer(OFFICER) }), "case.refused.fourEyes");
    // The refusal says "another officer must approve or return it": the submitter cannot return it either.
    expectReadableRefusal(
      move(snapshot, "application", { action: "return", ...officer(OFFICER), reason: "Second thoughts" }),
      "case.refused.fourEyes",
    );
    expect(move(snapshot, "application", { action: "approve", ...officer(OFFICER_2) })).toMatchObject({ ok: true, state: "approved" });
    expect(move(snapshot, "application", { action: "return", ...officer(OFFICER_2), reason: "Contacts missing" })).toMatchObject({
      ok: true,
      state: "returned",
    });
  });

  it("refuses a return without a reason of at least five characters", () => {
    const snapshot = caseAt("test_credentials", "submitted", { submittedBy: DA });
    for (const reason of [undefined, null, "", "    ", "no", "  abcd  "]) {
      const r = expectReadableRefusal(move(snapshot, "test_credentials", { action: "return", ...officer(), reason }), "case.refused.reasonRequired");
      expect(r.params).toEqual({ min: MIN_REASON_LENGTH });
    }
    expect(move(snapshot, "test_credentials", { action: "return", ...officer(), reason: "abcde" })).toMatchObject({ ok: true });
  });

  it("refuses to submit without evidence a step that requires it", () => {
    const snapshot = caseAt("test_credentials", "in_progress");
    expectReadableRefusal(move(snapshot, "test_credentials", { action: "submit", ...participant(), evidenceCount: 0 }), "case.refused.evidenceRequired");
    expectReadableRefusal(move(snapshot, "test_credentials", { action: "submit", ...participant() }), "case.refused.evidenceRequired");
    // Users and roles is proven by its check, not by documents.
    const users = caseAt("users_and_roles", "in_progress");
    expect(move(users, "users_and_roles", { action: "submit", ...participant(), checks: passing("users_and_roles"), evidenceCount: 0 })).toMatchObject({
      ok: true,
    });
  });

  it("refuses to submit while an automatic check fails, and names the failing checks", () => {
    const snapshot = caseAt("users_and_roles", "in_progress");
    const r = expectReadableRefusal(
      move(snapshot, "users_and_roles", { action: "submit", ...participant(), checks: [check("services_covered", "fail")], evidenceCount: 1 }),
      "case.refused.checksFailing",
    );
    expect(r.params).toEqual({ checks: "every subscribed service has a user", checksZh: "每項已訂閱的服務均有用戶" });
  });

  it("refuses to submit a step already submitted, and to approve one not submitted", () => {
    expectReadableRefusal(
      move(caseAt("test_credentials", "submitted", { submittedBy: DA }), "test_credentials", { action: "submit", ...participant(), evidenceCount: 1 }),
      "case.refused.alreadySubmitted",
    );
    for (const state of ["ready", "in_progress", "returned"] as const) {
      const snapshot = caseAt("test_credentials", state, state === "returned" ? { returnReason: "Missing documents." } : {});
      expectReadableRefusal(move(snapshot, "test_credentials", { action: "approve", ...officer() }), "case.refused.notSubmitted");
      expectReadableRefusal(move(snapshot, "test_credentials", { action: "return", ...officer(), reason: "Missing documents." }), "case.refused.notSubmitted");
    }
  });

  it("refuses any move on an approved step", () => {
    const snapshot = caseAt("test_credentials", "ready");
    for (const action of ["start", "submit", "approve", "return", "auto_complete"] as const) {
      expectReadableRefusal(move(snapshot, "application", { action, ...officer(), reason: "Reopen it please", evidenceCount: 1 }), "case.refused.alreadyApproved");
    }
  });

  it("refuses an unknown step", () => {
    expectReadableRefusal(move(initialCase(), "no_such_step", { action: "start", ...officer() }), "case.refused.unknownStep");
  });

  it("never lets anyone submit, approve or return the automatic administrator activation", () => {
    const snapshot = caseAt("admin_activation", "in_progress");
    expectReadableRefusal(move(snapshot, "admin_activation", { action: "submit", ...participant(), evidenceCount: 1 }), "case.refused.automatic");
    expectReadableRefusal(move(snapshot, "admin_activation", { action: "approve", ...officer() }), "case.refused.automatic");
    expectReadableRefusal(move(snapshot, "admin_activation", { action: "return", ...officer(), reason: "Not activated" }), "case.refused.automatic");
  });

  it("completes the automatic step only as the system, only when every one of its checks passes", () => {
    const snapshot = caseAt("admin_activation", "ready");
    const checks = passing("admin_activation");
    expect(move(snapshot, "admin_activation", { action: "auto_complete", ...system, checks })).toEqual({
      ok: true,
      state: "approved",
      unlocked: ["users_and_roles", "test_credentials"],
    });
    expectReadableRefusal(move(snapshot, "admin_activation", { action: "auto_complete", ...officer(), checks }), "case.refused.automatic");
    const failing = expectReadableRefusal(
      move(snapshot, "admin_activation", { action: "auto_complete", ...system, checks: [check("administrators_activated", "fail")] }),
      "case.refused.checksFailing",
    );
    expect(failing.params).toEqual({ checks: "administrators activated", checksZh: "管理員已啟用帳戶" });
    // A check an officer would judge by hand is not a pass: nobody is there to judge it.
    expectReadableRefusal(
      move(snapshot, "admin_activation", { action: "auto_complete", ...system, checks: [check("administrators_activated", "manual")] }),
      "case.refused.checksFailing",
    );
  });

  it("names the checks that have no result when asked to complete an automatic step without them", () => {
    const snapshot = caseAt("admin_activation", "ready");
    const missing = expectReadableRefusal(move(snapshot, "admin_activation", { action: "auto_complete", ...system, checks: [] }), "case.refused.checksFailing");
    expect(missing.params).toEqual({ checks: "administrators activated", checksZh: "管理員已啟用帳戶" });
    // A passing result for some other check does not complete this step.
    const other = expectReadableRefusal(
      move(snapshot, "admin_activation", { action: "auto_complete", ...system, checks: [check("services_covered", "pass")] }),
      "case.refused.checksFailing",
    );
    expect(other.params).toEqual({ checks: "administrators activated", checksZh: "管理員已啟用帳戶" });
  });

  it("refuses to complete by itself a step that needs an officer", () => {
    expectReadableRefusal(
      move(caseAt("test_credentials", "submitted", { submittedBy: DA }), "test_credentials", { action: "auto_complete", ...system, checks: passing("test_credentials") }),
      "case.refused.notAutomatic",
    );
  });
});

describe("dependencies and unlocking", () => {
  it("names the unapproved dependencies as blockers", () => {
    const readiness = stepDefinition("readiness_verification")!;
    expect(blockersOf(readiness, initialCase())).toEqual(["users_and_roles", "api_certification"]);
    expect(blockersOf(readiness, caseWith({ users_and_roles: { state: "approved" } }))).toEqual(["api_certification"]);
  });

  it("unlocks a step only when its last dependency is approved", () => {
    const oneDone = caseWith({
      application: { state: "approved" },
      admin_nomination: { state: "approved" },
      admin_activation: { state: "approved" },
      users_and_roles: { state: "submitted", submittedBy: DA },
      test_credentials: { state: "approved" },
      api_certification: { state: "submitted", submittedBy: DA },
    });
    expect(unlockedBy("users_and_roles", oneDone)).toEqual([]);
    const bothDone = { ...oneDone, users_and_roles: { state: "approved" as const, submittedBy: DA, returnReason: null } };
    expect(unlockedBy("api_certification", bothDone)).toEqual(["readiness_verification"]);
    expect(move(bothDone, "api_certification", { action: "approve", ...officer() })).toEqual({
      ok: true,
      state: "approved",
      unlocked: ["readiness_verification"],
    });
  });

  it("unlocks both steps that wait for administrator activation", () => {
    expect(unlockedBy("admin_activation", caseAt("admin_activation", "in_progress"))).toEqual(["users_and_roles", "test_credentials"]);
  });

  it("never unlocks a step that is already open", () => {
    const snapshot = caseWith({
      application: { state: "approved" },
      admin_nomination: { state: "approved" },
      admin_activation: { state: "ready" },
      users_and_roles: { state: "in_progress" },
    });
    expect(unlockedBy("admin_activation", snapshot)).toEqual(["test_credentials"]);
  });
});

describe("the participant's status follows its case", () => {
  it("is onboarding after the application, certified after API certification, live after production enablement", () => {
    expect(deriveParticipantStatus(caseAt("admin_nomination", "ready"), false)).toBe("onboarding");
    expect(deriveParticipantStatus(caseAt("api_certification", "submitted"), false)).toBe("onboarding");
    expect(deriveParticipantStatus(caseAt("readiness_verification", "ready"), false)).toBe("certified");
    expect(deriveParticipantStatus(caseAt("production_enablement", "submitted"), false)).toBe("certified");
    const live = Object.fromEntries(WORKFLOW.map((s) => [s.key, { state: "approved", submittedBy: null, returnReason: null }])) as CaseSnapshot;
    expect(deriveParticipantStatus(live, false)).toBe("live");
  });

  it("is suspended whatever the case says while a suspension stands", () => {
    expect(deriveParticipantStatus(initialCase(), true)).toBe("suspended");
    expect(deriveParticipantStatus(caseAt("readiness_verification", "ready"), true)).toBe("suspended");
  });
});

describe("workflow as data", () => {
  it("runs a workflow with an extra step without code changes", () => {
    const extra: StepDefinition = {
      ...stepDefinition("test_credentials")!,
      key: "security_questionnaire",
      dependsOn: ["application"],
      completedBy: "participant",
      requiresEvidence: true,
      statusOnApproval: undefined,
    };
    const workflow = [...WORKFLOW.slice(0, 1), extra, ...WORKFLOW.slice(1)];
    expect(validateWorkflow(workflow)).toEqual([]);
    const snapshot = initialCase(workflow);
    expect(snapshot.security_questionnaire!.state).toBe("locked");
    const approved = transition({ ...snapshot, application: { state: "submitted", submittedBy: OFFICER, returnReason: null } }, "application", {
      action: "approve",
      ...officer(OFFICER_2),
    }, workflow);
    expect(approved).toEqual({ ok: true, state: "approved", unlocked: ["security_questionnaire", "admin_nomination"] });
  });
});

describe("overdue steps", () => {
  it("is overdue only with a due date before today (Hong Kong) on a step not yet approved", () => {
    expect(isOverdue("in_progress", "2026-03-01", "2026-03-02")).toBe(true);
    expect(isOverdue("ready", "2026-03-02", "2026-03-02")).toBe(false);
    expect(isOverdue("submitted", "2026-03-03", "2026-03-02")).toBe(false);
    expect(isOverdue("approved", "2026-03-01", "2026-03-02")).toBe(false);
    expect(isOverdue("in_progress", null, "2026-03-02")).toBe(false);
  });

  it("counts days on the Hong Kong calendar", () => {
    expect(hongKongDate(new Date("2026-03-01T15:59:59Z"))).toBe("2026-03-01");
    expect(hongKongDate(new Date("2026-03-01T16:00:00Z"))).toBe("2026-03-02");
  });
});
