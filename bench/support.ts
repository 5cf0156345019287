import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { pathToFileURL } from "node:url";
import type { ServerBuild } from "@remix-run/node";
import pino from "pino";
import { loadConfig } from "../app/env.server";
import { createApp } from "../server/app";
import { sql, type SQL } from "drizzle-orm";
import postgres from "postgres";
import { canonicalEventParts, GENESIS_HASH } from "../app/modules/audit/hash.server";
import { openDatabase, type Database, type DatabaseHandle } from "../db/client.server";
import { migrateDatabase } from "../db/migrate.server";
import { rollUpAuditDays } from "../app/modules/audit/activity.server";

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
export async function generateAuditChains(db: Database, events: number, chains: number, options: { firstChain?: number; spreadTimes?: boolean } = {}): Promise<number> {
  const perChain = Math.floor(events / chains);
  const occurredAt = new Date("2026-06-01T02:00:00.000Z");
  const first = options.firstChain ?? 0;
  for (let c = first; c < first + chains; c++) {
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
    const rest = a.slice(cut + marked.length - 1);
    // With spreadTimes, event n of chain c happens (perChain - n) × 10 minutes + c seconds before occurredAt, so the
    // history spans months and the time-ordered indexes have real work; the text is the time's toISOString().
    const iso = occurredAt.toISOString();
    const timeAt = rest.indexOf(`"${iso}"`) + 1;
    const a2 = options.spreadTimes ? rest.slice(0, timeAt) : rest;
    const a3 = options.spreadTimes ? rest.slice(timeAt + iso.length) : "";
    const at = (seq: SQL) =>
      options.spreadTimes
        ? sql`(${iso}::timestamptz - (${perChain}::bigint - ${seq}) * interval '10 minutes' + ${c - first}::int * interval '1 second')`
        : sql`${iso}::timestamptz`;
    const isoOf = (seq: SQL) => (options.spreadTimes ? sql`to_char(${at(seq)} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') || ${a3}::text` : sql`''`);
    await db.execute(sql`insert into audit_events (chain_key, seq, occurred_at, actor_user_id, actor_name, actor_persona, participant_id,
        action, entity_type, entity_id, changes, request_id, ip, user_agent, metadata, prev_hash, hash)
      with recursive c(seq, prev_hash, hash) as (
        select 1::bigint, ${GENESIS_HASH}::text,
          encode(sha256(convert_to(${a1}::text || 'entity-1' || ${a2}::text || ${isoOf(sql`1`)} || ${GENESIS_HASH}::text || ${b}::text || '1' || ${c2}::text, 'UTF8')), 'hex')
        union all
        select c.seq + 1, c.hash,
          encode(sha256(convert_to(${a1}::text || 'entity-' || (c.seq + 1)::text || ${a2}::text || ${isoOf(sql`(c.seq + 1)`)} || c.hash || ${b}::text || (c.seq + 1)::text || ${c2}::text, 'UTF8')), 'hex')
        from c where c.seq < ${perChain}::bigint)
      select ${chainKey}::text, seq, ${at(sql`seq`)}, ${fields.actorUserId}::text, ${fields.actorName}::text,
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
 * The market-scale volume over the demo seed (seedDemo first), in a few set-based statements: participants P00001…
 * each with its onboarding case spread over every step, users spread over them, grants of the participant roles, and
 * E00789's extra pending requests (its checker's queue).
 */
export async function generateMarket(db: Database, o: { participants: number; users: number; grants: number; pending: number }): Promise<void> {
  await db.execute(sql`
    insert into participants (id, name_en, name_zh, type, status)
    select 'P' || lpad(i::text, 5, '0'), 'Bench Securities ' || i || ' Limited', '測試證券' || i || '有限公司',
           (array['GCP','DCP','CUSTODIAN'])[1 + i % 3], (array['prospect','onboarding','live'])[1 + i % 3]
    from generate_series(1, ${o.participants}) as i`);
  // Each participant's case: the first k steps approved, step k+1 in progress (a quarter of them overdue), the rest
  // locked; k = i mod 9, so every column of the pipeline holds about a ninth of them and a ninth are live.
  await db.execute(sql`
    insert into onboarding_steps (participant_id, step_key, state, due_date)
    select 'P' || lpad(i::text, 5, '0'), k.key,
           case when k.n0 - 1 < i % 9 then 'approved' when k.n0 - 1 = i % 9 then 'in_progress' else 'locked' end,
           case when k.n0 - 1 = i % 9 and i % 4 = 0 then current_date - 3 when k.n0 - 1 = i % 9 then current_date + 10 else null end
    from generate_series(1, ${o.participants}) as i,
         unnest(array['application','admin_nomination','admin_activation','users_and_roles','test_credentials','api_certification','readiness_verification','production_enablement']) with ordinality as k(key, n0)`);
  await db.execute(sql`
    insert into users (id, email, display_name, participant_id, status, last_sign_in_at)
    select 'bench-user-' || i, 'staff' || i || '@bench' || (i % ${o.participants} + 1) || '.example',
           (array['Chan','Wong','Lee','Cheung','Lau','Ho','Ng','Leung'])[1 + i % 8] || ' ' ||
           (array['Ada','Brian','Cindy','Daniel','Elaine','Felix','Grace','Henry','Iris','Jason'])[1 + (i / 8) % 10] || ' ' || i,
           'P' || lpad((i % ${o.participants} + 1)::text, 5, '0'),
           (array['active','active','active','invited','suspended'])[1 + i % 5],
           case when i % 3 = 0 then null else now() - (i % 1000) * interval '1 hour' end
    from generate_series(1, ${o.users}) as i`);
  await db.execute(sql`
    insert into role_grants (id, user_id, role_code, participant_id, status, valid_from, source)
    select 'bench-grant-' || g, 'bench-user-' || (g % ${o.users} + 1),
           (array['trade_info_viewer','ref_data_viewer','si_status_subscriber','si_maker','si_checker'])[1 + (g / ${o.users}) % 5],
           'P' || lpad(((g % ${o.users} + 1) % ${o.participants} + 1)::text, 5, '0'), 'active', now() - interval '30 days', 'seed'
    from generate_series(0, ${o.grants - 1}) as g`);
  await db.execute(sql`
    insert into users (id, email, display_name, participant_id, status)
    select 'bench-e-' || i, 'queue' || i || '@tsimshatsui.example', 'Queue Person ' || i, 'E00789', 'invited'
    from generate_series(1, ${o.pending}) as i`);
  await db.execute(sql`
    insert into grant_requests (id, participant_id, user_id, role_code, status, source, requested_by, requested_at)
    select 'bench-req-' || i, 'E00789', 'bench-e-' || i, 'trade_info_viewer', 'pending', 'import',
           (select id from users where email = 'maker@e00789.demo'), now() - (i * interval '1 second')
    from generate_series(1, ${o.pending}) as i`);
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

/**
 * The issue's large data set on PostgreSQL: the demo, then 1,000 participants with their cases, 50,000 users,
 * 250,000 grants, 5,000 pending requests for E00789's checker, and 1,500,000 audit events in valid chains (one
 * chain per generated participant, P00001…, spread over months), vacuumed and analysed. BENCH_LARGE_URL names a
 * database generated before (kept with BENCH_KEEP_DATABASE=1) to reuse as it is, migrated to the newest schema.
 */
export async function largeDatabase(): Promise<{ handle: DatabaseHandle; url: string; drop(): Promise<void> }> {
  const reuse = process.env.BENCH_LARGE_URL;
  if (reuse) {
    const handle = openDatabase({ databaseUrl: reuse });
    // A set generated before a later migration (an index, say) gets it now, so the pages are measured as shipped.
    await migrateDatabase(handle);
    console.log(`reusing ${reuse}`);
    await rollUp(handle.db);
    return { handle, url: reuse, drop: () => handle.close() };
  }
  process.env.BENCH_DATABASE_URL ??= "postgres://postgres@127.0.0.1:5432/postgres";
  const { handle, url, drop } = await benchDatabase();
  const db = handle.db;
  const participants = Number(process.env.BENCH_PARTICIPANTS ?? 1000);
  const events = Number(process.env.BENCH_EVENTS ?? 1_500_000);
  let t = performance.now();
  const { seedDemo } = await import("../db/seed");
  await seedDemo(db, null);
  await generateMarket(db, { participants, users: Number(process.env.BENCH_USERS ?? 50_000), grants: Number(process.env.BENCH_GRANTS ?? 250_000), pending: 5000 });
  console.log(`demo and market generated in ${ms(t)}`);
  t = performance.now();
  const written = await generateAuditChains(db, events, participants, { firstChain: 1, spreadTimes: true });
  await db.execute(sql`vacuum analyze`);
  console.log(`${written} audit events generated and the database analysed in ${ms(t)}`);
  await rollUp(db);
  return { handle, url: url!, drop };
}

/** The explorer's per-day rollup brought up to date, as the jobs runner keeps it (hourly) on a running console. */
async function rollUp(db: Database): Promise<void> {
  const t = performance.now();
  let days = 0;
  for (let n = -1; n !== 0; days += n) n = await rollUpAuditDays(db);
  if (days) console.log(`${days} closed days of audit events rolled up in ${ms(t)}`);
}

/** One account per persona; E00789's checker has the 5,000 pending requests of the large set. */
export const PERSONAS: [persona: string, email: string][] = [
  ["officer", "officer@hkex.demo"],
  ["compliance", "compliance@hkex.demo"],
  ["helpdesk", "helpdesk@hkex.demo"],
  ["platform_admin", "platform@hkex.demo"],
  ["da_maker", "maker@e00789.demo"],
  ["da_checker", "checker@e00789.demo"],
];
/** Pages beyond the main navigation worth measuring at the large set: a case page, a user page, a deep list. */
const EXTRA_PAGES: Record<string, string[]> = {
  officer: ["/participants/P00500", "/pipeline?step=users_and_roles&page=3"],
  // The access report opens market-wide with its prompt (the navigation's /reports); these are the lists behind it:
  // one participant's grants, and one role's across the market (50,000 grants of si_maker at the large set).
  compliance: ["/participants/P00500", "/reports?report=access&participantId=P00500", "/reports?report=access&role=si_maker"],
  helpdesk: ["/users/bench-user-777", "/users?q=cheung"],
};

/**
 * Each persona's main pages at `base`: the links of its main navigation, read from its home page as it renders,
 * plus EXTRA_PAGES; each with a signed-in session cookie for the persona's account.
 */
export async function mainPages(db: Database, base: string, only?: string[]): Promise<{ persona: string; path: string; cookie: string }[]> {
  const { createVerifiedSession } = await import("../test/support/sessions");
  const jobs: { persona: string; path: string; cookie: string }[] = [];
  for (const [persona, email] of PERSONAS) {
    if (only && !only.includes(persona)) continue;
    const cookie = `ocp_session=${await createVerifiedSession(db, email)}`;
    const res = await fetch(`${base}/`, { headers: { Cookie: cookie }, redirect: "manual" });
    const home = await res.text();
    if (res.status !== 200) throw new Error(`${email}: home answered ${res.status}`);
    const nav = /<nav[^>]*class="app-nav"[^>]*>([\s\S]*?)<\/nav>/.exec(home)?.[1] ?? "";
    const links = [...nav.matchAll(/href="(\/[^"]*)"/g)].map((m) => m[1]!.replace(/&amp;/g, "&"));
    for (const path of new Set([...links, ...(EXTRA_PAGES[persona] ?? [])])) jobs.push({ persona, path, cookie });
  }
  return jobs;
}

/**
 * The pages a bench drives: mainPages of the personas in `only`, narrowed to BENCH_PATHS when it is set
 * (comma-separated); a path of BENCH_PATHS that is no main page (/users?size=25, /activity?userId=…) is added for
 * each persona chosen.
 */
export async function benchPages(db: Database, base: string, only?: string[]): Promise<{ persona: string; path: string; cookie: string }[]> {
  const paths = process.env.BENCH_PATHS?.split(",");
  const pages = await mainPages(db, base, only);
  const jobs = pages.filter((j) => !paths || paths.includes(j.path));
  for (const path of paths ?? []) {
    if (pages.some((j) => j.path === path)) continue;
    for (const persona of new Set(pages.map((j) => j.persona))) jobs.push({ persona, path, cookie: pages.find((j) => j.persona === persona)!.cookie });
  }
  return jobs;
}
