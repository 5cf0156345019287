import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { pathToFileURL } from "node:url";
import type { ServerBuild } from "@remix-run/node";
import pino from "pino";
import { loadConfig } from "../app/env.server";
import { createApp } from "../server/app";
import { sql } from "drizzle-orm";
import postgres from "postgres";
import { canonicalEventParts, GENESIS_HASH } from "../app/modules/audit/hash.server";
import { openDatabase, type Database, type DatabaseHandle } from "../db/client.server";
import { migrateDatabase } from "../db/migrate.server";

/**
 * A fresh, migrated database for a benchmark: PGlite in memory, or a new PostgreSQL database (dropped at the end)
 * when BENCH_DATABASE_URL is set. BENCH_KEEP_DATABASE=1 keeps a PostgreSQL one and prints its URL.
 */
export async function benchDatabase(): Promise<{ handle: DatabaseHandle; url?: string; drop(): Promise<void> }> {
  const adminUrl = process.env.BENCH_DATABASE_URL;
  if (!adminUrl) {
    const handle = openDatabase({ dataDir: "memory://" });
    await migrateDatabase(handle);
    return { handle, drop: () => handle.close() };
  }
  const name = `ocp_bench_${randomBytes(4).toString("hex")}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  const handle = openDatabase({ databaseUrl: u.toString() });
  await migrateDatabase(handle);
  return {
    handle,
    url: u.toString(),
    drop: async () => {
      await handle.close();
      if (process.env.BENCH_KEEP_DATABASE === "1") console.log(`kept ${u.toString()}`);
      else await admin.unsafe(`drop database ${name} with (force)`);
      await admin.end();
    },
  };
}

export function ms(start: number): string {
  return `${(performance.now() - start).toFixed(0)} ms`;
}

export function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(0)} MiB`;
}

const MARK = "\u0001entity\u0001";

/**
 * A large audit history with valid chains, fast: for each chain P00000… a recursive query hashes event after event
 * in the database with the canonical form the console writes (canonicalEventParts: the text around the seq and the
 * previous hash), so verification recomputes every hash as it would on real data. Events of a chain differ by seq,
 * previous hash and entity id; the JSON columns carry a typical change and metadata. Answers the number written.
 */
export async function generateAuditChains(db: Database, events: number, chains: number): Promise<number> {
  const perChain = Math.floor(events / chains);
  const occurredAt = new Date("2026-06-01T02:00:00.000Z");
  for (let c = 0; c < chains; c++) {
    const chainKey = `P${String(c).padStart(5, "0")}`;
    const fields = {
      chainKey,
      occurredAt,
      actorUserId: "5b1d8f0e-3c2a-4d7e-9f10-1a2b3c4d5e6f",
      actorName: "Chris Checker (P00001)",
      actorPersona: "da_checker",
      onBehalfOfUserId: null,
      ticketRef: null,
      participantId: chainKey,
      action: "role.grant.approved",
      entityType: "grant_request",
      entityId: MARK,
      changes: { status: { before: "pending", after: "approved" }, decidedBy: { before: null, after: "u-2" } },
      reason: null,
      requestId: "0f9e8d7c-6b5a-4938-8271-605f4e3d2c1b",
      ip: "203.0.113.7",
      userAgent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
      metadata: { userId: "user-4242", roleCode: "si_maker", source: "queue" },
    };
    const [a, b, c2] = canonicalEventParts(fields);
    const marked = JSON.stringify(MARK);
    const cut = a.indexOf(marked);
    const a1 = a.slice(0, cut + 1);
    const a2 = a.slice(cut + marked.length - 1);
    await db.execute(sql`insert into audit_events (chain_key, seq, occurred_at, actor_user_id, actor_name, actor_persona, participant_id,
        action, entity_type, entity_id, changes, request_id, ip, user_agent, metadata, prev_hash, hash)
      with recursive c(seq, prev_hash, hash) as (
        select 1::bigint, ${GENESIS_HASH}::text,
          encode(sha256(convert_to(${a1}::text || 'entity-1' || ${a2}::text || ${GENESIS_HASH}::text || ${b}::text || '1' || ${c2}::text, 'UTF8')), 'hex')
        union all
        select c.seq + 1, c.hash,
          encode(sha256(convert_to(${a1}::text || 'entity-' || (c.seq + 1)::text || ${a2}::text || c.hash || ${b}::text || (c.seq + 1)::text || ${c2}::text, 'UTF8')), 'hex')
        from c where c.seq < ${perChain}::bigint)
      select ${chainKey}::text, seq, ${occurredAt.toISOString()}::timestamptz, ${fields.actorUserId}::text, ${fields.actorName}::text,
        ${fields.actorPersona}::text, ${chainKey}::text, ${fields.action}::text, ${fields.entityType}::text, 'entity-' || seq,
        ${JSON.stringify(fields.changes)}::jsonb, ${fields.requestId}::text, ${fields.ip}::text, ${fields.userAgent}::text,
        ${JSON.stringify(fields.metadata)}::jsonb, prev_hash, hash
      from c`);
    await db.execute(sql`insert into audit_chain_heads (chain_key, last_seq, last_hash)
      select chain_key, seq, hash from audit_events where chain_key = ${chainKey}::text order by seq desc limit 1`);
  }
  return perChain * chains;
}

/**
 * The built console (`npx remix build` first) on an ephemeral loopback port over `db`, demo mode, silent logs: what
 * the HTTP benchmarks measure beside the bare page.
 */
export async function startBuiltConsole(db: Database): Promise<{ base: string; close(): void }> {
  const build = (await import(pathToFileURL(path.resolve("build/index.js")).href)) as ServerBuild;
  const config = loadConfig({ NODE_ENV: "test", DEMO_MODE: "1", LOG_LEVEL: "silent" });
  const server = createApp({ db, config, build, logger: pino({ level: "silent" }) }).listen(0, "127.0.0.1");
  await new Promise<void>((resolve) => server.once("listening", () => resolve()));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}
