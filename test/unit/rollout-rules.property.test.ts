import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  MILESTONES,
  diffCarryOver,
  inFreeze,
  milestonesInOrder,
  moveMilestone,
  nextMilestone,
  normalizeCarryOver,
  phaseAt,
  readiness,
  type CarryOver,
  type Milestones,
  type ReadinessFacts,
  type ResultFact,
} from "~/modules/rollouts/rules";

const SEED = Number(process.env.FC_SEED ?? 20261202);
const NUM_RUNS = Number(process.env.FC_NUM_RUNS ?? 500);
const params = { seed: SEED, numRuns: NUM_RUNS };

const HOUR = 3600_000;
const BASE = Date.UTC(2027, 4, 3, 15, 59, 59, 999);

/** Milestones in order: a cutoff, then positive gaps (zero allowed where the rule allows equality). */
const orderedMilestones = fc
  .tuple(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 1, max: 200 }), fc.integer({ min: 0, max: 50 }), fc.integer({ min: 1, max: 10 }), fc.integer({ min: 0, max: 50 }), fc.integer({ min: 1, max: 500 }))
  .map(([start, a, b, c, d, e]): Milestones => {
    const cutoff = BASE + start * HOUR;
    const conversion = cutoff + a * HOUR;
    const vStart = conversion + b * HOUR;
    const vEnd = vStart + c * HOUR;
    const launch = vEnd + d * HOUR;
    const stab = launch + e * HOUR;
    return {
      cutoffAt: new Date(cutoff),
      conversionAt: new Date(conversion),
      verificationStartAt: new Date(vStart),
      verificationEndAt: new Date(vEnd),
      launchAt: new Date(launch),
      stabilisationEndAt: new Date(stab),
    };
  });

const instant = fc.integer({ min: BASE - 100 * HOUR, max: BASE + 2000 * HOUR }).map((t) => new Date(t));
const milestone = fc.constantFrom(...MILESTONES);
const reason = fc.oneof(fc.constant(""), fc.constant("abc"), fc.constant("Vendor asked for a week more"), fc.string({ maxLength: 12 }));

describe("milestones: order and moves", () => {
  it("generated plans are in order, and any swap of two distinct milestones breaks the order", () => {
    fc.assert(
      fc.property(orderedMilestones, fc.integer({ min: 0, max: 4 }), (m, i) => {
        expect(milestonesInOrder(m)).toBe(true);
        const a = MILESTONES[i]!;
        const b = MILESTONES[i + 1]!;
        if (m[a].getTime() === m[b].getTime()) return;
        expect(milestonesInOrder({ ...m, [a]: m[b], [b]: m[a] })).toBe(false);
      }),
      params,
    );
  });

  it("a move succeeds only for a milestone still to come, to a future time, with a reason, keeping the order", () => {
    fc.assert(
      fc.property(orderedMilestones, milestone, instant, instant, reason, fc.boolean(), (m, which, to, now, why, ended) => {
        const result = moveMilestone(m, which, to, why, now, ended);
        if (result.ok) {
          expect(ended).toBe(false);
          expect(why.trim().length).toBeGreaterThanOrEqual(5);
          expect(m[which].getTime()).toBeGreaterThan(now.getTime());
          expect(to.getTime()).toBeGreaterThan(now.getTime());
          expect(milestonesInOrder(result.milestones)).toBe(true);
          expect(result.milestones[which]).toEqual(to);
          // Nothing else moved.
          for (const k of MILESTONES) if (k !== which) expect(result.milestones[k]).toEqual(m[k]);
        } else if (ended) {
          expect(result.refusal).toBe("ended");
        } else if (why.trim().length < 5) {
          expect(result.refusal).toBe("reason");
        } else if (m[which].getTime() <= now.getTime()) {
          expect(result.refusal).toBe("passed");
        } else {
          expect(["to_past", "order", "unchanged"]).toContain(result.refusal);
        }
      }),
      params,
    );
  });

  it("a milestone that has passed never moves", () => {
    fc.assert(
      fc.property(orderedMilestones, milestone, instant, (m, which, to) => {
        const now = new Date(m[which].getTime() + 1);
        expect(moveMilestone(m, which, to, "A proper reason", now)).toEqual({ ok: false, refusal: "passed" });
      }),
      params,
    );
  });

  it("the next milestone is the earliest one after now", () => {
    fc.assert(
      fc.property(orderedMilestones, instant, (m, now) => {
        const next = nextMilestone(m, now);
        const future = MILESTONES.filter((k) => m[k].getTime() > now.getTime());
        if (future.length === 0) expect(next).toBeNull();
        else expect(next!.milestone).toBe(future[0]);
      }),
      params,
    );
  });
});

