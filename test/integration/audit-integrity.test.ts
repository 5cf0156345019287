import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { and, asc, desc, eq, sql } from "drizzle-orm";
import { CompactSign } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, type Database } from "../../db/client.server";
import { auditChainHeads, auditEvents, auditIntegrityWalks, type AuditEvent } from "../../db/schema";
import { createCheckpoint, integrityReport, verifyCheckpoint } from "../../app/modules/audit/checkpoint.server";
import { GENESIS_HASH, eventHash } from "../../app/modules/audit/hash.server";
import { verifyAuditChains, type ChainReport } from "../../app/modules/audit/service.server";
import type { ServiceContext } from "../../app/modules/context.server";
import { contextFor, createConsoleUser } from "../factories";
import { createFirm } from "../support/access";
import { auditEventsSince, lastAuditId } from "../support/audit";
import { runConsoleCommand, type CommandResult } from "../support/console";
import { createTestDatabase, databaseKinds, describeEachDatabase, openDataDirFromSnapshot } from "../support/databases";
import { HttpClient, startServer } from "../support/server";

/**
 * Tamper evidence (SPEC §8): someone with the database's keys alters, deletes, reorders or forges audit events with
 * the append-only triggers switched off. The chain walk names the first broken event of each chain; a signed
 * checkpoint made before the tampering catches even a chain rewritten with recomputed hashes.
 */

const KEY = "integrity-test-checkpoint-key-6f0c1e2a9b8d7c6e";
const OTHER_KEY = "another-installation-checkpoint-key-2b4d6f8a0c1e";
const PASSWORD = "correct horse battery staple 2026";

/** Statements run with the triggers off (session_replication_role = replica), as a DBA could. */
async function behindTheAppsBack(db: Database, work: (tx: Database) => Promise<unknown>): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.execute(sql`set local session_replication_role = replica`);
    await work(tx as unknown as Database);
  });
}

async function chainOf(db: Database, chainKey: string): Promise<AuditEvent[]> {
  return db.select().from(auditEvents).where(eq(auditEvents.chainKey, chainKey)).orderBy(asc(auditEvents.seq));
}

async function eventAt(db: Database, chainKey: string, seq: number): Promise<AuditEvent> {
  const [event] = await db.select().from(auditEvents).where(and(eq(auditEvents.chainKey, chainKey), eq(auditEvents.seq, seq)));
  if (!event) throw new Error(`no event ${chainKey} #${seq}`);
  return event;
}

/**
 * The careful forger: changes one event's reason, then recomputes its hash and every later event's link and hash,
 * and moves the chain head along, so that walking the chain finds nothing wrong.
 */
async function forgeWithRecomputedHashes(db: Database, chainKey: string, seq: number, reason: string): Promise<void> {
  const events = await chainOf(db, chainKey);
  let prevHash = seq === 1 ? GENESIS_HASH : events[seq - 2]!.hash;
  await behindTheAppsBack(db, async (tx) => {
    for (const event of events.filter((e) => e.seq >= seq)) {
      const forged = { ...event, reason: event.seq === seq ? reason : event.reason, prevHash };
      const hash = eventHash(forged);
      await tx.update(auditEvents).set({ reason: forged.reason, prevHash, hash }).where(eq(auditEvents.id, event.id));
      prevHash = hash;
    }
    await tx.update(auditChainHeads).set({ lastHash: prevHash }).where(eq(auditChainHeads.chainKey, chainKey));
  });
}

const reportOf = (reports: ChainReport[], chainKey: string) => {
  const report = reports.find((r) => r.chainKey === chainKey);
  if (!report) throw new Error(`no report for chain ${chainKey}`);
  return report;
};

/** A checkpoint whose payload was edited after signing: the signature is the original one. */
function withEditedPayload(jws: string, edit: (payload: { heads: { chainKey: string; seq: number; hash: string }[] }) => void): string {
  const [header, payload, signature] = jws.split(".");
  const decoded = JSON.parse(Buffer.from(payload!, "base64url").toString("utf8")) as { heads: { chainKey: string; seq: number; hash: string }[] };
  edit(decoded);
  return `${header}.${Buffer.from(JSON.stringify(decoded)).toString("base64url")}.${signature}`;
}

