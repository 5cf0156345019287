import v8 from "node:v8";
import vm from "node:vm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "csv-parse/sync";
import { EXPORT_COLUMNS, exportAudit } from "../../app/modules/audit/explorer.server";
import { appendAuditEvents, type AuditEventInput } from "../../app/modules/audit/service.server";
import { SYSTEM_ACTOR, type ServiceContext } from "../../app/modules/context.server";
import { contextFor, createConsoleUser } from "../factories";
import { createTestDatabase, databaseKinds, type TestDatabase } from "../support/databases";

/**
 * A large export streams in batches: the heap stays flat however many events match (SPEC §8, "streamed"). Run once,
 * on PostgreSQL when the run has it (that is where large trails live), else on PGlite. EXPORT_SCALE_ROWS overrides
 * the number of events.
 */
const kind = databaseKinds().includes("postgres") ? "postgres" : "pglite";
const ROWS = Number(process.env.EXPORT_SCALE_ROWS ?? (kind === "postgres" ? 150_000 : 100_000));
const WRITE_BATCH = 5_000;
const HEAP_BOUND = 100 * 1024 * 1024;

/** A full garbage collection on demand, so that the heap measured is what the export keeps, not what it dropped. */
function collector(): () => void {
  v8.setFlagsFromString("--expose-gc");
  return vm.runInNewContext("gc") as () => void;
}

describe(`a large audit export [${kind}]`, () => {
  let database: TestDatabase & { drop(): Promise<void> };
  let compliance: ServiceContext;
  beforeAll(async () => {
    database = await createTestDatabase(kind);
    const { db } = database;
    await createConsoleUser(db, { email: "compliance@scale.test", displayName: "Compliance Reviewer", roleCodes: ["compliance_reviewer"] });
    compliance = await contextFor(db, "compliance@scale.test");
    // About 800 bytes of CSV an event, so the whole export is far larger than the heap bound below.
    const detail = "Quarterly recertification of SI users, confirmed against the signed access form. ".repeat(7);
    const ctx = { actor: SYSTEM_ACTOR, requestId: "scale", ip: "198.51.100.7", userAgent: "scale-test" };
    for (let start = 0; start < ROWS; start += WRITE_BATCH) {
      const batch: AuditEventInput[] = Array.from({ length: Math.min(WRITE_BATCH, ROWS - start) }, (_, i) => ({
        action: "test.scale",
        entityType: "widget",
        entityId: `w-${start + i}`,
        participantId: (start + i) % 3 === 0 ? "S00001" : (start + i) % 3 === 1 ? "S00002" : null,
        reason: detail,
        metadata: { n: start + i },
      }));
      await db.transaction((tx) => appendAuditEvents(tx, ctx, batch));
    }
  }, 300_000);
  afterAll(async () => {
    await database?.drop();
  });

  it(`streams ${ROWS.toLocaleString("en")} events as CSV with the heap staying flat`, async () => {
    const gc = collector();
    const stream = await exportAudit(compliance, { action: "test.*" }, "csv");
    const reader = stream.getReader();
    const decoder = new TextDecoder();
    gc();
    const baseline = process.memoryUsage().heapUsed;
    let peakGrowth = 0;
    let peakRetained = 0;
    let bytes = 0;
    let chunks = 0;
    let lines = 0;
    let head = "";
    let tail = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks++;
      bytes += value.byteLength;
      for (const byte of value) if (byte === 0x0a) lines++;
      if (head.length < 4096) head += decoder.decode(value.subarray(0, 4096));
      tail = decoder.decode(value.subarray(Math.max(0, value.byteLength - 4096)));
      peakGrowth = Math.max(peakGrowth, process.memoryUsage().heapUsed - baseline);
      if (chunks % 10 === 0) {
        gc();
        peakRetained = Math.max(peakRetained, process.memoryUsage().heapUsed - baseline);
      }
    }
    const mb = (n: number) => (n / 1024 / 1024).toFixed(1);
    console.log(
      `large export [${kind}]: ${ROWS} events, ${mb(bytes)} MB of CSV in ${chunks} chunks; ` +
        `heapUsed at most ${mb(peakGrowth)} MB above the start (garbage included), ${mb(peakRetained)} MB kept after a full GC`,
    );

    expect(lines).toBe(ROWS + 1);
    expect(bytes).toBeGreaterThan(ROWS * 700);
    // Streamed in batches, not handed over in one piece.
    expect(chunks).toBeGreaterThan(ROWS / 1000);
    expect(peakGrowth).toBeLessThan(HEAP_BOUND);
    // What the export keeps is a small fraction of what it sends: nothing accumulates batch after batch.
    expect(peakRetained).toBeLessThan(bytes / 8);

    // Newest first: the first row is the last event written, the last row the first.
    const first = parse(head.slice(0, head.indexOf("\r\n", head.indexOf("\r\n") + 2) + 2), { columns: true }) as Record<string, string>[];
    expect(Object.keys(first[0]!)).toEqual([...EXPORT_COLUMNS]);
    expect(first[0]!.entity_id).toBe(`w-${ROWS - 1}`);
    const lastLine = tail.slice(tail.lastIndexOf("\r\n", tail.length - 3) + 2);
    const [last] = parse(lastLine) as string[][];
    expect(last![EXPORT_COLUMNS.indexOf("entity_id")]).toBe("w-0");
  }, 300_000);
});
