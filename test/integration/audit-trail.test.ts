import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { and, asc, eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, type Database } from "../../db/client.server";
import { migrateDatabase } from "../../db/migrate.server";
import { auditChainHeads, auditEvents } from "../../db/schema";
import { seedDemo } from "../../db/seed";
import { eventHash } from "../../app/modules/audit/hash.server";
import { verifyAuditChains, type ChainReport } from "../../app/modules/audit/service.server";
import { createConsoleUser, registerParticipant } from "../factories";
import { runConsoleCommand, type CommandResult } from "../support/console";
import { createTestDatabase, databaseKinds, describeEachDatabase } from "../support/databases";

/** Runs statements with the audit triggers switched off, as someone with the database's keys could. */
async function behindTheAppsBack(db: Database, statement: ReturnType<typeof sql>): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.execute(sql`set local session_replication_role = replica`);
    await tx.execute(statement);
  });
}

async function eventAt(db: Database, chainKey: string, seq: number) {
  const [event] = await db
    .select()
    .from(auditEvents)
    .where(and(eq(auditEvents.chainKey, chainKey), eq(auditEvents.seq, seq)));
  if (!event) throw new Error(`no event ${chainKey} #${seq}`);
  return event;
}

/** The message of an error and of every error it wraps (drizzle wraps the driver's). */
function messagesOf(error: unknown): string {
  const out: string[] = [];
  for (let e = error; e instanceof Error; e = e.cause) out.push(e.message);
  return out.join("\n");
}

const reportOf = (reports: ChainReport[], chainKey: string) => reports.find((r) => r.chainKey === chainKey);

describeEachDatabase("audit trail in the database", { demo: true, compatibility: true }, (use) => {
  beforeAll(async () => {
    const { db } = use();
    await registerParticipant(db, { id: "E00005" });
    await createConsoleUser(db, { participantId: "E00005", roleCodes: ["da_maker"] });
  });

  describe("append-only", () => {
    const attempts: [string, ReturnType<typeof sql>][] = [
      ["UPDATE", sql`update audit_events set reason = 'rewritten' where chain_key = 'B01234'`],
      ["DELETE", sql`delete from audit_events where chain_key = 'B01234' and seq = 1`],
      ["TRUNCATE", sql`truncate audit_events`],
    ];
    it.each(attempts)("refuses %s, whoever asks", async (operation, statement) => {
      const { db } = use();
      const before = await db.select().from(auditEvents).orderBy(asc(auditEvents.id));
      const error = await db.execute(statement).then(
        () => null,
        (e: unknown) => e,
      );
      expect(messagesOf(error)).toContain(`audit_events is append-only: ${operation} refused`);
      expect(await db.select().from(auditEvents).orderBy(asc(auditEvents.id))).toEqual(before);
    });
  });

  describe("verification", () => {
    it("passes on the chains the application wrote", async () => {
      const { db } = use();
      const reports = await verifyAuditChains(db);
      const chains = await db.selectDistinct({ key: auditEvents.chainKey }).from(auditEvents);
      expect(reports.map((r) => r.chainKey)).toEqual(chains.map((c) => c.key).sort());
      expect(reports.map((r) => r.chainKey)).toEqual(expect.arrayContaining(["A00003", "B01234", "E00005", "platform"]));
      for (const r of reports) expect(r, r.chainKey).toMatchObject({ ok: true });
      const total = reports.reduce((n, r) => n + r.events, 0);
      const all = await use().db.select({ id: auditEvents.id }).from(auditEvents);
      expect(total).toBe(all.length);
    });

    it("passes when it reads the chains in small batches", async () => {
      for (const r of await verifyAuditChains(use().db, 2)) expect(r, r.chainKey).toMatchObject({ ok: true });
    });

    it("names the chain and the event whose content was altered", async () => {
      const { db } = use();
      const altered = await eventAt(db, "C00123", 2);
      await behindTheAppsBack(
        db,
        sql`update audit_events set actor_name = 'Someone Else' where chain_key = 'C00123' and seq = 2`,
      );
      const reports = await verifyAuditChains(db);
      expect(reportOf(reports, "C00123")).toMatchObject({
        ok: false,
        firstBreak: { seq: 2, eventId: altered.id, problem: expect.stringContaining("altered") },
      });
      for (const key of ["A00003", "B01234", "E00005", "platform"]) expect(reportOf(reports, key)?.ok, key).toBe(true);
    });

    it("catches a forger who recomputes the altered event's hash: the next event no longer links to it", async () => {
      const { db } = use();
      const original = await eventAt(db, "platform", 2);
      const forgedHash = eventHash({ ...original, actorName: "Someone Else" });
      await behindTheAppsBack(
        db,
        sql`update audit_events set actor_name = 'Someone Else', hash = ${forgedHash} where id = ${original.id}`,
      );
      const next = await eventAt(db, "platform", 3);
      expect(reportOf(await verifyAuditChains(db), "platform")).toMatchObject({
        ok: false,
        firstBreak: { seq: 3, eventId: next.id, problem: expect.stringContaining("does not link") },
      });
    });

    it("reports a deleted event at the seq that is missing", async () => {
      const { db } = use();
      const deleted = await eventAt(db, "B01234", 3);
      await behindTheAppsBack(db, sql`delete from audit_events where chain_key = 'B01234' and seq = 3`);
      const report = reportOf(await verifyAuditChains(db), "B01234");
      expect(report).toMatchObject({ ok: false, firstBreak: { seq: 3, problem: expect.stringContaining("missing") } });
      expect(report?.firstBreak?.eventId).not.toBe(deleted.id);
    });

    it("reports a deleted last event, which only the chain head still knows about", async () => {
      const { db } = use();
      const [head] = await db.select().from(auditChainHeads).where(eq(auditChainHeads.chainKey, "E00005"));
      const last = head!.lastSeq;
      await behindTheAppsBack(db, sql`delete from audit_events where chain_key = 'E00005' and seq = ${last}`);
      expect(reportOf(await verifyAuditChains(db), "E00005")).toMatchObject({
        ok: false,
        events: last - 1,
        firstBreak: { seq: last, eventId: null, problem: expect.stringContaining("chain head") },
      });
    });

    it("still passes the chain nobody touched", async () => {
      const reports = await verifyAuditChains(use().db);
      expect(reportOf(reports, "A00003")).toMatchObject({ ok: true });
      expect(reports.filter((r) => !r.ok).map((r) => r.chainKey)).toEqual(["B01234", "C00123", "E00005", "platform"]);
    });
  });
});

