/**
 * `audit:verify` at volume (issue 16: at least 200,000 events/s on 1,000,000 events), on events generated in SQL
 * with valid chains (generateAuditChains in support.ts).
 *
 *   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npx tsx bench/audit-verify.ts
 *   BENCH_EVENTS=200000 npx tsx bench/audit-verify.ts                          # PGlite
 *
 * Env: BENCH_EVENTS (1,000,000), BENCH_CHAINS (50), BENCH_RUNS (3), BENCH_BEFORE=0 skips the walk as it was before
 * issue 16. On PostgreSQL each run times, side by side, the walk before issue 16, the one-thread walk (workers: 0)
 * and the default (COPY ranges hashed in worker threads).
 */
import { loadavg } from "node:os";
import { and, asc, eq, gt, sql } from "drizzle-orm";
import { eventHash, GENESIS_HASH } from "../app/modules/audit/hash.server";
import { verifyAuditChains } from "../app/modules/audit/service.server";
import { verifyWorkerCount } from "../app/modules/audit/verify-workers.server";
import { auditEvents } from "../db/schema";
import { benchDatabase, generateAuditChains, ms } from "./support";

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const CHAINS = Number(process.env.BENCH_CHAINS ?? 50);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const { handle, drop } = await benchDatabase();
const db = handle.db;
let t = performance.now();
const total = await generateAuditChains(db, EVENTS, CHAINS);
if (handle.kind === "postgres") await db.execute(sql`vacuum analyze audit_events`);
console.log(`database ${handle.kind}: generated ${total} events in ${CHAINS} chains in ${ms(t)}`);
const perChain = total / CHAINS;

/** verifyAuditChains as it was before issue 16: one chain at a time, mapped rows, canonicalize per event, serial batches. */
async function verifyBefore(): Promise<number> {
  const keys = (await db.selectDistinct({ chainKey: auditEvents.chainKey }).from(auditEvents)).map((c) => c.chainKey).sort();
  let total = 0;
  for (const chainKey of keys) {
    let expected = 1;
    let prev = GENESIS_HASH;
    for (let after = 0; ; ) {
      const batch = await db.select().from(auditEvents).where(and(eq(auditEvents.chainKey, chainKey), gt(auditEvents.seq, after))).orderBy(asc(auditEvents.seq)).limit(2000);
      for (const e of batch) {
        if (e.seq !== expected || e.prevHash !== prev || eventHash(e) !== e.hash) throw new Error(`broken at ${chainKey} #${e.seq}`);
        prev = e.hash;
        expected++;
        total++;
      }
      if (batch.length < 2000) break;
      after = batch[batch.length - 1]!.seq;
    }
  }
  return total;
}

for (let run = 1; run <= RUNS; run++) {
  if (process.env.BENCH_BEFORE !== "0") {
    t = performance.now();
    const events = await verifyBefore();
    const elapsed = performance.now() - t;
    console.log(`verify before issue 16, run ${run}: ${events} events in ${elapsed.toFixed(0)} ms = ${((events / elapsed) * 1000).toFixed(0)} events/s`);
  }
  // "one thread" is the walk before the worker threads (PGlite's walk, or workers: 0); "now" is the default.
  const modes: [label: string, workers: number | undefined][] = handle.kind === "postgres" ? [["one thread", 0], [`now (${verifyWorkerCount()} workers)`, undefined]] : [["now", undefined]];
  for (const [label, workers] of modes) {
    t = performance.now();
    const reports = await verifyAuditChains(db, 5000, { workers });
    const elapsed = performance.now() - t;
    const events = reports.reduce((n, r) => n + r.events, 0);
    const bad = reports.filter((r) => !r.ok);
    console.log(`verify ${label}, run ${run}: ${events} events in ${elapsed.toFixed(0)} ms = ${((events / elapsed) * 1000).toFixed(0)} events/s; intact: ${bad.length === 0}${bad.length ? ` (${JSON.stringify(bad[0])})` : ""}; load average ${loadavg()[0]!.toFixed(1)}`);
  }
}

// Still names the first bad event: alter one event deep in one chain.
await db.transaction(async (tx) => {
  await tx.execute(sql`set local session_replication_role = replica`); // past the trigger that refuses changes
  await tx.execute(sql`update audit_events set actor_name = 'Someone Else' where chain_key = 'P00003' and seq = ${Math.floor(perChain * 0.7)}::bigint`);
});
const broken = (await verifyAuditChains(db)).filter((r) => !r.ok);
console.log(`after altering P00003 #${Math.floor(perChain * 0.7)}: ${JSON.stringify(broken)}`);
console.log(`rss at the end ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`);
await drop();
