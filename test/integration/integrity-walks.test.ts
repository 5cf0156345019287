import { and, asc, desc, eq, gte, sql } from "drizzle-orm";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Database } from "../../db/client.server";
import { auditEvents, auditIntegrityWalks } from "../../db/schema";
import { startIntegrityWalk, performIntegrityWalk } from "../../app/modules/audit/walks.server";
import { runJobs } from "../../app/modules/jobs/service.server";
import type { ServiceContext } from "../../app/modules/context.server";
import { contextFor, createConsoleUser } from "../factories";
import { createFirm } from "../support/access";
import { auditEventsSince, lastAuditId } from "../support/audit";
import { describeEachDatabase } from "../support/databases";
import { HttpClient, startServer, type RunningServer } from "../support/server";

/**
 * The Integrity page answers from the recorded walks (issue 16): it never walks on view. A walk is started by the
 * hourly job, by `npm run audit:verify`, or by "Verify now", one at a time, and each start and finish is audited.
 */

const KEY = "integrity-walks-test-checkpoint-key-3e5a7c9b1d2f";
const PASSWORD = "correct horse battery staple 2026";
const EMAIL = "compliance@walks.test";

/** The page's text, without React's text separators. */
async function pageText(client: HttpClient): Promise<string> {
  const res = await client.get("/integrity");
  expect(res.status).toBe(200);
  return (await res.text()).replace(/<!-- -->/g, "");
}

async function walksCount(db: Database): Promise<number> {
  const [row] = await db.select({ n: sql<number>`count(*)` }).from(auditIntegrityWalks);
  return Number(row!.n);
}

async function latestWalk(db: Database) {
  const [walk] = await db.select().from(auditIntegrityWalks).orderBy(desc(auditIntegrityWalks.startedAt)).limit(1);
  return walk!;
}

/** Waits for the background walk to be recorded as finished. */
async function finished(db: Database, walkId: string) {
  for (let i = 0; i < 300; i++) {
    const [walk] = await db.select().from(auditIntegrityWalks).where(eq(auditIntegrityWalks.id, walkId));
    if (walk?.finishedAt) return walk;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`walk ${walkId} did not finish`);
}

/** Alters an event with the append-only triggers off, as someone with the database's keys could. */
async function tamper(db: Database, chainKey: string, seq: number): Promise<number> {
  const [event] = await db.select({ id: auditEvents.id }).from(auditEvents).where(and(eq(auditEvents.chainKey, chainKey), eq(auditEvents.seq, seq)));
  await db.transaction(async (tx) => {
    await tx.execute(sql`set local session_replication_role = replica`);
    await tx.update(auditEvents).set({ reason: "nothing to see here" }).where(eq(auditEvents.id, event!.id));
  });
  return event!.id;
}