describe("phases and the change freeze", () => {
  it("freezes from the verification session until the end of stabilisation is announced, and only then", () => {
    fc.assert(
      fc.property(orderedMilestones, instant, fc.option(fc.integer({ min: 0, max: 600 }), { nil: null }), (m, now, endOffset) => {
        const endedAt = endOffset === null ? null : new Date(m.launchAt.getTime() + endOffset * HOUR);
        const frozen = inFreeze(m, endedAt, now);
        const phase = phaseAt(m, endedAt, now);
        expect(frozen).toBe(now.getTime() >= m.verificationStartAt.getTime() && (endedAt === null || now.getTime() < endedAt.getTime()));
        if (["verification", "pre_launch", "stabilisation"].includes(phase)) expect(frozen).toBe(true);
        if (["planned", "carried_over", "ended"].includes(phase)) expect(frozen).toBe(false);
      }),
      params,
    );
  });

  it("phases follow the milestones in order as time goes on", () => {
    fc.assert(
      fc.property(orderedMilestones, fc.array(instant, { minLength: 2, maxLength: 20 }), (m, times) => {
        const order = ["planned", "carried_over", "verification", "pre_launch", "stabilisation"];
        const phases = [...times].sort((a, b) => a.getTime() - b.getTime()).map((t) => order.indexOf(phaseAt(m, null, t)));
        for (let i = 1; i < phases.length; i++) expect(phases[i]!).toBeGreaterThanOrEqual(phases[i - 1]!);
      }),
      params,
    );
  });
});

const refs = fc.uniqueArray(fc.constantFrom("a", "b", "c", "d", "e", "f"), { maxLength: 4 });
const outcome = fc.constantFrom("verified" as const, "failed" as const, "not_attempted" as const);
const facts = fc
  .record({
    services: fc.uniqueArray(fc.constantFrom("trade_info", "reference_data", "si_status"), { minLength: 1, maxLength: 3 }),
    carriedOver: fc.option(fc.record({ logins: refs, apiClients: refs }), { nil: null }),
    checklist: fc.uniqueArray(fc.constantFrom("standby", "passwords", "contact"), { maxLength: 3 }),
    checklistConfirmed: fc.uniqueArray(fc.constantFrom("standby", "passwords", "contact"), { maxLength: 3 }),
    pendingExceptions: fc.integer({ min: 0, max: 2 }),
    resultSeed: fc.array(fc.tuple(fc.boolean(), outcome, fc.boolean()), { maxLength: 20 }),
  })
  .map((f): ReadinessFacts => {
    const subjects = [
      ...f.services.map((s) => ["service", s] as const),
      ...(f.carriedOver?.logins ?? []).map((s) => ["login", s] as const),
      ...(f.carriedOver?.apiClients ?? []).map((s) => ["api_client", s] as const),
    ];
    const results: ResultFact[] = [];
    subjects.forEach(([kind, ref], i) => {
      const [present, o, confirmed] = f.resultSeed[i] ?? [false, "verified", false];
      if (present) results.push({ subjectKind: kind, subjectRef: ref, outcome: o, confirmed });
    });
    return { services: f.services, carriedOver: f.carriedOver, results, checklist: f.checklist, checklistConfirmed: f.checklistConfirmed, pendingExceptions: f.pendingExceptions };
  });

