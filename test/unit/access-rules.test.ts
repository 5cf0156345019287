import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  DORMANT_AFTER_DAYS,
  baselineRemovals,
  decisionRefusal,
  grantCountsAt,
  grantState,
  isDormant,
  lastAdministratorLost,
  lifecycleTarget,
  sodConflictsAmong,
  sodVerdict,
  type DecisionFacts,
  type GrantWindow,
  type SodRuleFact,
  type UserStatus,
} from "~/modules/roles/rules";

/** The rules of migration 0003, as the services load them. */
const RULES: SodRuleFact[] = [
  { id: "si_maker_checker", roleA: "si_maker", roleB: "si_checker", kind: "block" },
  { id: "da_maker_checker", roleA: "da_maker", roleB: "da_checker", kind: "block_unless_waiver" },
  { id: "da_maker_operational_trade", roleA: "da_maker", roleB: "trade_info_viewer", kind: "warn" },
  { id: "da_checker_operational_ref", roleA: "da_checker", roleB: "ref_data_viewer", kind: "warn" },
];
const ids = (rules: SodRuleFact[]) => rules.map((r) => r.id);

const HOUR = 3600 * 1000;
const DAY = 24 * HOUR;
const T0 = new Date("2026-03-02T01:00:00.000Z");
const at = (offset: number) => new Date(T0.getTime() + offset);

describe("separation of duties: sodVerdict", () => {
  it("refuses a blocking pair in either direction, naming the rule", () => {
    expect(ids(sodVerdict(["si_maker"], "si_checker", RULES, []).blocking)).toEqual(["si_maker_checker"]);
    expect(ids(sodVerdict(["si_checker"], "si_maker", RULES, []).blocking)).toEqual(["si_maker_checker"]);
  });

  it("does not let a waiver lift a blocking rule", () => {
    const verdict = sodVerdict(["si_maker"], "si_checker", RULES, ["si_maker_checker"]);
    expect(ids(verdict.blocking)).toEqual(["si_maker_checker"]);
    expect(verdict.waived).toEqual([]);
  });

  it("asks for a waiver for DA maker + checker, and allows it once the waiver is approved", () => {
    const without = sodVerdict(["da_maker"], "da_checker", RULES, []);
    expect(ids(without.waiverMissing)).toEqual(["da_maker_checker"]);
    expect(without.blocking).toEqual([]);
    const withWaiver = sodVerdict(["da_maker"], "da_checker", RULES, ["da_maker_checker"]);
    expect(withWaiver.waiverMissing).toEqual([]);
    expect(ids(withWaiver.waived)).toEqual(["da_maker_checker"]);
  });

  it("only warns when a DA takes an operational role", () => {
    const verdict = sodVerdict(["da_maker"], "trade_info_viewer", RULES, []);
    expect(ids(verdict.warnings)).toEqual(["da_maker_operational_trade"]);
    expect(verdict.blocking).toEqual([]);
    expect(verdict.waiverMissing).toEqual([]);
  });

  it("finds nothing when the other role of a pair is not held, or for an unrelated role", () => {
    expect(sodVerdict([], "si_checker", RULES, [])).toEqual({ blocking: [], waiverMissing: [], warnings: [], waived: [] });
    expect(sodVerdict(["trade_info_viewer"], "ref_data_viewer", RULES, [])).toEqual({ blocking: [], waiverMissing: [], warnings: [], waived: [] });
    // Holding the same role is not a conflict with itself.
    expect(sodVerdict(["si_maker"], "si_maker", RULES, []).blocking).toEqual([]);
  });

  it("reports every rule a new role touches, each in its own list", () => {
    const verdict = sodVerdict(["da_maker", "ref_data_viewer"], "da_checker", RULES, []);
    expect(ids(verdict.waiverMissing)).toEqual(["da_maker_checker"]);
    expect(ids(verdict.warnings)).toEqual(["da_checker_operational_ref"]);
  });

  it("puts each touched rule in exactly one list, whatever is held (property)", () => {
    const roleCodes = ["si_maker", "si_checker", "da_maker", "da_checker", "trade_info_viewer", "ref_data_viewer", "si_status_subscriber"];
    fc.assert(
      fc.property(fc.subarray(roleCodes), fc.constantFrom(...roleCodes), fc.subarray(ids(RULES)), (held, role, waivers) => {
        const v = sodVerdict(held, role, RULES, waivers);
        const all = [...v.blocking, ...v.waiverMissing, ...v.warnings, ...v.waived].map((r) => r.id);
        expect(new Set(all).size).toBe(all.length);
        const touched = RULES.filter((r) => (r.roleA === role && held.includes(r.roleB)) || (r.roleB === role && held.includes(r.roleA)));
        expect(all.sort()).toEqual(ids(touched).sort());
        for (const r of v.waived) expect(waivers).toContain(r.id);
      }),
      { numRuns: 200 },
    );
  });
});

