/**
 * Audit trail benchmark: append throughput (one writer; and several concurrent writers on PostgreSQL, each with
 * its own connection pool, as separate server processes would be) and verification speed.
 *
 *   npx tsx bench/audit-chain.ts                       # PGlite (in memory)
 *   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npx tsx bench/audit-chain.ts
 *
 * Figures go to docs/performance.md.
 */
import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { openDatabase, type DatabaseHandle } from "../db/client.server";
import { migrateDatabase } from "../db/migrate.server";
import { appendAuditEvent, verifyAuditChains } from "../app/modules/audit/service.server";
import { SYSTEM_ACTOR } from "../app/modules/context.server";

const EVENTS = Number(process.env.BENCH_EVENTS ?? 5000);
const WRITERS = Number(process.env.BENCH_WRITERS ?? 8);
const adminUrl = process.env.BENCH_DATABASE_URL;

const ctx = { actor: SYSTEM_ACTOR, requestId: "bench", ip: "127.0.0.1", userAgent: "bench" };

async function appendMany(handle: DatabaseHandle, count: number, chains: string[]) {
  for (let i = 0; i < count; i++) {
    await handle.db.transaction((tx) =>
      appendAuditEvent(tx, ctx, {
        action: "case.step.note_added",
        entityType: "bench",
        entityId: String(i),
        participantId: chains[i % chains.length],
        changes: { field: { before: i, after: i + 1 } },
      }),
    );
  }
}

function rate(n: number, ms: number) {
  return `${n} events in ${ms.toFixed(0)} ms = ${((n / ms) * 1000).toFixed(0)} events/s`;
}

async function main() {
  let handle: DatabaseHandle;
  let drop = async () => {};
  let url: string | undefined;
  if (adminUrl) {
    const name = `ocp_bench_${randomBytes(4).toString("hex")}`;
    const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create database ${name}`);
    const u = new URL(adminUrl);
    u.pathname = `/${name}`;
    url = u.toString();
    handle = openDatabase({ databaseUrl: url });
    drop = async () => {
      await admin.unsafe(`drop database ${name} with (force)`);
      await admin.end();
    };
  } else {
    handle = openDatabase({ dataDir: "memory://" });
  }
  await migrateDatabase(handle);
  console.log(`database: ${handle.kind}`);

  let t = performance.now();
  await appendMany(handle, EVENTS, ["B01234", "C00123", "A00003"]);
  console.log(`append, 1 writer:  ${rate(EVENTS, performance.now() - t)}`);

  if (url) {
    const pools = Array.from({ length: WRITERS }, () => openDatabase({ databaseUrl: url, maxConnections: 2 }));
    t = performance.now();
    await Promise.all(pools.map((p) => appendMany(p, Math.floor(EVENTS / WRITERS), ["B01234", "C00123", "A00003"])));
    console.log(`append, ${WRITERS} writers: ${rate(Math.floor(EVENTS / WRITERS) * WRITERS, performance.now() - t)}`);
    await Promise.all(pools.map((p) => p.close()));
  }

  t = performance.now();
  const reports = await verifyAuditChains(handle.db);
  const total = reports.reduce((n, r) => n + r.events, 0);
  console.log(`verify:            ${rate(total, performance.now() - t)}; all intact: ${reports.every((r) => r.ok)}`);
  const mem = process.memoryUsage();
  console.log(`rss ${(mem.rss / 2 ** 20).toFixed(0)} MiB, heap used ${(mem.heapUsed / 2 ** 20).toFixed(0)} MiB`);
  await handle.close();
  await drop();
}

await main();