/** Five participants' chains, one for each kind of tampering, plus the platform chain nobody touches. */
async function buildHistory(db: Database): Promise<{ chains: string[]; compliance: ServiceContext }> {
  await createConsoleUser(db, { email: "compliance@integrity.test", displayName: "Compliance Reviewer", password: PASSWORD, roleCodes: ["compliance_reviewer"] });
  const chains: string[] = [];
  for (let i = 0; i < 5; i++) {
    const firm = await createFirm(db);
    await firm.addUser(["trade_info_viewer"]);
    await firm.addUser(["ref_data_viewer", "si_status_subscriber"]);
    chains.push(firm.participant.id);
  }
  return { chains, compliance: await contextFor(db, "compliance@integrity.test") };
}

describeEachDatabase("audit integrity", (use) => {
  let compliance: ServiceContext;
  /** Chains: altered, deleted, reordered, head deleted, forged. */
  let altered: string, deleted: string, reordered: string, headDeleted: string, forged: string;
  let jws: string;
  let checkpointId: string;
  let heads: Map<string, number>;

  beforeAll(async () => {
    const history = await buildHistory(use().db);
    compliance = history.compliance;
    [altered, deleted, reordered, headDeleted, forged] = history.chains as [string, string, string, string, string];
    for (const chain of history.chains) expect((await chainOf(use().db, chain)).length).toBeGreaterThanOrEqual(7);
  });

  it("verifies the trail as written, and a checkpoint signed now, whose making is itself audited", async () => {
    const { db } = use();
    for (const r of await verifyAuditChains(db)) expect(r, r.chainKey).toMatchObject({ ok: true });
    const mark = await lastAuditId(db);
    const made = await createCheckpoint(compliance, { key: KEY });
    jws = made.jws;
    checkpointId = made.checkpoint.id;
    heads = new Map(made.checkpoint.heads.map((h) => [h.chainKey, h.seq]));
    for (const chain of [altered, deleted, reordered, headDeleted, forged]) expect(heads.get(chain)).toBe((await chainOf(db, chain)).length);
    expect(await auditEventsSince(db, mark)).toMatchObject([
      { action: "audit.checkpoint.created", entityId: checkpointId, actorUserId: compliance.actor.userId, chainKey: "platform" },
    ]);

    expect(await verifyCheckpoint(db, jws, KEY)).toEqual({ checkpointId, createdAt: made.checkpoint.createdAt.toISOString(), signatureValid: true, problems: [] });
    const report = await integrityReport(db, KEY);
    expect(report.ok).toBe(true);
    expect(report.checkpoint).toMatchObject({ checkpointId, signatureValid: true, problems: [] });
  });

  it("refuses a checkpoint to anyone but compliance, and without a key", async () => {
    const { db } = use();
    const firm = await createFirm(db);
    await expect(createCheckpoint(firm.checker, { key: KEY })).rejects.toMatchObject({ status: 403 });
    await expect(createCheckpoint(compliance, { key: null })).rejects.toMatchObject({ status: 400, messageKey: "integrity.noKey" });
  });

  describe("a checkpoint's signature", () => {
    it("fails when the checkpoint was signed with another key", async () => {
      const { db } = use();
      const foreign = await createCheckpoint(compliance, { key: OTHER_KEY });
      const report = await verifyCheckpoint(db, foreign.jws, KEY);
      expect(report).toMatchObject({ signatureValid: false, problems: [{ chainKey: "*", problem: expect.stringContaining("signed with another key") }] });
      // The same checkpoint checks out with the key it was made with.
      expect(await verifyCheckpoint(db, foreign.jws, OTHER_KEY)).toMatchObject({ signatureValid: true, problems: [] });
      // It is now the latest stored one: the integrity report, configured with KEY, says the trail cannot be vouched for.
      const integrity = await integrityReport(db, KEY);
      expect(integrity.ok).toBe(false);
      expect(integrity.checkpoint).toMatchObject({ signatureValid: false });
      for (const chain of integrity.chains) expect(chain.ok).toBe(true);
      // Signed again with the right key, the latest checkpoint verifies.
      await createCheckpoint(compliance, { key: KEY });
      expect((await integrityReport(db, KEY)).ok).toBe(true);
    });

    it("fails when the checkpoint was altered after signing", async () => {
      const { db } = use();
      const tampered = withEditedPayload(jws, (p) => {
        p.heads.find((h) => h.chainKey === forged)!.hash = "f".repeat(64);
      });
      expect(await verifyCheckpoint(db, tampered, KEY)).toMatchObject({ signatureValid: false, checkpointId: null });
      const [header, payload, signature] = jws.split(".");
      const flipped = `${header}.${payload}.${signature!.startsWith("A") ? "B" : "A"}${signature!.slice(1)}`;
      expect(await verifyCheckpoint(db, flipped, KEY)).toMatchObject({ signatureValid: false });
      expect(await verifyCheckpoint(db, "not a checkpoint", KEY)).toMatchObject({ signatureValid: false });
      // A checkpoint "signed" with alg none, or re-signed by someone without the key, is no better.
      const unsigned = `${Buffer.from(JSON.stringify({ alg: "none" })).toString("base64url")}.${payload}.`;
      expect(await verifyCheckpoint(db, unsigned, KEY)).toMatchObject({ signatureValid: false });
      const resigned = await new CompactSign(Buffer.from(payload!, "base64url")).setProtectedHeader({ alg: "HS256" }).sign(new TextEncoder().encode(OTHER_KEY));
      expect(await verifyCheckpoint(db, resigned, KEY)).toMatchObject({ signatureValid: false });
    });

    it("cannot be checked without a configured key", async () => {
      expect(await verifyCheckpoint(use().db, jws, null)).toMatchObject({ signatureValid: false, problems: [{ problem: "no checkpoint key is configured" }] });
    });
  });

  describe("tampering", () => {
    it("an altered field: reported at that event, which the checkpoint (heads intact) cannot see", async () => {
      const { db } = use();
      const target = await eventAt(db, altered, 3);
      await behindTheAppsBack(db, (tx) => tx.update(auditEvents).set({ actorName: "Someone Else" }).where(eq(auditEvents.id, target.id)));
      const reports = await verifyAuditChains(db);
      expect(reportOf(reports, altered)).toEqual({
        chainKey: altered,
        events: 3,
        ok: false,
        firstBreak: { seq: 3, eventId: target.id, problem: expect.stringContaining("the event was altered") },
      });
      for (const r of reports.filter((r) => r.chainKey !== altered)) expect(r, r.chainKey).toMatchObject({ ok: true });
      expect(await verifyCheckpoint(db, jws, KEY)).toMatchObject({ signatureValid: true, problems: [] });
      const integrity = await integrityReport(db, KEY);
      expect(integrity.ok).toBe(false);
      expect(reportOf(integrity.chains, altered).firstBreak).toMatchObject({ seq: 3, eventId: target.id });
    });

    it("a deleted event: reported at the seq that is missing", async () => {
      const { db } = use();
      const target = await eventAt(db, deleted, 4);
      await behindTheAppsBack(db, (tx) => tx.delete(auditEvents).where(eq(auditEvents.id, target.id)));
      const report = reportOf(await verifyAuditChains(db), deleted);
      expect(report).toEqual({
        chainKey: deleted,
        events: 4,
        ok: false,
        firstBreak: { seq: 4, eventId: null, problem: "expected event #4 but found #5: an event is missing or out of order" },
      });
      expect((await verifyCheckpoint(db, jws, KEY)).problems).toEqual([]);
      expect(reportOf((await integrityReport(db, KEY)).chains, deleted)).toEqual(report);
    });

    it("two events swapped: reported at the first of them, which no longer links to the event before it", async () => {
      const { db } = use();
      const second = await eventAt(db, reordered, 2);
      const third = await eventAt(db, reordered, 3);
      await behindTheAppsBack(db, async (tx) => {
        await tx.update(auditEvents).set({ seq: -1 }).where(eq(auditEvents.id, second.id));
        await tx.update(auditEvents).set({ seq: 2 }).where(eq(auditEvents.id, third.id));
        await tx.update(auditEvents).set({ seq: 3 }).where(eq(auditEvents.id, second.id));
      });
      expect(reportOf(await verifyAuditChains(db), reordered)).toEqual({
        chainKey: reordered,
        events: 2,
        ok: false,
        firstBreak: { seq: 2, eventId: third.id, problem: expect.stringContaining("does not link to the event before it") },
      });
      expect((await verifyCheckpoint(db, jws, KEY)).problems).toEqual([]);
    });

    it("the last event deleted: the chain head and the checkpoint both miss it", async () => {
      const { db } = use();
      const last = heads.get(headDeleted)!;
      await behindTheAppsBack(db, (tx) => tx.delete(auditEvents).where(and(eq(auditEvents.chainKey, headDeleted), eq(auditEvents.seq, last))));
      expect(reportOf(await verifyAuditChains(db), headDeleted)).toMatchObject({
        ok: false,
        events: last - 1,
        firstBreak: { seq: last, eventId: null, problem: expect.stringContaining("chain head") },
      });
      expect((await verifyCheckpoint(db, jws, KEY)).problems).toEqual([
        { chainKey: headDeleted, seq: last, problem: `event #${last} recorded in the checkpoint is missing` },
      ]);
    });

    it("a forged event with every later hash recomputed: the chain walk passes, the earlier checkpoint does not", async () => {
      const { db } = use();
      const original = await eventAt(db, forged, 2);
      await forgeWithRecomputedHashes(db, forged, 2, "Approved by the board (forged)");
      expect((await eventAt(db, forged, 2)).reason).toBe("Approved by the board (forged)");
      expect(original.reason).not.toBe("Approved by the board (forged)");

      const chainReport = reportOf(await verifyAuditChains(db), forged);
      expect(chainReport).toEqual({ chainKey: forged, events: heads.get(forged)!, ok: true });

      const last = heads.get(forged)!;
      const checkpoint = await verifyCheckpoint(db, jws, KEY);
      expect(checkpoint.signatureValid).toBe(true);
      expect(checkpoint.problems).toEqual([
        { chainKey: headDeleted, seq: heads.get(headDeleted)!, problem: expect.stringContaining("missing") },
        { chainKey: forged, seq: last, problem: `event #${last} differs from the checkpoint: the chain was rewritten up to here` },
      ]);

      // The report of the latest stored checkpoint, made before the forgery, says the same.
      const integrity = await integrityReport(db, KEY);
      expect(integrity.ok).toBe(false);
      expect(reportOf(integrity.chains, forged).ok).toBe(true);
      expect(integrity.checkpoint?.problems).toContainEqual({ chainKey: forged, seq: last, problem: expect.stringContaining("rewritten") });
      expect(integrity.chains.filter((c) => !c.ok).map((c) => c.chainKey).sort()).toEqual([altered, deleted, reordered, headDeleted].sort());
      expect(reportOf(integrity.chains, "platform").ok).toBe(true);
    });

    it("shows each break on the integrity page, which only compliance may open", async () => {
      const { db } = use();
      const server = await startServer(db, { AUDIT_CHECKPOINT_KEY: KEY });
      try {
        const client = new HttpClient(server.baseUrl);
        expect((await client.signIn("compliance@integrity.test", PASSWORD)).status).toBe(302);
        // The page shows the recorded walks: one is started (Verify now) and the page read once it has finished.
        expect((await client.post("/integrity", { intent: "verify" })).status).toBe(200);
        for (let i = 0; i < 300; i++) {
          const [walk] = await db.select({ finishedAt: auditIntegrityWalks.finishedAt }).from(auditIntegrityWalks).orderBy(desc(auditIntegrityWalks.startedAt)).limit(1);
          if (walk?.finishedAt) break;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        const res = await client.get("/integrity");
        expect(res.status).toBe(200);
        const page = (await res.text()).replace(/<!-- -->/g, "");
        expect(page).toContain("4 chains are broken.");
        expect(page).toContain("Broken at event #3: content does not match its hash: the event was altered");
        expect(page).toContain("Broken at event #4: expected event #4 but found #5");
        expect(page).toContain("Broken at event #2: does not link to the event before it");
        expect(page).toContain(`event #${heads.get(forged)} differs from the checkpoint: the chain was rewritten up to here`);

        const firm = await createFirm(db);
        const da = new HttpClient(server.baseUrl);
        expect((await da.signIn(firm.checkerEmail, firm.password)).status).toBe(302);
        expect((await da.get("/integrity")).status).toBe(403);
        expect((await da.post("/integrity", {})).status).toBe(403);
      } finally {
        await server.close();
      }
    });
  });
});

/** `npm run audit:verify` as an operator runs it. */
function auditVerify(args: string[], env: Record<string, string>): Promise<CommandResult> {
  return runConsoleCommand(["audit-verify", ...args], { AUDIT_CHECKPOINT_KEY: KEY, ...env });
}

describe("npm run audit:verify -- --checkpoint", () => {
  const folders: string[] = [];
  afterAll(() => {
    for (const f of folders) rmSync(f, { recursive: true, force: true });
  });

  /** Builds a history, signs a checkpoint into a file kept outside the database, and answers what it needs. */
  async function prepare(db: Database, folder: string) {
    const { chains, compliance } = await buildHistory(db);
    const { jws, checkpoint } = await createCheckpoint(compliance, { key: KEY });
    const file = path.join(folder, "checkpoint.jws");
    writeFileSync(file, `${jws}\n`);
    const foreignFile = path.join(folder, "foreign.jws");
    writeFileSync(foreignFile, (await createCheckpoint(compliance, { key: OTHER_KEY })).jws);
    // The latest stored checkpoint is the good one again.
    await createCheckpoint(compliance, { key: KEY });
    const chainCount = (await verifyAuditChains(db)).length;
    return { chain: chains[2]!, head: checkpoint.heads.find((h) => h.chainKey === chains[2])!.seq, checkpointId: checkpoint.id, file, foreignFile, chainCount };
  }

  it("on an embedded (PGlite) folder: passes, then catches a forgery that the chain walk alone misses", async () => {
    const folder = mkdtempSync(path.join(tmpdir(), "ocp-audit-checkpoint-"));
    folders.push(folder);
    const dataDir = path.join(folder, "pglite");
    let handle = await openDataDirFromSnapshot(dataDir);
    const prepared = await prepare(handle.db, folder);
    await handle.close();

    const clean = await auditVerify(["--checkpoint", prepared.file], { DATA_DIR: dataDir });
    expect(clean.stdout).toContain(`ok      checkpoint ${prepared.checkpointId} of `);
    expect(clean.stdout).toContain(`All ${prepared.chainCount} chains intact.`);
    expect(clean.code).toBe(0);

    handle = openDatabase({ dataDir });
    // The walk is recorded for the Integrity page, as started by the CLI.
    expect(await handle.db.select().from(auditIntegrityWalks)).toMatchObject([
      { startedVia: "cli", startedBy: null, ok: true, chains: prepared.chainCount, checkpoint: { checkpointId: prepared.checkpointId, problems: [] } },
    ]);
    await forgeWithRecomputedHashes(handle.db, prepared.chain, 3, "Nothing happened here (forged)");
    await handle.close();

    const forged = await auditVerify(["--checkpoint", prepared.file], { DATA_DIR: dataDir });
    expect(forged.stdout).toContain(`All ${prepared.chainCount} chains intact.`);
    expect(forged.stdout).toContain(
      `BROKEN  checkpoint: ${prepared.chain} at event #${prepared.head}: event #${prepared.head} differs from the checkpoint: the chain was rewritten up to here`,
    );
    expect(forged.code).toBe(1);

    // Without a file it compares with the latest checkpoint kept in the database, made before the forgery too.
    const stored = await auditVerify([], { DATA_DIR: dataDir });
    expect(stored.stdout).toContain(`BROKEN  checkpoint: ${prepared.chain} at event #${prepared.head}`);
    expect(stored.code).toBe(1);

    const foreign = await auditVerify(["--checkpoint", prepared.foreignFile], { DATA_DIR: dataDir });
    expect(foreign.stdout).toContain("BROKEN  checkpoint: *: the checkpoint's signature does not verify: it was altered or signed with another key");
    expect(foreign.code).toBe(1);
  }, 240_000);

  it.skipIf(!databaseKinds().includes("postgres"))("on PostgreSQL: the same forgery is caught", async () => {
    const folder = mkdtempSync(path.join(tmpdir(), "ocp-audit-checkpoint-"));
    folders.push(folder);
    const test = await createTestDatabase("postgres");
    try {
      const prepared = await prepare(test.db, folder);
      await forgeWithRecomputedHashes(test.db, prepared.chain, 2, "Nothing happened here (forged)");
      const forged = await auditVerify(["--checkpoint", prepared.file], { DATABASE_URL: test.url! });
      expect(forged.stdout).toContain(`All ${prepared.chainCount} chains intact.`);
      expect(forged.stdout).toContain(`BROKEN  checkpoint: ${prepared.chain} at event #${prepared.head}: event #${prepared.head} differs from the checkpoint`);
      expect(forged.code).toBe(1);
    } finally {
      await test.drop();
    }
  }, 240_000);
});
