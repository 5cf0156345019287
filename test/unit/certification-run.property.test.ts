import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isMessageKey } from "~/i18n/messages";
import { decideRun, isCurrent, missingMandatory, type RunAction, type RunFacts } from "~/modules/certification/rules";
import { CASE_OUTCOMES } from "../../db/schema/certification";

/**
 * Random sequences of actions by random people on a random run, applied the way the service applies them. After
 * every accepted move the rules of SPEC §6 must hold. The seed is fixed so a failure reproduces.
 */
const SEED = Number(process.env.FC_SEED ?? 20261202);
const RUNS = Number(process.env.FC_NUM_RUNS ?? 300);
const PEOPLE = ["maker", "checker", "tester", "officer1", "officer2"] as const;

const caseArb = fc.array(fc.record({ code: fc.constantFrom("A", "B", "C", "D", "E"), mandatory: fc.boolean() }), { minLength: 1, maxLength: 5 }).map((cs) => {
  const seen = new Map<string, boolean>();
  for (const c of cs) if (!seen.has(c.code)) seen.set(c.code, c.mandatory);
  return [...seen].map(([code, mandatory]) => ({ code, mandatory, latest: null }));
});

const actionArb: fc.Arbitrary<RunAction> = fc.oneof(
  fc.record({ kind: fc.constant("record" as const), userId: fc.constantFrom(...PEOPLE), caseCode: fc.constantFrom("A", "B", "C", "D", "E", "Z"), outcome: fc.constantFrom(...CASE_OUTCOMES) }),
  fc.record({ kind: fc.constant("record" as const), userId: fc.constantFrom(...PEOPLE), caseCode: fc.constantFrom("A", "B", "C"), outcome: fc.constant("passed" as const) }),
  fc.record({ kind: fc.constantFrom("submit" as const, "confirm" as const, "sign_off" as const, "return" as const), userId: fc.constantFrom(...PEOPLE, null) }),
  fc.constant({ kind: "stale" as const }),
);

/** Applies an accepted action to the facts as the service does. */
function apply(run: RunFacts, action: RunAction, status: RunFacts["status"]): RunFacts {
  const next: RunFacts = { ...run, status, cases: run.cases.map((c) => ({ ...c })), recorders: [...run.recorders] };
  if (action.kind === "record") {
    next.cases = next.cases.map((c) => (c.code === action.caseCode ? { ...c, latest: action.outcome } : c));
    if (action.userId) next.recorders = [...new Set([...next.recorders, action.userId])];
  }
  if (action.kind === "submit") next.submittedBy = action.userId;
  if (action.kind === "confirm") next.confirmedBy = action.userId;
  if (action.kind === "return") next.confirmedBy = null;
  return next;
}

describe("certification run rules (property-based)", () => {
  it("never signs off without every mandatory case passed, never by someone who worked on the run, and freezes a sign-off", () => {
    fc.assert(
      fc.property(caseArb, fc.array(actionArb, { maxLength: 40 }), (cases, actions) => {
        let run: RunFacts = { status: "recording", submittedBy: null, confirmedBy: null, recorders: [], cases };
        for (const action of actions) {
          const before = run;
          const decision = decideRun(run, action);
          if (!decision.ok) {
            expect(isMessageKey(decision.messageKey), decision.messageKey).toBe(true);
            continue;
          }
          run = apply(run, action, decision.status);
          if (action.kind === "sign_off") {
            expect(missingMandatory(before.cases)).toEqual([]);
            expect(action.userId).not.toBeNull();
            expect(before.recorders).not.toContain(action.userId);
            expect(action.userId).not.toBe(before.submittedBy);
            expect(action.userId).not.toBe(before.confirmedBy);
            expect(before.status).toBe("confirmed");
          }
          if (action.kind === "submit") expect(missingMandatory(before.cases)).toEqual([]);
          if (action.kind === "confirm") expect(action.userId).not.toBe(before.submittedBy);
          // Immutable after sign-off: the only way out is going stale.
          if (before.status === "signed_off") expect(action.kind).toBe("stale");
          // Stale is the end.
          expect(before.status).not.toBe("stale");
        }
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it("refuses not applicable for a mandatory case and accepts it for an optional one", () => {
    const run: RunFacts = {
      status: "recording",
      submittedBy: null,
      confirmedBy: null,
      recorders: [],
      cases: [
        { code: "M", mandatory: true, latest: null },
        { code: "O", mandatory: false, latest: null },
      ],
    };
    expect(decideRun(run, { kind: "record", userId: "t", caseCode: "M", outcome: "not_applicable" })).toEqual({ ok: false, messageKey: "cert.refused.mandatoryApplies" });
    expect(decideRun(run, { kind: "record", userId: "t", caseCode: "O", outcome: "not_applicable" })).toEqual({ ok: true, status: "recording" });
  });

  it("makes any run stale once, whatever its state", () => {
    for (const status of ["recording", "submitted", "confirmed", "signed_off", "returned"] as const) {
      expect(decideRun({ status, submittedBy: null, confirmedBy: null, recorders: [], cases: [] }, { kind: "stale" })).toEqual({ ok: true, status: "stale" });
    }
    expect(decideRun({ status: "stale", submittedBy: null, confirmedBy: null, recorders: [], cases: [] }, { kind: "stale" }).ok).toBe(false);
  });

  it("keeps a sign-off current only for the same program version and the catalogue's mandatory cases", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("1.0", "1.1", "2.0"),
        fc.constantFrom("1.0", "1.1", "2.0", null),
        fc.subarray(["A", "B", "C"]),
        fc.subarray(["A", "B", "C"]),
        (runVersion, declared, runCases, mandatory) => {
          const current = isCurrent(
            { status: "signed_off", programVersion: runVersion, caseCodes: runCases, services: ["s"] },
            { programVersion: declared, mandatoryCases: mandatory.map((code) => ({ code, serviceCode: "s" })), subscribed: ["s"] },
          );
          const expected = (declared === null || declared === runVersion) && mandatory.every((m) => runCases.includes(m));
          expect(current).toBe(expected);
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
    expect(isCurrent({ status: "stale", programVersion: "1", caseCodes: [], services: ["s"] }, { programVersion: "1", mandatoryCases: [], subscribed: ["s"] })).toBe(false);
    // A service subscribed after the sign-off is not covered by it.
    expect(isCurrent({ status: "signed_off", programVersion: "1", caseCodes: [], services: ["s"] }, { programVersion: "1", mandatoryCases: [], subscribed: ["s", "t"] })).toBe(false);
  });
});