describeEachDatabase("integrity walks", { compatibility: true }, (use) => {
  let server: RunningServer;
  let client: HttpClient;
  let compliance: ServiceContext;
  let chain: string;

  beforeAll(async () => {
    const { db } = use();
    await createConsoleUser(db, { email: EMAIL, displayName: "Walk Reviewer", password: PASSWORD, roleCodes: ["compliance_reviewer"] });
    compliance = await contextFor(db, EMAIL);
    const firm = await createFirm(db);
    await firm.addUser(["trade_info_viewer"]);
    chain = firm.participant.id;
    server = await startServer(db, { AUDIT_CHECKPOINT_KEY: KEY });
    client = new HttpClient(server.baseUrl);
    expect((await client.signIn(EMAIL, PASSWORD)).status).toBe(302);
  });
  afterAll(async () => {
    await server?.close();
  });

  it("before any walk, the page says none has run and offers Verify now, without walking", async () => {
    const { db } = use();
    const page = await pageText(client);
    expect(page).toContain("No verification has run yet. Verify now to walk every chain.");
    expect(page).toContain("Verify now</button>");
    expect(page).not.toContain("chains are intact");
    expect(await walksCount(db)).toBe(0);
  });

  it("the scheduled job records one walk across concurrent runners, then none until an hour has passed", async () => {
    const { db } = use();
    const mark = await lastAuditId(db);
    const results = await Promise.all([runJobs(db, undefined, { auditCheckpointKey: KEY }), runJobs(db, undefined, { auditCheckpointKey: KEY })]);
    expect(results.reduce((n, r) => n + r.integrityWalks, 0)).toBe(1);
    expect((await runJobs(db, undefined, { auditCheckpointKey: KEY })).integrityWalks).toBe(0);
    expect(await walksCount(db)).toBe(1);
    const walk = await latestWalk(db);
    expect(walk).toMatchObject({ startedVia: "job", startedBy: null, ok: true, failure: null });
    expect(walk.finishedAt).not.toBeNull();
    expect(walk.chains).toBeGreaterThanOrEqual(2);
    expect(walk.events).toBeGreaterThan(0);
    const events = (await auditEventsSince(db, mark)).filter((e) => e.action.startsWith("audit.integrity.walk."));
    expect(events).toMatchObject([
      { action: "audit.integrity.walk.started", entityId: walk.id, actorPersona: "system", metadata: { via: "job" } },
      { action: "audit.integrity.walk.finished", entityId: walk.id, actorPersona: "system", metadata: { ok: true, chains: walk.chains, events: walk.events } },
    ]);

    const page = await pageText(client);
    expect(page).toContain(`All ${walk.chains} chains are intact.`);
    expect(page).toContain("started by the hourly job");
    expect(page).toContain("(just now)");
  });

  it("answers from the stored walk: a tamper made after it shows only once Verify now has walked again", async () => {
    const { db } = use();
    const eventId = await tamper(db, chain, 2);
    const before = await pageText(client);
    expect(before).toContain("chains are intact.");
    expect(before).not.toContain("Broken at event");
    expect(await walksCount(db)).toBe(1);

    const mark = await lastAuditId(db);
    const res = await client.post("/integrity", { intent: "verify" });
    expect(res.status).toBe(200);
    expect((await res.text()).replace(/<!-- -->/g, "")).toContain("Verification started.");
    const walk = await latestWalk(db);
    expect(walk).toMatchObject({ startedVia: "person", startedBy: compliance.actor.userId, startedByName: "Walk Reviewer" });
    const done = await finished(db, walk.id);
    expect(done.ok).toBe(false);
    expect(done.chainReports!.find((c) => c.chainKey === chain)).toMatchObject({ ok: false, firstBreak: { seq: 2, eventId } });
    expect((await auditEventsSince(db, mark)).filter((e) => e.action.startsWith("audit.integrity.walk."))).toMatchObject([
      { action: "audit.integrity.walk.started", entityId: walk.id, actorUserId: compliance.actor.userId, metadata: { via: "person" } },
      { action: "audit.integrity.walk.finished", entityId: walk.id, actorPersona: "system", metadata: { ok: false, brokenChains: 1, firstBreak: { chainKey: chain, seq: 2 } } },
    ]);

    const after = await pageText(client);
    expect(after).toContain("1 chain is broken.");
    expect(after).toContain("Broken at event #2: content does not match its hash: the event was altered");
    expect(after).toContain("started by Walk Reviewer");
    expect(after).toContain("Recent verifications");
  });

  it("shows a running walk and refuses a second one with a clear message; concurrent Verify now starts one walk", async () => {
    const { db } = use();
    const running = (await startIntegrityWalk(compliance, { via: "person" }))!;
    const page = await pageText(client);
    expect(page).toMatch(/A verification started .+ by Walk Reviewer is running\./);
    const refused = await client.post("/integrity", { intent: "verify" });
    expect(refused.status).toBe(409);
    expect(await refused.text()).toContain("A verification is already running. Wait for it to finish before starting another.");
    await performIntegrityWalk(db, running.id, KEY);

    const since = new Date();
    const answers = await Promise.all([1, 2, 3].map(() => client.post("/integrity", { intent: "verify" })));
    const started = answers.filter((r) => r.status === 200).length;
    for (const refusal of answers.filter((r) => r.status !== 200)) {
      expect(refusal.status).toBe(409);
      expect(await refusal.text()).toContain("A verification is already running.");
    }
    // On PostgreSQL the three arrive together and one walk starts. PGlite takes one transaction at a time, so a
    // small walk may finish before the next request starts another: either way walks never overlap.
    if (use().kind === "postgres") expect(started).toBe(1);
    await finished(db, (await latestWalk(db)).id);
    const walks = await db.select().from(auditIntegrityWalks).where(gte(auditIntegrityWalks.startedAt, since)).orderBy(asc(auditIntegrityWalks.startedAt));
    expect(walks).toHaveLength(started);
    for (let i = 1; i < walks.length; i++) expect(walks[i]!.startedAt.getTime()).toBeGreaterThanOrEqual(walks[i - 1]!.finishedAt!.getTime());
  });

  it("closes a walk whose process stopped (unfinished after an hour) when the next one starts", async () => {
    const { db } = use();
    const stuck = "00000000-0000-4000-8000-00000000dead";
    await db.insert(auditIntegrityWalks).values({ id: stuck, startedAt: new Date(Date.now() - 2 * 3600_000), startedVia: "job" });
    expect(await pageText(client)).toMatch(/A verification started .+ by the hourly job is running\./);
    const mark = await lastAuditId(db);
    const res = await client.post("/integrity", { intent: "verify" });
    expect(res.status).toBe(200);
    const [closed] = await db.select().from(auditIntegrityWalks).where(eq(auditIntegrityWalks.id, stuck));
    expect(closed).toMatchObject({ ok: false, failure: expect.stringContaining("abandoned") });
    expect(closed!.finishedAt).not.toBeNull();
    expect((await auditEventsSince(db, mark)).map((e) => [e.action, e.entityId])).toContainEqual(["audit.integrity.walk.abandoned", stuck]);
    await finished(db, (await latestWalk(db)).id);
    expect(await pageText(client)).toContain("Did not finish");
  });

  it("keeps a finished walk as it is, in the database itself", async () => {
    const { db } = use();
    const walk = await latestWalk(db);
    await expect(db.update(auditIntegrityWalks).set({ ok: true }).where(eq(auditIntegrityWalks.id, walk.id))).rejects.toThrow();
    await expect(db.delete(auditIntegrityWalks).where(eq(auditIntegrityWalks.id, walk.id))).rejects.toThrow();
    expect((await latestWalk(db)).ok).toBe(walk.ok);
  });

  it("is only for compliance, in Chinese too", async () => {
    const { db } = use();
    const firm = await createFirm(db);
    const da = new HttpClient(server.baseUrl);
    expect((await da.signIn(firm.checkerEmail, firm.password)).status).toBe(302);
    expect((await da.get("/integrity")).status).toBe(403);
    const count = await walksCount(db);
    expect((await da.post("/integrity", { intent: "verify" })).status).toBe(403);
    expect(await walksCount(db)).toBe(count);
    const zh = await client.get("/integrity", { "Accept-Language": "zh-HK" });
    const text = (await zh.text()).replace(/<!-- -->/g, "");
    expect(text).toContain("最近一次核實");
    expect(text).toMatch(/已於香港時間 .+（.+）核實，由Walk Reviewer啟動：/);
    expect(text).toContain("立即核實</button>");
    expect(text).toContain("最近的核實");
  });
});
