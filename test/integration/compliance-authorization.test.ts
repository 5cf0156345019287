import { parse } from "csv-parse/sync";
import { and, asc, eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Database } from "../../db/client.server";
import {
  auditEvents,
  grantRequests,
  onboardingSteps,
  participants,
  roleGrants,
  roles,
  sodRules,
  sodWaivers,
  users,
} from "../../db/schema";
import { DEMO_PASSWORD } from "../../app/modules/demo";
import { auditEventsSince, lastAuditId } from "../support/audit";
import { describeEachDatabase } from "../support/databases";
import { HttpClient, startServer, type RunningServer } from "../support/server";

/**
 * Over HTTP, as the browser sends it (SPEC §1, §8): the compliance reviewer reads everything and changes no business
 * data; a participant administrator never sees another participant's events or access, in the explorer, the
 * export or the reports, whatever the query string asks for.
 */

/** Everything the console's business is made of, to compare before and after a refused request. */
async function businessState(db: Database) {
  return {
    participants: await db.select().from(participants).orderBy(asc(participants.id)),
    steps: await db.select().from(onboardingSteps).orderBy(asc(onboardingSteps.participantId), asc(onboardingSteps.stepKey)),
    users: await db.select().from(users).orderBy(asc(users.id)),
    grants: await db.select().from(roleGrants).orderBy(asc(roleGrants.id)),
    requests: await db.select().from(grantRequests).orderBy(asc(grantRequests.id)),
    waivers: await db.select().from(sodWaivers).orderBy(asc(sodWaivers.id)),
    roles: await db.select().from(roles).orderBy(asc(roles.code)),
    sodRules: await db.select().from(sodRules).orderBy(asc(sodRules.id)),
  };
}

interface ActivityData {
  events: { participantId: string | null; chainKey: string; action: string; entityId: string | null }[];
  nextCursor: string | null;
}