describe("separation of duties: sodConflictsAmong", () => {
  it("lists every rule broken by roles held together", () => {
    expect(ids(sodConflictsAmong(["da_maker", "da_checker", "trade_info_viewer"], RULES))).toEqual(["da_maker_checker", "da_maker_operational_trade"]);
    expect(sodConflictsAmong(["si_maker", "trade_info_viewer"], RULES)).toEqual([]);
  });
});

describe("maker-checker: decisionRefusal", () => {
  const facts = (overrides: Partial<DecisionFacts> = {}): DecisionFacts => ({
    requestStatus: "pending",
    requestParticipantId: "B01234",
    requestedBy: "maker",
    targetUserId: "alice",
    deciderId: "checker",
    deciderParticipantId: "B01234",
    ...overrides,
  });

  it("lets a checker of the same participant decide a pending request of someone else for someone else", () => {
    expect(decisionRefusal(facts())).toBeNull();
    // A request with no recorded maker (an import by the system) is still decidable.
    expect(decisionRefusal(facts({ requestedBy: null }))).toBeNull();
  });

  it("answers not-found for another participant's request, before saying anything else about it", () => {
    expect(decisionRefusal(facts({ deciderParticipantId: "C00123" }))).toBe("error.notFound");
    expect(decisionRefusal(facts({ deciderParticipantId: null }))).toBe("error.notFound");
    expect(decisionRefusal(facts({ deciderParticipantId: "C00123", requestStatus: "approved", requestedBy: "checker" }))).toBe("error.notFound");
  });

  it("refuses a request that is no longer pending", () => {
    for (const status of ["approved", "rejected", "cancelled"] as const) {
      expect(decisionRefusal(facts({ requestStatus: status }))).toBe("access.refused.alreadyDecided");
    }
  });

  it("refuses the checker's own request and a grant to themselves", () => {
    expect(decisionRefusal(facts({ requestedBy: "checker" }))).toBe("access.refused.ownRequest");
    expect(decisionRefusal(facts({ targetUserId: "checker" }))).toBe("access.refused.grantToSelf");
  });

  it("never lets anyone decide their own request or a grant to themselves (property)", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("a", "b", "c"),
        fc.constantFrom("a", "b", "c", null),
        fc.constantFrom("a", "b", "c"),
        fc.constantFrom("pending", "approved", "rejected", "cancelled" as const),
        fc.constantFrom("B01234", "C00123", null),
        (decider, requestedBy, target, status, deciderParticipant) => {
          const refusal = decisionRefusal({
            requestStatus: status,
            requestParticipantId: "B01234",
            requestedBy,
            targetUserId: target,
            deciderId: decider,
            deciderParticipantId: deciderParticipant,
          });
          const allowed = refusal === null;
          expect(allowed).toBe(status === "pending" && deciderParticipant === "B01234" && requestedBy !== decider && target !== decider);
        },
      ),
    );
  });
});

