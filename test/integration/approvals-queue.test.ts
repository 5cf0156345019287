import { and, count, eq, inArray } from "drizzle-orm";
import { afterAll, beforeAll, expect, it } from "vitest";
import { auditEvents, grantRequests, roleGrants, users } from "../../db/schema";
import { approvalQueue, decideRequestsInBulk, pendingApprovalCount } from "../../app/modules/roles/service.server";
import { requestGrant } from "../../app/modules/roles/service.server";
import { applyImport, checkImport } from "../../app/modules/users/import.server";
import { changeUserStatus } from "../../app/modules/users/service.server";
import { verifyAuditChains } from "../../app/modules/audit/service.server";
import { createFirm, type Firm } from "../support/access";
import { describeEachDatabase } from "../support/databases";
import { HttpClient, startServer, type RunningServer } from "../support/server";
import { createVerifiedSession } from "../support/sessions";

const HEADER = "email,display_name,roles,valid_from,valid_to,justification";

interface QueueData {
  queue: { info: { total: number; page: number; size: number }; rows: { id: string; userName: string; roleNameEn: string; requestedAt: string }[] } | null;
}

/**
 * The approvals queue at volume (issue 13): an import of 300 users asking for 600 roles, decided by a checker in
 * one submission over HTTP; paging, sorting, tenancy, partial failures and a repeated submission.
 */
