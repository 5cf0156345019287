/**
 * Audit export over HTTP at volume (issue 16: CSV and JSON lines at 100,000 rows/s or more at 1,000,000+ events,
 * server memory growth under 100 MB). The demo (for a compliance officer's session) plus BENCH_EVENTS events
 * generated in SQL (generateAuditChains); the built console serves /activity/export on loopback in this process, so
 * the memory sampled while the body streams is the server's, and the client (bench/export-reader.mjs) reads the
 * body in a child process of its own, so it does not share the server's thread. The bare sign-in page is timed in
 * the same run. BENCH_REUSE_URL reuses a database kept by an earlier run (BENCH_KEEP_DATABASE=1).
 *
 *   npx remix build
 *   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npx tsx --expose-gc bench/audit-export.ts
 */
import { spawn } from "node:child_process";
import os from "node:os";
import { stringify } from "csv-stringify/sync";
import { desc, sql } from "drizzle-orm";
import { permissionsFor } from "../app/auth/permissions";
import { EXPORT_COLUMNS, exportAudit, inertCell } from "../app/modules/audit/explorer.server";
import type { ServiceContext } from "../app/modules/context.server";
import { openDatabase, rowsOf } from "../db/client.server";
import { auditEvents, type AuditEvent } from "../db/schema";
import { seedDemo } from "../db/seed";
import { createVerifiedSession } from "../test/support/sessions";
import { benchDatabase, generateAuditChains, mib, ms, startBuiltConsole } from "./support";

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const REUSE = process.env.BENCH_REUSE_URL; // a database kept by an earlier run (BENCH_KEEP_DATABASE=1)
const RUNS = Number(process.env.BENCH_RUNS ?? 2);
// BENCH_IN_PROCESS=0 leaves out the in-process comparison with the export as it was before issue 16.

const { handle, drop } = REUSE ? (() => { const h = openDatabase({ databaseUrl: REUSE }); return { handle: h, drop: () => h.close() }; })() : await benchDatabase();
const db = handle.db;
let t = performance.now();
if (!REUSE) {
  await seedDemo(db, null);
  await generateAuditChains(db, EVENTS, 50);
  if (handle.kind === "postgres") await db.execute(sql`vacuum analyze audit_events`);
}
const [{ n: total }] = rowsOf<{ n: number }>(await db.execute(sql`select count(*)::int as n from audit_events`)) as [{ n: number }];
console.log(`database ${handle.kind}: demo and ${total} events in ${ms(t)}`);

const server = await startBuiltConsole(db);
const base = server.base;
const [{ id: complianceId }] = rowsOf<{ id: string }>(await db.execute(sql`select id from users where email = 'compliance@hkex.demo'`)) as [{ id: string }];
const cookie = `ocp_session=${await createVerifiedSession(db, "compliance@hkex.demo")}`;

const bare: number[] = [];
for (let i = 0; i < 22; i++) {
  const s = performance.now();
  await (await fetch(`${base}/login`)).arrayBuffer();
  if (i >= 2) bare.push(performance.now() - s);
}
bare.sort((a, b) => a - b);
console.log(`bare page /login: median ${bare[10]!.toFixed(1)} ms`);

