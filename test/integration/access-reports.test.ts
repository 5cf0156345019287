import { eq, inArray } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiKeys, users } from "../../db/schema";
import type { ServiceContext } from "../../app/modules/context.server";
import {
  accessAt,
  accessCountAt,
  accessDiff,
  dormantReport,
  expiringReport,
  noMfaReport,
  pendingTooLongReport,
  sodReport,
  type AccessRow,
} from "../../app/modules/reports/service.server";
import { decideRequest, requestGrant, revokeGrant } from "../../app/modules/roles/service.server";
import { changeUserStatus, createUser } from "../../app/modules/users/service.server";
import { contextFor, createConsoleUser, issueClientWithKey } from "../factories";
import { createFirm, type Firm } from "../support/access";
import { HOUR, MINUTE, TestClock } from "../support/clock";
import { describeEachDatabase } from "../support/databases";

/**
 * Point-in-time access (SPEC §8 reports): a history of requests, approvals, time-limited and scheduled grants,
 * revocations and a deactivation is built through the real services under a controllable clock, while a small model
 * notes who holds what from when to when. accessAt at every recorded instant, between them and at each grant's
 * edges must say what the model says; accessDiff between any two instants must be the model's difference.
 */

const DAY = 24 * HOUR;

interface ModelGrant {
  participantId: string | null;
  userId: string;
  roleCode: string;
  from: number;
  to: number | null;
  revokedAt: number | null;
  requestedByName: string | null;
  approvedByName: string | null;
}

const heldAt = (g: ModelGrant, t: number) => g.from <= t && (g.to === null || g.to > t) && (g.revokedAt === null || g.revokedAt > t);

interface Row {
  participantId: string | null;
  userId: string;
  roleCode: string;
  validFrom: number;
  validTo: number | null;
  requestedByName: string | null;
  approvedByName: string | null;
}

const rowKey = (r: Row) => `${r.participantId}/${r.userId}/${r.roleCode}/${r.validFrom}`;
const byKey = (x: Row, y: Row) => rowKey(x).localeCompare(rowKey(y));

function fromReport(r: AccessRow): Row {
  return {
    participantId: r.participantId,
    userId: r.userId,
    roleCode: r.roleCode,
    validFrom: r.validFrom.getTime(),
    validTo: r.validTo?.getTime() ?? null,
    requestedByName: r.requestedByName,
    approvedByName: r.approvedByName,
  };
}

function fromModel(g: ModelGrant): Row {
  return {
    participantId: g.participantId,
    userId: g.userId,
    roleCode: g.roleCode,
    validFrom: g.from,
    validTo: g.to,
    requestedByName: g.requestedByName,
    approvedByName: g.approvedByName,
  };
}

