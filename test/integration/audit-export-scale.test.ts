import { sql } from "drizzle-orm";
import v8 from "node:v8";
import vm from "node:vm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "csv-parse/sync";
import { EXPORT_COLUMNS, exportAudit } from "../../app/modules/audit/explorer.server";
import type { ServiceContext } from "../../app/modules/context.server";
import { contextFor, createConsoleUser } from "../factories";
import { createTestDatabase, databaseKinds, type TestDatabase } from "../support/databases";

/**
 * A large export streams in batches: the heap stays flat however many events match (SPEC §8, "streamed"). Run once,
 * on PostgreSQL when the run has it (that is where large trails live), else on PGlite. EXPORT_SCALE_ROWS overrides
 * the number of events.
 */
const kind = databaseKinds().includes("postgres") ? "postgres" : "pglite";
const ROWS = Number(process.env.EXPORT_SCALE_ROWS ?? (kind === "postgres" ? 150_000 : 100_000));
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
    // About 800 bytes of CSV an event, so the whole export is far larger than the heap bound below. The events are
    // written by one SQL statement: the export reads rows and never checks the chain, and writing 150,000 events
    // through the chain writer took a minute of set-up (its speed is measured by bench/audit-chain.ts instead).
    const detail = "Quarterly recertification of SI users, confirmed against the signed access form. ".repeat(7);
    await db.execute(sql`
      insert into audit_events (chain_key, seq, occurred_at, actor_name, actor_persona, participant_id, action,
        entity_type, entity_id, reason, request_id, ip, user_agent, metadata, prev_hash, hash)
      select 'scale', n, timestamptz '2026-01-01 00:00:00+00' + n * interval '1 millisecond', 'OCP Console', 'system',
        case n % 3 when 0 then 'S00001' when 1 then 'S00002' end, 'test.scale', 'widget', 'w-' || n, ${detail},
        'scale', '198.51.100.7', 'scale-test', jsonb_build_object('n', n), repeat('0', 64), repeat('0', 64)
      from generate_series(0, ${ROWS - 1}::int) as n`);
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
