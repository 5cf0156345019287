/**
 * Audit explorer and export at scale: generates a large audit history through appendAuditEvents (the real hash
 * chains, 50 participants and the platform chain), then times the explorer's first page, a page deep in the
 * history (keyset), filtered views, and a streamed CSV export of everything, sampling the heap while it streams.
 *
 *   BENCH_EVENTS=200000 npx tsx bench/audit-explorer.ts                      # PGlite
 *   BENCH_EVENTS=1000000 BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npx tsx bench/audit-explorer.ts
 */
import type { AuditAction } from "../app/modules/audit/actions";
import { sql } from "drizzle-orm";
import { appendAuditEvents, type AuditEventInput } from "../app/modules/audit/service.server";
import { exploreAudit, exportAudit, encodeCursor } from "../app/modules/audit/explorer.server";
import { permissionsFor } from "../app/auth/permissions";
import type { ServiceContext } from "../app/modules/context.server";
import { participants } from "../db/schema";
import { benchDatabase, mib, ms } from "./support";

const EVENTS = Number(process.env.BENCH_EVENTS ?? 200_000);
const PARTICIPANTS = 50;
const BATCH = 5000;
const ACTIONS: AuditAction[] = ["role.grant.requested", "role.grant.approved", "role.grant.created", "user.created", "case.step.submitted", "case.step.approved", "auth.sign_in.succeeded"];

const { handle, drop } = await benchDatabase();
const db = handle.db;
const ids = Array.from({ length: PARTICIPANTS }, (_, i) => `P${String(i).padStart(5, "0")}`);
await db.insert(participants).values(ids.map((id) => ({ id, nameEn: `Bench ${id}`, nameZh: `測試 ${id}`, type: "GCP" as const })));

const writer = { actor: { userId: "bench-user", displayName: "Bench Writer", email: null, participantId: null, persona: "officer" as const, personas: [], permissions: new Set<never>(), sessionId: null }, requestId: "bench", ip: "127.0.0.1", userAgent: "bench" };
let t = performance.now();
for (let done = 0; done < EVENTS; done += BATCH) {
  const inputs: AuditEventInput[] = [];
  for (let i = done; i < Math.min(done + BATCH, EVENTS); i++) {
    inputs.push({
      action: ACTIONS[i % ACTIONS.length]!,
      entityType: i % 3 === 0 ? "user" : "grant_request",
      entityId: `entity-${i % 20000}`,
      participantId: i % 11 === 0 ? null : ids[i % PARTICIPANTS],
      changes: { status: { before: "pending", after: "approved" } },
      metadata: { userId: `user-${i % 5000}`, n: i },
    });
  }
  await db.transaction((tx) => appendAuditEvents(tx, writer, inputs));
}
console.log(`database ${handle.kind}: generated ${EVENTS} events in ${ms(t)}`);
if (handle.kind === "postgres") await db.execute(sql`analyze audit_events`);

const compliance: ServiceContext = {
  db,
  actor: { userId: "bench-compliance", displayName: "Bench Compliance", email: null, participantId: null, persona: "compliance", personas: ["compliance"], permissions: permissionsFor(["compliance"]), sessionId: null },
  requestId: "bench",
  ip: null,
  userAgent: null,
};

async function timed(label: string, fn: () => Promise<unknown>, repeat = 5) {
  const times: number[] = [];
  for (let i = 0; i < repeat; i++) {
    const s = performance.now();
    await fn();
    times.push(performance.now() - s);
  }
  times.sort((a, b) => a - b);
  console.log(`${label.padEnd(44)} median ${times[Math.floor(times.length / 2)]!.toFixed(1)} ms, max ${times[times.length - 1]!.toFixed(1)} ms`);
}

await timed("explorer: first page (all)", () => exploreAudit(compliance, {}, null, 50));
// A cursor deep in the history: the event at about 80% of it, found once; keyset pages from there cost the same.
const deepRows = await db.execute<{ occurred_at: string; id: number }>(
  sql`select occurred_at, id from audit_events order by occurred_at desc, id desc offset ${Math.floor(EVENTS * 0.8)} limit 1`,
);
const deep = (Array.isArray(deepRows) ? deepRows : (deepRows as { rows: unknown[] }).rows)[0] as { occurred_at: string | Date; id: number | string };
const deepCursor = encodeCursor({ occurredAt: new Date(deep.occurred_at), id: Number(deep.id) });
await timed("explorer: page at 80% of the history (keyset)", () => exploreAudit(compliance, {}, deepCursor, 50));
await timed("explorer: one participant, first page", () => exploreAudit(compliance, { participantId: "P00007" }, null, 50));
await timed("explorer: one action, first page", () => exploreAudit(compliance, { action: "case.step.approved" }, null, 50));
await timed("explorer: events about one user", () => exploreAudit(compliance, { userId: "user-42" }, null, 50));
await timed("explorer: one entity's history", () => exploreAudit(compliance, { entityType: "user", entityId: "entity-3" }, null, 50));

for (const format of ["csv", "jsonl"] as const) {
  global.gc?.();
  const baseline = process.memoryUsage().heapUsed;
  let peak = baseline;
  let bytes = 0;
  t = performance.now();
  const stream = await exportAudit(compliance, {}, format);
  const reader = stream.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    bytes += value.byteLength;
    peak = Math.max(peak, process.memoryUsage().heapUsed);
  }
  console.log(`export ${format.padEnd(5)} all ${EVENTS} events: ${ms(t)}, ${mib(bytes)} written, heap peak +${mib(peak - baseline)} over ${mib(baseline)}`);
}
console.log(`rss at the end ${mib(process.memoryUsage().rss)}`);
await drop();