describeEachDatabase("compliance and tenancy over HTTP", { demo: true }, (use) => {
  let server: RunningServer;
  const clients = new Map<string, HttpClient>();

  beforeAll(async () => {
    server = await startServer(use().db);
  });
  afterAll(() => server.close());

  async function as(email: string): Promise<HttpClient> {
    let client = clients.get(email);
    if (!client) {
      client = new HttpClient(server.baseUrl);
      expect((await client.signIn(email, DEMO_PASSWORD)).status, `sign-in of ${email}`).toBe(302);
      clients.set(email, client);
    }
    return client;
  }

  async function data<T>(email: string, path: string, route: string): Promise<T> {
    const res = await (await as(email)).get(`${path}${path.includes("?") ? "&" : "?"}_data=${encodeURIComponent(route)}`);
    expect(res.status, path).toBe(200);
    return (await res.json()) as T;
  }

  /** Every event the explorer shows for a query, following "Older events" to the end. */
  async function explorer(email: string, query: string): Promise<ActivityData["events"]> {
    const events: ActivityData["events"] = [];
    let cursor: string | null = null;
    do {
      const page: ActivityData = await data<ActivityData>(email, `/activity?${query}${cursor ? `&cursor=${cursor}` : ""}`, "routes/activity");
      events.push(...page.events);
      cursor = page.nextCursor;
    } while (cursor);
    return events;
  }

  it("compliance cannot change business data: every such POST answers 403 and changes nothing", async () => {
    const { db } = use();
    const compliance = await as("compliance@hkex.demo");
    const [alice] = await db.select().from(users).where(eq(users.email, "alice.tam@harbourview.example"));
    const [pending] = await db.select().from(grantRequests).where(and(eq(grantRequests.participantId, "B01234"), eq(grantRequests.status, "pending")));
    const [aliceGrant] = await db.select().from(roleGrants).where(eq(roleGrants.userId, alice!.id));
    const [step] = await db.select().from(onboardingSteps).where(and(eq(onboardingSteps.participantId, "B01234"), eq(onboardingSteps.stepKey, "test_credentials")));
    const [participant] = await db.select().from(participants).where(eq(participants.id, "B01234"));
    expect(step!.state).toBe("submitted");

    const before = await businessState(db);
    const mark = await lastAuditId(db);
    const attempts: [string, string, Record<string, string>][] = [
      ["edit a participant", "/participants/B01234/edit", { version: String(participant!.version), nameEn: "Renamed by compliance", nameZh: "改名", type: "GCP", services: "trade_info", contactName: "X", contactEmail: "x@example.test" }],
      ["register a participant", "/participants/new", { id: "Q00001", nameEn: "New Co", nameZh: "新公司", type: "DCP", services: "trade_info", contactName: "X", contactEmail: "x@example.test" }],
      ["suspend a participant", "/participants/B01234", { intent: "suspend", version: String(participant!.version), reason: "Compliance says so" }],
      ["run a case's automatic checks", "/participants/B01234", { intent: "run-checks" }],
      ["approve an onboarding step", "/participants/B01234/steps/test_credentials", { intent: "approve", action: "approve", version: String(step!.version) }],
      ["return an onboarding step", "/participants/B01234/steps/test_credentials", { intent: "return", action: "return", version: String(step!.version), reason: "Needs another look" }],
      ["comment on a step", "/participants/B01234/steps/test_credentials", { intent: "entry", kind: "note", body: "A note from compliance" }],
      ["plan a step", "/participants/B01234/steps/test_credentials", { intent: "plan", version: String(step!.version), dueDate: "2030-01-01" }],
      ["create a user", "/users/new", { participantId: "B01234", email: "new.user@harbourview.example", displayName: "New User" }],
      ["rename a user", `/users/${alice!.id}`, { intent: "update", version: String(alice!.version), displayName: "Alice Renamed" }],
      ["suspend a user", `/users/${alice!.id}`, { intent: "lifecycle", action: "suspend", version: String(alice!.version), reason: "Compliance says so" }],
      ["deactivate a user", `/users/${alice!.id}`, { intent: "lifecycle", action: "deactivate", version: String(alice!.version), reason: "Compliance says so" }],
      ["request a grant", `/users/${alice!.id}`, { intent: "request", roleCode: "ref_data_viewer" }],
      ["revoke a grant", `/users/${alice!.id}`, { intent: "revoke", grantId: aliceGrant!.id, reason: "Compliance says so" }],
      ["decide a request on the user's page", `/users/${pending!.userId}`, { intent: "decide", requestId: pending!.id, decision: "approve" }],
      ["approve a request in the queue", "/requests", { intent: "decide", requestId: pending!.id, decision: "approve" }],
      ["reject a request in the queue", "/requests", { intent: "decide", requestId: pending!.id, decision: "reject", comment: "No" }],
      ["request a waiver", `/users/${alice!.id}`, { intent: "waiver", ruleId: "si_maker_si_checker", reason: "Compliance says so" }],
      ["act as helpdesk", `/users/${alice!.id}`, { intent: "support", action: "reset_roles", ticketRef: "INC-12345", reason: "Compliance says so" }],
      ["edit the role catalogue", "/catalogue", { intent: "role", code: "new_role", nameEn: "New", nameZh: "新", population: "participant", service: "" }],
    ];
    for (const [what, path, form] of attempts) {
      const res = await compliance.post(path, form);
      expect(res.status, what).toBe(403);
    }
    expect(await businessState(db)).toEqual(before);
    expect(await auditEventsSince(db, mark)).toEqual([]);
  });

  it("compliance still does compliance's own work: a campaign, a checkpoint, an export", async () => {
    const { db } = use();
    const compliance = await as("compliance@hkex.demo");
    const deadline = new Date(Date.now() + 10 * 24 * 3600 * 1000).toISOString().slice(0, 10);
    const opened = await compliance.post("/reviews", { name: "Ad hoc review of C00123", participantIds: "C00123", deadline, deadlinePolicy: "flag" });
    expect(opened.status).toBe(302);
    expect(opened.headers.get("location")).toMatch(/^\/reviews\/[0-9a-f-]{36}$/);
    const checkpoint = await compliance.post("/integrity", {});
    expect(checkpoint.status).toBe(200);
    const mark = await lastAuditId(db);
    const exported = await compliance.get("/activity/export?format=csv&participantId=platform&action=audit.*");
    expect(exported.status).toBe(200);
    expect(exported.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect(exported.headers.get("content-disposition")).toMatch(/^attachment; filename="audit-.+\.csv"$/);
    const rows = parse(await exported.text(), { columns: true }) as Record<string, string>[];
    expect(rows.map((r) => r.action)).toContain("audit.checkpoint.created");
    expect(new Set(rows.map((r) => r.participant_id))).toEqual(new Set([""]));
    expect(await auditEventsSince(db, mark)).toMatchObject([{ action: "audit.exported", actorPersona: "compliance", metadata: { format: "csv", filters: { participantId: "platform", action: "audit.*" } } }]);
  });

  it("the explorer's platform filter, read from the query string, shows only platform-wide events", async () => {
    const events = await explorer("compliance@hkex.demo", "participantId=platform");
    expect(events.length).toBeGreaterThan(0);
    expect(new Set(events.map((e) => e.chainKey))).toEqual(new Set(["platform"]));
    const [row] = await use().db.select({ n: sql<number>`count(*)` }).from(auditEvents).where(sql`${auditEvents.participantId} is null`);
    expect(events).toHaveLength(Number(row!.n));
  });

  it("a participant administrator never sees another participant's events in the explorer, whatever they ask for", async () => {
    for (const query of ["participantId=C00123", "participantId=platform", "entityType=participant&entityId=C00123", "action=role.grant.*&participantId=C00123"]) {
      expect(await explorer("maker@b01234.demo", query), query).toEqual([]);
    }
    const own = await explorer("checker@b01234.demo", "");
    expect(own.length).toBeGreaterThan(20);
    expect(new Set(own.map((e) => e.participantId))).toEqual(new Set(["B01234"]));
  });

  it("nor in an export, CSV or JSON lines", async () => {
    const { db } = use();
    const maker = await as("maker@b01234.demo");
    const other = await maker.get("/activity/export?format=csv&participantId=C00123");
    expect(other.status).toBe(200);
    expect(parse(await other.text(), { columns: true })).toEqual([]);

    const all = await maker.get("/activity/export?format=jsonl");
    expect(all.headers.get("content-type")).toBe("application/x-ndjson; charset=utf-8");
    const lines = (await all.text()).trim().split("\n").map((l) => JSON.parse(l) as { participant_id: string | null });
    const [count] = await db.select({ n: sql<number>`count(*)` }).from(auditEvents).where(eq(auditEvents.participantId, "B01234"));
    expect(lines).toHaveLength(Number(count!.n));
    expect(new Set(lines.map((l) => l.participant_id))).toEqual(new Set(["B01234"]));

    // Helpdesk has no audit access at all.
    expect((await (await as("helpdesk@hkex.demo")).get("/activity/export?format=csv")).status).toBe(403);
  });

  it("nor in the reports", async () => {
    // Each report is a table of rows; the participant is the first column (the second in the diff, after the change).
    type ReportData = { table: { rows: { cells: string[] }[] } };
    const seen = new Set<string | null>();
    for (const report of ["access", "diff", "sod", "dormant", "mfa", "expiring", "pending"]) {
      const page = await data<ReportData>("checker@b01234.demo", `/reports?report=${report}&participantId=C00123&from=2020-01-01T00:00`, "routes/reports");
      for (const r of page.table.rows) seen.add(r.cells[report === "diff" ? 1 : 0]!);
    }
    expect(seen).toEqual(new Set(["B01234"]));

    // Compliance asking for C00123 gets C00123's.
    const page = await data<ReportData>("compliance@hkex.demo", "/reports?report=access&participantId=C00123", "routes/reports");
    expect(page.table.rows.length).toBeGreaterThan(0);
    expect(new Set(page.table.rows.map((r) => r.cells[0]))).toEqual(new Set(["C00123"]));
  });
});