/** Runs `npm run audit:verify`'s command as an operator would, against the given database. */
function auditVerifyCli(env: Record<string, string>): Promise<CommandResult> {
  return runConsoleCommand(["audit-verify"], env, 60_000);
}

describe("the audit:verify command", () => {
  const folders: string[] = [];
  afterAll(() => {
    for (const f of folders) rmSync(f, { recursive: true, force: true });
  });

  async function tamper(db: Database): Promise<number> {
    const event = await eventAt(db, "B01234", 2);
    await behindTheAppsBack(
      db,
      sql`update audit_events set reason = 'nothing to see' where chain_key = 'B01234' and seq = 2`,
    );
    return event.id;
  }

  it("exits 0 on a clean embedded database, and 1 naming the altered event once it is tampered with", async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), "ocp-audit-verify-"));
    folders.push(dataDir);
    let handle = openDatabase({ dataDir });
    await migrateDatabase(handle);
    await seedDemo(handle.db);
    const chains = (await verifyAuditChains(handle.db)).length;
    await handle.close();

    const clean = await auditVerifyCli({ DATA_DIR: dataDir });
    expect(clean.stdout).toContain(`All ${chains} chains intact.`);
    expect(clean.code).toBe(0);

    handle = openDatabase({ dataDir });
    const eventId = await tamper(handle.db);
    await handle.close();

    const broken = await auditVerifyCli({ DATA_DIR: dataDir });
    expect(broken.stdout).toContain(`BROKEN  B01234: first break at event #2 (id ${eventId})`);
    expect(broken.stdout).toContain(`1 of ${chains} chains broken.`);
    expect(broken.stdout).toMatch(/ok {6}C00123: \d+ events/);
    expect(broken.code).toBe(1);
  }, 120_000);

  it.skipIf(!databaseKinds().includes("postgres"))("does the same on PostgreSQL", async () => {
    const test = await createTestDatabase("postgres");
    try {
      await seedDemo(test.db);
      expect((await auditVerifyCli({ DATABASE_URL: test.url! })).code).toBe(0);
      const eventId = await tamper(test.db);
      const broken = await auditVerifyCli({ DATABASE_URL: test.url! });
      expect(broken.stdout).toContain(`BROKEN  B01234: first break at event #2 (id ${eventId})`);
      expect(broken.code).toBe(1);
    } finally {
      await test.drop();
    }
  }, 120_000);
});