/** The export read by bench/export-reader.mjs in a process of its own; it times the request to the last byte. */
async function readInChild(url: string): Promise<{ status: number; bytes: number; lines: number; ms: number }> {
  const child = spawn(process.execPath, [new URL("./export-reader.mjs", import.meta.url).pathname, url], {
    env: { ...process.env, EXPORT_COOKIE: cookie },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout.setEncoding("utf8").on("data", (s: string) => (out += s));
  const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
  if (code !== 0) throw new Error(`export reader exited with ${code}`);
  return JSON.parse(out) as { status: number; bytes: number; lines: number; ms: number };
}

console.log(`load average ${os.loadavg().map((l) => l.toFixed(1)).join(" ")} (${os.cpus().length} cores)`);
console.log(`| format | run | rows | time | rows/s | size | heap growth (peak) | rss growth (peak) |\n|---|---|---|---|---|---|---|---|`);
for (const format of ["csv", "jsonl"] as const) {
  for (let run = 1; run <= RUNS; run++) {
    global.gc?.();
    const heap0 = process.memoryUsage().heapUsed;
    const rss0 = process.memoryUsage().rss;
    let heapPeak = heap0;
    let rssPeak = rss0;
    const sampler = setInterval(() => {
      const m = process.memoryUsage();
      heapPeak = Math.max(heapPeak, m.heapUsed);
      rssPeak = Math.max(rssPeak, m.rss);
    }, 50);
    const { status, bytes, lines, ms: elapsed } = await readInChild(`${base}/activity/export?format=${format}`);
    clearInterval(sampler);
    if (status !== 200) throw new Error(`export ${format}: ${status}`);
    const rows = format === "csv" ? lines - 1 : lines;
    console.log(
      `| ${format} | ${run} | ${rows} | ${(elapsed / 1000).toFixed(1)} s | ${Math.round((rows / elapsed) * 1000)} | ${mib(bytes)} | +${mib(heapPeak - heap0)} | +${mib(rssPeak - rss0)} |`,
    );
  }
}
// In process, without HTTP, side by side: the export as it was before issue 16 (mapped rows, csv-stringify once per
// row, one batch of 1,000 fetched after the previous one was encoded) and exportAudit as it is now.
const compliance: ServiceContext = {
  db,
  actor: { userId: complianceId, displayName: "Bench Compliance", email: null, participantId: null, persona: "compliance", personas: ["compliance"], permissions: permissionsFor(["compliance"]), sessionId: null },
  requestId: "bench",
  ip: null,
  userAgent: null,
};
function beforeRecord(e: AuditEvent) {
  return { id: e.id, occurred_at: e.occurredAt.toISOString(), chain: e.chainKey, seq: e.seq, participant_id: e.participantId, actor_user_id: e.actorUserId, actor_name: e.actorName, actor_persona: e.actorPersona, on_behalf_of_user_id: e.onBehalfOfUserId, ticket_ref: e.ticketRef, action: e.action, entity_type: e.entityType, entity_id: e.entityId, reason: e.reason, changes: e.changes, metadata: e.metadata, request_id: e.requestId, ip: e.ip, user_agent: e.userAgent, hash: e.hash };
}
async function* before(format: "csv" | "jsonl"): AsyncGenerator<Uint8Array> {
  const encoder = new TextEncoder();
  if (format === "csv") yield encoder.encode(stringify([EXPORT_COLUMNS as unknown as string[]], { record_delimiter: "\r\n" }));
  let cursor: { occurredAt: Date; id: number } | null = null;
  for (;;) {
    const rows: AuditEvent[] = await db
      .select()
      .from(auditEvents)
      .where(cursor ? sql`(${auditEvents.occurredAt}, ${auditEvents.id}) < (${cursor.occurredAt.toISOString()}::timestamptz, ${cursor.id}::bigint)` : undefined)
      .orderBy(desc(auditEvents.occurredAt), desc(auditEvents.id))
      .limit(1000);
    if (rows.length === 0) return;
    cursor = { occurredAt: rows[rows.length - 1]!.occurredAt, id: rows[rows.length - 1]!.id };
    yield encoder.encode(
      rows
        .map((e) => {
          const r = beforeRecord(e);
          if (format === "jsonl") return `${JSON.stringify(r)}\n`;
          const cells = EXPORT_COLUMNS.map((c) => {
            const v = r[c];
            if (v === null || v === undefined) return "";
            return inertCell(typeof v === "object" ? JSON.stringify(v) : String(v));
          });
          return stringify([cells], { record_delimiter: "\r\n", quoted_match: /[\r\n]/ });
        })
        .join(""),
    );
    if (rows.length < 1000) return;
  }
}
if (process.env.BENCH_IN_PROCESS !== "0") console.log(`\nin process, no HTTP:\n| format | export | rows/s | size |\n|---|---|---|---|`);
for (const format of process.env.BENCH_IN_PROCESS === "0" ? [] : (["csv", "jsonl"] as const)) {
  for (const [label, source] of [
    ["before", () => before(format)],
    ["now", async function* () { const reader = (await exportAudit(compliance, {}, format)).getReader(); for (;;) { const { value, done } = await reader.read(); if (done) return; yield value; } }],
  ] as const) {
    t = performance.now();
    let bytes = 0;
    let lines = 0;
    for await (const chunk of source()) {
      bytes += chunk.byteLength;
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
    }
    const rows = format === "csv" ? lines - 1 : lines;
    console.log(`| ${format} | ${label} | ${Math.round((rows / (performance.now() - t)) * 1000)} | ${mib(bytes)} |`);
  }
}

console.log(`load average ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}`);
server.close();
await drop();