describeEachDatabase("point-in-time access reports", (use) => {
  const clock = new TestClock();
  const now = () => clock.current().getTime();
  const model: ModelGrant[] = [];
  const instants: { label: string; at: number }[] = [];
  let compliance: ServiceContext;
  let a: Firm;
  let b: Firm;
  let u1: string, u2: string, u3: string;

  const mark = (label: string) => instants.push({ label, at: now() });
  const expected = (t: number, participantId?: string) =>
    model.filter((g) => heldAt(g, t) && (participantId === undefined || g.participantId === participantId)).map(fromModel).sort(byKey);
  const actual = async (ctx: ServiceContext, t: number, participantId?: string) => (await accessAt(ctx, new Date(t), { participantId })).map(fromReport).sort(byKey);

  /** A firm's first administrators, and the compliance reviewer: provisioned, with nobody requesting or approving. */
  function provisioned(participantId: string | null, userId: string, roleCode: string) {
    model.push({ participantId, userId, roleCode, from: now(), to: null, revokedAt: null, requestedByName: null, approvedByName: null });
  }

  /** The maker asks, the checker approves: the grant starts at approval (or later, when asked for later). */
  async function requestAndApprove(userId: string, roleCode: string, window: { validFrom?: number; validTo?: number } = {}, pause = 20 * MINUTE) {
    const request = await requestGrant(a.maker, {
      userId,
      roleCode,
      validFrom: window.validFrom ? new Date(window.validFrom).toISOString() : null,
      validTo: window.validTo ? new Date(window.validTo).toISOString() : null,
      justification: "Small operations team: reviewed quarterly.",
    });
    mark(`${roleCode} requested`);
    clock.advance(pause);
    const decided = await decideRequest(a.checker, { requestId: request.id, decision: "approve", comment: "Matches the signed form." });
    expect(decided.grantId).toBeTruthy();
    model.push({
      participantId: a.participant.id,
      userId,
      roleCode,
      from: Math.max(window.validFrom ?? now(), now()),
      to: window.validTo ?? null,
      revokedAt: null,
      requestedByName: a.maker.actor.displayName,
      approvedByName: a.checker.actor.displayName,
    });
    mark(`${roleCode} approved`);
    return decided.grantId!;
  }

  beforeAll(async () => {
    clock.start();
    const { db } = use();
    const complianceUser = await createConsoleUser(db, { email: "compliance@reports.test", displayName: "Compliance Reviewer", roleCodes: ["compliance_reviewer"] });
    provisioned(null, complianceUser.id, "compliance_reviewer");
    compliance = await contextFor(db, "compliance@reports.test");
    mark("compliance provisioned");

    clock.advance(HOUR);
    a = await createFirm(db);
    provisioned(a.participant.id, a.maker.actor.userId!, "da_maker");
    provisioned(a.participant.id, a.checker.actor.userId!, "da_checker");
    b = await createFirm(db);
    provisioned(b.participant.id, b.maker.actor.userId!, "da_maker");
    provisioned(b.participant.id, b.checker.actor.userId!, "da_checker");
    mark("firms registered");

    clock.advance(HOUR);
    const first = await createUser(a.maker, { participantId: a.participant.id, email: "u1@reports.test", displayName: "Una One", roles: ["trade_info_viewer"] });
    u1 = first.user.id;
    mark("u1 requested");
    clock.advance(HOUR);
    await decideRequest(a.checker, { requestId: first.requests[0]!, decision: "approve" });
    model.push({ participantId: a.participant.id, userId: u1, roleCode: "trade_info_viewer", from: now(), to: null, revokedAt: null, requestedByName: a.maker.actor.displayName, approvedByName: a.checker.actor.displayName });
    const firstTradeGrant = model.length - 1;
    mark("u1 trade approved");

    // Time-limited: ends by itself three hours after it was asked for.
    clock.advance(30 * MINUTE);
    await requestAndApprove(u1, "si_maker", { validTo: now() + 3 * HOUR }, 30 * MINUTE);

    // Scheduled: starts two hours after approval and ends four hours later.
    clock.advance(HOUR);
    u2 = (await createUser(a.maker, { participantId: a.participant.id, email: "u2@reports.test", displayName: "Uma Two" })).user.id;
    await requestAndApprove(u2, "ref_data_viewer", { validFrom: now() + 2 * HOUR + 10 * MINUTE, validTo: now() + 6 * HOUR + 10 * MINUTE }, 10 * MINUTE);

    // Rejected: grants nothing, ever.
    clock.advance(HOUR);
    const rejected = await requestGrant(a.maker, { userId: u2, roleCode: "si_checker" });
    clock.advance(15 * MINUTE);
    await decideRequest(a.checker, { requestId: rejected.id, decision: "reject", comment: "Not in the SI team." });
    mark("u2 si_checker rejected");

    // Revoked, then granted again later.
    clock.advance(45 * MINUTE);
    const u1Row = (await db.select().from(users).where(eq(users.id, u1)))[0]!;
    expect(u1Row.status).toBe("invited");
    const grants = await accessAt(compliance, clock.current(), { participantId: a.participant.id });
    await revokeGrant(a.checker, { grantId: grants.find((g) => g.userId === u1 && g.roleCode === "trade_info_viewer")!.grantId, reason: "Moved to the back office." });
    model[firstTradeGrant]!.revokedAt = now();
    mark("u1 trade revoked");
    clock.advance(HOUR);
    await requestAndApprove(u1, "trade_info_viewer");

    // A second checker, through maker-checker.
    clock.advance(HOUR);
    u3 = (await createUser(a.maker, { participantId: a.participant.id, email: "u3@reports.test", displayName: "Ugo Three" })).user.id;
    await requestAndApprove(u3, "da_checker");

    // Deactivation ends every grant the user still holds, at once.
    clock.advance(HOUR);
    const [before] = await db.select().from(users).where(eq(users.id, u1));
    await changeUserStatus(a.maker, { userId: u1, action: "deactivate", version: before!.version, reason: "Left the firm." });
    for (const g of model) if (g.userId === u1 && g.revokedAt === null) g.revokedAt = now();
    mark("u1 deactivated");

    clock.advance(5 * HOUR);
    mark("later");
  });
  afterAll(() => {
    clock.stop();
  });

  /** Every recorded instant, the middle of each gap, each grant's edges and a millisecond before them. */
  function checkedInstants(): number[] {
    const times = new Set<number>([instants[0]!.at - HOUR]);
    instants.forEach((instant, i) => {
      times.add(instant.at);
      const next = instants[i + 1];
      if (next) times.add(Math.floor((instant.at + next.at) / 2));
    });
    for (const g of model) {
      for (const edge of [g.from, g.to, g.revokedAt]) {
        if (edge === null) continue;
        times.add(edge - 1);
        times.add(edge);
      }
    }
    return [...times].sort((x, y) => x - y);
  }

  it("the history holds what it should: expiry by time, a scheduled grant, a revocation, a deactivation", () => {
    expect(model.filter((g) => g.to !== null)).toHaveLength(2);
    expect(model.filter((g) => g.revokedAt !== null).map((g) => g.roleCode).sort()).toEqual(["si_maker", "trade_info_viewer", "trade_info_viewer"]);
    // The time-limited grant had ended by itself before the deactivation revoked it.
    const limited = model.find((g) => g.roleCode === "si_maker")!;
    expect(limited.to!).toBeLessThan(limited.revokedAt!);
    expect(instants.length).toBeGreaterThanOrEqual(15);
  });

  it("says who held which role, with who requested and who approved, at every instant of the history and between", async () => {
    let compared = 0;
    for (const t of checkedInstants()) {
      const label = `${new Date(t).toISOString()} (${instants.filter((i) => i.at <= t).at(-1)?.label ?? "before anything"})`;
      expect(await actual(compliance, t, a.participant.id), `participant ${a.participant.id} at ${label}`).toEqual(expected(t, a.participant.id));
      expect(await actual(compliance, t), `everyone at ${label}`).toEqual(expected(t));
      compared++;
    }
    expect(compared).toBeGreaterThan(40);
  });

  it("narrows to a role, alone or within a participant, at every instant, with counts that agree", async () => {
    const codes = [...new Set(model.map((g) => g.roleCode))];
    for (const t of checkedInstants()) {
      for (const roleCode of codes) {
        const want = expected(t).filter((r) => r.roleCode === roleCode);
        const got = (await accessAt(compliance, new Date(t), { roleCode })).map(fromReport).sort(byKey);
        expect(got, `${roleCode} at ${new Date(t).toISOString()}`).toEqual(want);
        expect(await accessCountAt(compliance, new Date(t), { roleCode })).toBe(want.length);
        const inA = want.filter((r) => r.participantId === a.participant.id);
        expect(await accessCountAt(compliance, new Date(t), { roleCode, participantId: a.participant.id })).toBe(inA.length);
        // A participant's administrator: their own participant's holders of the role, whatever they name.
        expect(await accessCountAt(b.checker, new Date(t), { roleCode, participantId: a.participant.id })).toBe(want.filter((r) => r.participantId === b.participant.id).length);
      }
    }
  });

  it("gives the difference between any two instants as the model's difference", async () => {
    const times = instants.map((i) => i.at);
    const keys = (rows: Row[]) => new Set(rows.map((r) => `${r.userId}/${r.roleCode}`));
    for (const from of times) {
      for (const to of times) {
        if (from === to) continue;
        const before = expected(from, a.participant.id);
        const after = expected(to, a.participant.id);
        const [beforeKeys, afterKeys] = [keys(before), keys(after)];
        const diff = await accessDiff(compliance, new Date(from), new Date(to), a.participant.id);
        const what = `${new Date(from).toISOString()} → ${new Date(to).toISOString()}`;
        expect(diff.added.map(fromReport).sort(byKey), `added ${what}`).toEqual(after.filter((r) => !beforeKeys.has(`${r.userId}/${r.roleCode}`)));
        expect(diff.removed.map(fromReport).sort(byKey), `removed ${what}`).toEqual(before.filter((r) => !afterKeys.has(`${r.userId}/${r.roleCode}`)));
      }
    }
  });

  it("names the maker and the checker on each requested grant, and nobody on a provisioned one", async () => {
    const t = instants.find((i) => i.label === "da_checker approved")!.at;
    const rows = await accessAt(compliance, new Date(t), { participantId: a.participant.id });
    const u3Row = rows.find((r) => r.userId === u3)!;
    expect(u3Row).toMatchObject({ roleCode: "da_checker", userName: "Ugo Three", userEmail: "u3@reports.test", requestedByName: a.maker.actor.displayName, approvedByName: a.checker.actor.displayName, source: "request" });
    expect(rows.find((r) => r.userId === a.maker.actor.userId)).toMatchObject({ requestedByName: null, approvedByName: null, source: "seed" });
  });

  it("shows a participant administrator only their own participant, whichever they ask for", async () => {
    for (const t of instants.map((i) => i.at)) {
      expect(await actual(b.checker, t, a.participant.id)).toEqual(expected(t, b.participant.id));
      expect(await actual(b.maker, t)).toEqual(expected(t, b.participant.id));
    }
    const diff = await accessDiff(b.checker, new Date(instants[0]!.at), new Date(instants.at(-1)!.at), a.participant.id);
    for (const r of [...diff.added, ...diff.removed]) expect(r.participantId).toBe(b.participant.id);
  });

  describe("the other compliance reports", () => {
    it("lists separation-of-duties warnings with their justification, to compliance and to the participant's administrators only", async () => {
      await requestAndApprove(u3, "ref_data_viewer");
      const findings = await sodReport(compliance);
      expect(findings).toContainEqual(
        expect.objectContaining({ userId: u3, participantId: a.participant.id, ruleId: "da_checker_operational_ref", kind: "warn", waived: false, justification: "Small operations team: reviewed quarterly." }),
      );
      expect((await sodReport(a.checker)).map((f) => f.userId)).toEqual([u3]);
      expect(await sodReport(b.checker, a.participant.id)).toEqual([]);
    });

    it("lists access ending within 30 days", async () => {
      const soon = await requestAndApprove(u2, "si_status_subscriber", { validTo: now() + 10 * DAY });
      await requestAndApprove(u3, "trade_info_viewer", { validTo: now() + 40 * DAY });
      const items = await expiringReport(compliance);
      expect(items.map((i) => i.id)).toEqual([soon]);
      expect(items[0]).toMatchObject({ participantId: a.participant.id, userName: "Uma Two", what: "si_status_subscriber" });
      expect(await expiringReport(b.maker)).toEqual([]);
      expect((await expiringReport(a.maker)).map((i) => i.id)).toEqual([soon]);
      // An API key expiring in 20 days joins it; one expiring in 60 days does not.
      const keyOf = async (days: number) => {
        const client = await issueClientWithKey(use().db, a.participant.id, "simulator", a.maker, undefined, days);
        const [key] = await use().db.select().from(apiKeys).where(eq(apiKeys.apiClientId, client.id));
        return key!.id;
      };
      const shortKey = await keyOf(20);
      const longKey = await keyOf(60);
      const withKeys = await expiringReport(a.maker);
      expect(withKeys.map((i) => i.id)).toEqual([soon, shortKey]);
      expect(withKeys[1]).toMatchObject({ kind: "api_key", participantId: a.participant.id });
      expect(withKeys.map((i) => i.id)).not.toContain(longKey);
      expect(await expiringReport(b.maker)).toEqual([]);
    });

    it("lists approvals waiting more than three days, not younger ones", async () => {
      const old = await requestGrant(a.maker, { userId: u2, roleCode: "trade_info_viewer" });
      clock.advance(3 * DAY + HOUR);
      await requestGrant(b.maker, { userId: (await createUser(b.maker, { participantId: b.participant.id, email: "v1@reports.test", displayName: "Vic One" })).user.id, roleCode: "trade_info_viewer" });
      const items = await pendingTooLongReport(compliance);
      expect(items.filter((i) => i.kind === "grant_request").map((i) => i.id)).toEqual([old.id]);
      expect((await pendingTooLongReport(b.checker)).filter((i) => i.kind === "grant_request")).toEqual([]);
      expect((await pendingTooLongReport(a.checker)).filter((i) => i.kind === "grant_request").map((i) => i.id)).toEqual([old.id]);
    });

    it("lists console users without two-factor authentication: holders of a console role now", async () => {
      // The factories' users come enrolled; these have not set up an authenticator (or had it reset).
      const unenrolled = [a.maker.actor.userId!, a.checker.actor.userId!, u3, b.maker.actor.userId!, compliance.actor.userId!, u1, u2];
      await use().db.update(users).set({ totpSecret: null, mfaEnrolledAt: null }).where(inArray(users.id, unenrolled));
      const listed = await noMfaReport(compliance);
      const ids = new Set(listed.map((u) => u.userId));
      for (const id of unenrolled.slice(0, 5)) expect(ids.has(id), id).toBe(true);
      // Enrolled: not listed.
      expect(ids.has(b.checker.actor.userId!)).toBe(false);
      // No console role (u2), or deactivated (u1): not a console user.
      expect(ids.has(u2)).toBe(false);
      expect(ids.has(u1)).toBe(false);
      expect(new Set((await noMfaReport(a.checker, b.participant.id)).map((u) => u.participantId))).toEqual(new Set([a.participant.id]));
    });

    it("lists dormant accounts: active, and no sign-in for 90 days", async () => {
      expect(await dormantReport(compliance)).toEqual([]);
      clock.advance(91 * DAY);
      const dormant = await dormantReport(compliance);
      const ids = new Set(dormant.map((u) => u.userId));
      for (const id of [a.maker.actor.userId!, a.checker.actor.userId!, b.checker.actor.userId!, compliance.actor.userId!]) expect(ids.has(id), id).toBe(true);
      // Invited (never activated) and deactivated users are not dormant accounts.
      for (const id of [u1, u2, u3]) expect(ids.has(id), id).toBe(false);
      expect(new Set((await dormantReport(b.maker, a.participant.id)).map((u) => u.participantId))).toEqual(new Set([b.participant.id]));
    });
  });
});