describeEachDatabase("approvals queue with bulk decisions", { demo: true }, (use) => {
  const db = () => use().db;
  let server: RunningServer;
  let firm: Firm;
  let runId: string;
  let checker: HttpClient;

  const queueOf = async (client: HttpClient, query: string): Promise<QueueData> => {
    const res = await client.get(`/requests?${query}&_data=routes%2Frequests`);
    expect(res.status).toBe(200);
    return (await res.json()) as QueueData;
  };
  const pendingOfRun = async () =>
    Number((await db().select({ n: count() }).from(grantRequests).where(and(eq(grantRequests.importRunId, runId), eq(grantRequests.status, "pending"))))[0]!.n);

  beforeAll(async () => {
    server = await startServer(db());
    firm = await createFirm(db());
    const lines = Array.from({ length: 300 }, (_, i) => `staff${String(i).padStart(3, "0")}@queue.test,Staff ${String(i).padStart(3, "0")},trade_info_viewer;ref_data_viewer,,2027-12-31,`);
    const run = await checkImport(firm.maker, { participantId: firm.participant.id, fileName: "staff.csv", text: [HEADER, ...lines].join("\n") });
    expect(run).toMatchObject({ outcome: "valid", rowCount: 300 });
    await applyImport(firm.maker, { runId: run.id });
    runId = run.id;
    checker = new HttpClient(server.baseUrl).useSession(await createVerifiedSession(db(), firm.checkerEmail));
  }, 120_000);
  afterAll(() => server.close());

  it("shows every pending request with a total, role names and pages that neither skip nor repeat under new requests", async () => {
    expect(await pendingApprovalCount(firm.checker)).toBe(600);
    const seen: string[] = [];
    for (let page = 1; page <= 12; page++) {
      const data = await queueOf(checker, `run=${runId}&size=50&page=${page}`);
      expect(data.queue!.info).toEqual({ total: 600 + (page > 1 ? page - 1 : 0), page, size: 50 });
      expect(data.queue!.rows).toHaveLength(50);
      seen.push(...data.queue!.rows.map((r) => r.id));
      expect(data.queue!.rows[0]!.roleNameEn).toMatch(/viewer/);
      // Meanwhile the maker asks for one more role for someone: it joins the end of the queue.
      const newcomer = await firm.addUser([], `Newcomer ${page}`);
      await requestGrant(firm.maker, { userId: newcomer, roleCode: "trade_info_viewer" });
      await db().update(grantRequests).set({ importRunId: runId }).where(eq(grantRequests.userId, newcomer));
    }
    expect(new Set(seen).size).toBe(600);
    const imported = await db().select({ id: grantRequests.id }).from(grantRequests).where(and(eq(grantRequests.importRunId, runId), eq(grantRequests.source, "import")));
    expect(new Set(imported.map((r) => r.id))).toEqual(new Set(seen));
    // The home page says how many decisions wait.
    const home = await checker.get("/");
    expect(await home.text()).toContain("612 decisions wait for you in Approvals.");
  });

  it("sorts by a column, stably, and answers an unknown sort or page with the default rather than an error", async () => {
    const a = await queueOf(checker, `run=${runId}&sort=user&dir=asc&size=100`);
    const b = await queueOf(checker, `run=${runId}&sort=user&dir=asc&size=100`);
    expect(a.queue!.rows.map((r) => r.id)).toEqual(b.queue!.rows.map((r) => r.id));
    const names = a.queue!.rows.map((r) => r.userName);
    expect([...names].sort((x, y) => x.localeCompare(y))).toEqual(names);
    const odd = await queueOf(checker, `run=${runId}&sort=password&dir=sideways&size=7&page=-3`);
    expect(odd.queue!.info).toMatchObject({ page: 1, size: 50 });
  });

  it("keeps the queue to the checker's participant: another firm's checker sees none and decides none", async () => {
    const other = await createFirm(db());
    const outsider = await approvalQueue(other.checker, {}, { page: 1, size: 50, sort: "requestedAt", dir: "asc" });
    expect(outsider.info.total).toBe(0);
    const ids = (await db().select({ id: grantRequests.id }).from(grantRequests).where(eq(grantRequests.importRunId, runId)).limit(3)).map((r) => r.id);
    const outcomes = await decideRequestsInBulk(other.checker, { requestIds: ids, decision: "approve" });
    expect(outcomes.map((o) => [o.ok, o.messageKey, o.userName])).toEqual(ids.map(() => [false, "error.notFound", null]));
    expect(await pendingOfRun()).toBe(612);
  });

  it("reports a partial failure row by row and still decides the others", async () => {
    const [a, b, c] = await db()
      .select({ id: grantRequests.id, userId: grantRequests.userId })
      .from(grantRequests)
      .where(and(eq(grantRequests.importRunId, runId), eq(grantRequests.source, "request")))
      .limit(3);
    // One user leaves the firm meanwhile (their requests end with them); one request is decided by a second checker.
    const [leaver] = await db().select().from(users).where(eq(users.id, b!.userId));
    await changeUserStatus(firm.maker, { userId: leaver!.id, action: "deactivate", version: leaver!.version, reason: "Left the firm" });
    const second = await firm.addAdministrator("da_checker", "Second Checker");
    await decideRequestsInBulk(second, { requestIds: [c!.id], decision: "reject", comment: "Not needed" });
    const res = await checker.post("/requests", { intent: "decide-bulk", scope: "selected", requestId: [a!.id, b!.id, c!.id], decision: "approve", comment: "Checked" });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain("1 approved.");
    expect(html).toContain("2 could not be decided:");
    expect(html).toContain("already been decided");
    const [approved] = await db().select().from(grantRequests).where(eq(grantRequests.id, a!.id));
    expect(approved).toMatchObject({ status: "approved", decidedBy: firm.checker.actor.userId, decisionComment: "Checked" });
  });

  it("approves 600 requests in one submission, each audited on its own, and a second submission decides nothing twice", async () => {
    const pending = await pendingOfRun();
    expect(pending).toBe(609);
    const [{ n: eventsBefore } = { n: 0 }] = await db().select({ n: count() }).from(auditEvents).where(eq(auditEvents.action, "role.grant.approved"));
    const res = await checker.post("/requests", { intent: "decide-bulk", scope: "matching", run: runId, decision: "approve", comment: "Quarterly onboarding batch" });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain(`${pending} approved.`);
    expect(await pendingOfRun()).toBe(0);
    const [{ n: eventsAfter } = { n: 0 }] = await db().select({ n: count() }).from(auditEvents).where(eq(auditEvents.action, "role.grant.approved"));
    expect(Number(eventsAfter) - Number(eventsBefore)).toBe(pending);
    const staff = await db().select({ id: users.id }).from(users).where(eq(users.participantId, firm.participant.id));
    const [{ n: grants } = { n: 0 }] = await db()
      .select({ n: count() })
      .from(roleGrants)
      .where(and(inArray(roleGrants.userId, staff.map((s) => s.id)), eq(roleGrants.approvedBy, firm.checker.actor.userId!)));
    expect(Number(grants)).toBe(pending + 1);

    // The same ticked list sent again (a double click, a resent form): every row is reported as already decided.
    const decided = (await db().select({ id: grantRequests.id }).from(grantRequests).where(eq(grantRequests.importRunId, runId)).limit(200)).map((r) => r.id);
    const again = await checker.post("/requests", { intent: "decide-bulk", scope: "selected", requestId: decided, decision: "approve" });
    expect(await again.text()).toContain("0 approved.");
    const [{ n: eventsAgain } = { n: 0 }] = await db().select({ n: count() }).from(auditEvents).where(eq(auditEvents.action, "role.grant.approved"));
    expect(Number(eventsAgain)).toBe(Number(eventsAfter));
    for (const report of await verifyAuditChains(db())) expect(report, report.chainKey).toMatchObject({ ok: true });
  }, 180_000);

  it("refuses an empty selection with a message on the form, and changes nothing", async () => {
    const res = await checker.post("/requests", { intent: "decide-bulk", scope: "selected", decision: "approve" });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("Tick at least one request");
  });
});