describe("the participant readiness rule", () => {
  it("is ready exactly when everything carried over and every service is confirmed verified, nothing failed, the checklist is done and no exception waits", () => {
    fc.assert(
      fc.property(facts, (f) => {
        const r = readiness(f);
        const required = [
          ...f.services.map((s) => `service/${s}`),
          ...(f.carriedOver?.logins ?? []).map((s) => `login/${s}`),
          ...(f.carriedOver?.apiClients ?? []).map((s) => `api_client/${s}`),
        ];
        const ok = (key: string) => f.results.some((x) => `${x.subjectKind}/${x.subjectRef}` === key && x.confirmed && x.outcome === "verified");
        const expected =
          f.carriedOver !== null &&
          required.every(ok) &&
          !f.results.some((x) => x.outcome === "failed") &&
          f.checklist.every((c) => f.checklistConfirmed.includes(c)) &&
          f.pendingExceptions === 0;
        expect(r.ready).toBe(expected);
        expect(r.ready).toBe(r.reasons.length === 0);
        expect(r.reasons.includes("exception_pending")).toBe(f.pendingExceptions > 0);
        expect(r.reasons.includes("checklist_open")).toBe(r.openItems.length > 0);
        expect(r.reasons.includes("failed")).toBe(f.results.some((x) => x.outcome === "failed"));
        expect(r.reasons.includes("no_snapshot")).toBe(f.carriedOver === null);
      }),
      params,
    );
  });

  it("a participant with no confirmed result is never ready (attendance is mandatory)", () => {
    fc.assert(
      fc.property(facts, (f) => {
        expect(readiness({ ...f, results: f.results.map((x) => ({ ...x, confirmed: false })) }).ready).toBe(false);
      }),
      params,
    );
  });
});

const ids = (prefix: string) => fc.uniqueArray(fc.integer({ min: 1, max: 8 }).map((n) => `${prefix}${n}`), { maxLength: 6 });
const carryOver = fc
  .record({ users: ids("u"), roles: fc.array(fc.tuple(fc.integer({ min: 1, max: 8 }), fc.constantFrom("r1", "r2", "r3")), { maxLength: 10 }), clients: ids("c"), keys: fc.array(fc.tuple(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 8 }), fc.option(fc.integer({ min: 1, max: 12 }), { nil: null })), { maxLength: 8 }) })
  .map(
    (r): CarryOver =>
      normalizeCarryOver({
        users: r.users.map((id) => ({ id, email: `${id}@x.example`, displayName: id, status: "active" })),
        grants: r.roles.map(([u, role]) => ({ userId: `u${u}`, roleCode: role })).filter((g) => r.users.includes(g.userId)),
        apiClients: r.clients.map((id) => ({ id, clientId: `CID-${id}`, name: id, environment: "production", ownerUserId: "u1" })),
        keys: r.keys
          .filter(([, c], i, all) => r.clients.includes(`c${c}`) && all.findIndex((k) => k[0] === all[i]![0]) === i)
          .map(([k, c, replaces]) => ({ id: `k${k}`, apiClientId: `c${c}`, kid: `kid${k}`, replacesKeyId: replaces === null ? null : `k${replaces}`, expiresAt: "2030-01-01T00:00:00.000Z" })),
      }),
  );

describe("the diff of the carry-over against today", () => {
  it("applying the diff's joins and leaves to the cutoff gives today's users, grants, clients and keys", () => {
    fc.assert(
      fc.property(carryOver, carryOver, (then, now) => {
        const diff = diffCarryOver(then, now);
        const of = (kind: string) => new Set(diff.filter((d) => d.kind === kind).map((d) => d.ref));
        const usersNow = new Set([...then.users.map((u) => u.id).filter((id) => !of("user_left").has(id)), ...of("user_joined")]);
        expect([...usersNow].sort()).toEqual(now.users.map((u) => u.id).sort());
        const keysNow = new Set([...then.keys.map((k) => k.id).filter((id) => !of("key_revoked").has(id)), ...of("key_added"), ...of("key_rotated")]);
        expect([...keysNow].sort()).toEqual(now.keys.map((k) => k.id).sort());
        const clientsNow = new Set([...then.apiClients.map((c) => c.id).filter((id) => !of("client_removed").has(id)), ...of("client_added")]);
        expect([...clientsNow].sort()).toEqual(now.apiClients.map((c) => c.id).sort());
        // Roles of users present both times: gained and lost are exactly the set differences.
        const kept = (g: { userId: string }) => then.users.some((u) => u.id === g.userId) && now.users.some((u) => u.id === g.userId);
        const key = (g: { userId: string; roleCode: string }) => `${g.userId}/${g.roleCode}`;
        const thenG = new Set(then.grants.filter(kept).map(key));
        const nowG = new Set(now.grants.filter(kept).map(key));
        expect([...of("role_gained")].sort()).toEqual([...nowG].filter((g) => !thenG.has(g)).sort());
        expect([...of("role_lost")].sort()).toEqual([...thenG].filter((g) => !nowG.has(g)).sort());
      }),
      params,
    );
  });

  it("finds nothing between a carry-over and itself", () => {
    fc.assert(
      fc.property(carryOver, (c) => {
        expect(diffCarryOver(c, c)).toEqual([]);
      }),
      params,
    );
  });
});