describe("grant windows: grantCountsAt and grantState", () => {
  const grant = (overrides: Partial<GrantWindow> = {}): GrantWindow => ({
    status: "active",
    validFrom: T0,
    validTo: null,
    revokedAt: null,
    ...overrides,
  });

  it("counts from valid-from (inclusive) with no end", () => {
    expect(grantCountsAt(grant(), at(-1))).toBe(false);
    expect(grantState(grant(), at(-1))).toBe("scheduled");
    expect(grantCountsAt(grant(), T0)).toBe(true);
    expect(grantCountsAt(grant(), at(365 * DAY))).toBe(true);
    expect(grantState(grant(), at(365 * DAY))).toBe("active");
  });

  it("stops counting at valid-to (exclusive): a grant expires by itself", () => {
    const g = grant({ validTo: at(DAY) });
    expect(grantCountsAt(g, at(DAY - 1))).toBe(true);
    expect(grantCountsAt(g, at(DAY))).toBe(false);
    expect(grantState(g, at(DAY))).toBe("expired");
  });

  it("stops counting at revocation, and a revoked grant is revoked even inside its window", () => {
    const g = grant({ status: "revoked", revokedAt: at(HOUR), validTo: at(DAY) });
    expect(grantCountsAt(g, at(HOUR - 1))).toBe(true);
    expect(grantCountsAt(g, at(HOUR))).toBe(false);
    expect(grantState(g, at(HOUR))).toBe("revoked");
    expect(grantState(g, at(2 * DAY))).toBe("revoked");
    // A revoked row without a time never counts.
    expect(grantCountsAt(grant({ status: "revoked" }), at(HOUR))).toBe(false);
    expect(grantState(grant({ status: "revoked" }), at(HOUR))).toBe("revoked");
  });

  it("counts exactly when its present state is active, and before a later revocation (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -10, max: 10 }),
        fc.option(fc.integer({ min: -10, max: 20 })),
        fc.option(fc.integer({ min: -10, max: 20 })),
        fc.integer({ min: -15, max: 25 }),
        (from, to, revoked, now) => {
          const g = grant({
            validFrom: at(from * HOUR),
            validTo: to === null ? null : at(to * HOUR),
            status: revoked === null ? "active" : "revoked",
            revokedAt: revoked === null ? null : at(revoked * HOUR),
          });
          const state = grantState(g, at(now * HOUR));
          const counts = grantCountsAt(g, at(now * HOUR));
          if (state === "active") expect(counts).toBe(true);
          // grantState describes the present, where a revoked row was revoked at or before now; looking back at
          // an instant before a later revocation (the "who held what" report), grantCountsAt still counts it.
          if (revoked === null || revoked <= now) expect(counts).toBe(state === "active");
          else expect(counts).toBe(from <= now && (to === null || to > now));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("last administrator: lastAdministratorLost", () => {
  const admins = [
    { userId: "mandy", roleCode: "da_maker" },
    { userId: "chris", roleCode: "da_checker" },
    { userId: "carol", roleCode: "da_checker" },
  ];

  it("refuses to remove the only DA maker, by revocation or by suspension", () => {
    expect(lastAdministratorLost(admins, "mandy", ["da_maker"])).toBe("da_maker");
    expect(lastAdministratorLost(admins, "mandy", "all")).toBe("da_maker");
  });

  it("allows removing one of two checkers", () => {
    expect(lastAdministratorLost(admins, "chris", ["da_checker"])).toBeNull();
    expect(lastAdministratorLost(admins, "chris", "all")).toBeNull();
  });

  it("allows removing a role that is not an administrator role, even from the last administrator", () => {
    expect(lastAdministratorLost(admins, "mandy", ["trade_info_viewer"])).toBeNull();
  });

  it("does nothing for a user who is not an administrator", () => {
    expect(lastAdministratorLost(admins, "alice", "all")).toBeNull();
  });

  it("counts a user holding the role through two grants once", () => {
    const twice = [...admins, { userId: "mandy", roleCode: "da_maker" }];
    expect(lastAdministratorLost(twice, "mandy", ["da_maker"])).toBe("da_maker");
  });

  it("finds the last checker when a sole proprietor holds both roles", () => {
    const sole = [
      { userId: "sam", roleCode: "da_maker" },
      { userId: "sam", roleCode: "da_checker" },
      { userId: "max", roleCode: "da_maker" },
    ];
    expect(lastAdministratorLost(sole, "sam", "all")).toBe("da_checker");
    expect(lastAdministratorLost(sole, "sam", ["da_maker"])).toBeNull();
  });
});

describe("reset to baseline: baselineRemovals", () => {
  it("removes every role outside the template and adds none", () => {
    expect(baselineRemovals(["trade_info_viewer", "si_maker", "da_maker"], ["trade_info_viewer", "ref_data_viewer"])).toEqual(["si_maker", "da_maker"]);
    expect(baselineRemovals([], ["trade_info_viewer"])).toEqual([]);
  });

  it("never returns a role the user does not hold (property)", () => {
    const codes = ["a", "b", "c", "d", "e"];
    fc.assert(
      fc.property(fc.subarray(codes), fc.subarray(codes), (held, baseline) => {
        const removals = baselineRemovals(held, baseline);
        for (const r of removals) {
          expect(held).toContain(r);
          expect(baseline).not.toContain(r);
        }
        const kept = held.filter((r) => !removals.includes(r));
        for (const r of kept) expect(baseline).toContain(r);
      }),
    );
  });
});

describe("user lifecycle: lifecycleTarget", () => {
  const STATUSES: UserStatus[] = ["invited", "active", "locked", "suspended", "deactivated"];

  it("follows the lifecycle of SPEC §4", () => {
    expect(lifecycleTarget("active", "suspend")).toBe("suspended");
    expect(lifecycleTarget("locked", "suspend")).toBe("suspended");
    expect(lifecycleTarget("suspended", "reinstate")).toBe("active");
    expect(lifecycleTarget("locked", "unlock")).toBe("active");
    expect(lifecycleTarget("active", "lock")).toBe("locked");
    expect(lifecycleTarget("invited", "deactivate")).toBe("deactivated");
  });

  it("refuses transitions that make no sense", () => {
    expect(lifecycleTarget("suspended", "suspend")).toBeNull();
    expect(lifecycleTarget("active", "reinstate")).toBeNull();
    expect(lifecycleTarget("active", "unlock")).toBeNull();
    expect(lifecycleTarget("suspended", "lock")).toBeNull();
  });

  it("makes deactivation final", () => {
    for (const action of ["suspend", "reinstate", "deactivate", "unlock", "lock"] as const) {
      expect(lifecycleTarget("deactivated", action)).toBeNull();
    }
    for (const status of STATUSES.filter((s) => s !== "deactivated")) expect(lifecycleTarget(status, "deactivate")).toBe("deactivated");
  });
});

describe("dormant accounts: isDormant", () => {
  const now = at(0);
  it("is dormant after 90 days without a sign-in", () => {
    expect(DORMANT_AFTER_DAYS).toBe(90);
    expect(isDormant("active", at(-91 * DAY), at(-400 * DAY), now)).toBe(true);
    expect(isDormant("active", at(-89 * DAY), at(-400 * DAY), now)).toBe(false);
    expect(isDormant("active", at(-90 * DAY), at(-400 * DAY), now)).toBe(false);
  });

  it("counts from creation for a user who never signed in", () => {
    expect(isDormant("active", null, at(-91 * DAY), now)).toBe(true);
    expect(isDormant("active", null, at(-10 * DAY), now)).toBe(false);
  });

  it("is a report about active users only", () => {
    for (const status of ["invited", "locked", "suspended", "deactivated"] as const) {
      expect(isDormant(status, null, at(-400 * DAY), now)).toBe(false);
    }
  });
});
