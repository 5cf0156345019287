/**
 * EXPLAIN of every page's queries at the issue's large data set (issue 16): the built console runs in this process
 * on PostgreSQL (largeDatabase in support.ts) with a postgres.js client that records every statement it sends. Each
 * persona's main pages (mainPages: its navigation, a case page, a user page…) are requested once, after one
 * warm-up request; every statement the request ran is then planned with `EXPLAIN (FORMAT JSON)` and its actual
 * parameters, and any sequential scan of a big table (BENCH_BIG_ROWS estimated rows or more, default 10,000) is
 * reported with the statement. Reads are also run (`EXPLAIN ANALYZE`) for their time in the database, and the
 * slowest read of each page over BENCH_SLOW_MS (default 10 ms) is listed. Exits 1 when there is one.
 *
 *   npx remix build
 *   npx tsx bench/explain.ts                                     # generates the large set (about 2 min)
 *   BENCH_LARGE_URL=postgres://postgres@127.0.0.1:5432/ocp_bench_… npx tsx bench/explain.ts
 */
import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import type { Database } from "../db/client.server";
import * as schema from "../db/schema";
import { benchPages, largeDatabase, startBuiltConsole } from "./support";

const BIG = Number(process.env.BENCH_BIG_ROWS ?? 10_000);
const { url, drop } = await largeDatabase();

let captured: { query: string; parameters: unknown[] }[] | null = null;
const client = postgres(url, {
  max: 10,
  onnotice: () => {},
  debug: (_connection, query, parameters) => captured?.push({ query, parameters: [...parameters] }),
});
const db = drizzle({ client, schema }) as unknown as Database;
const planner = postgres(url, { max: 1, onnotice: () => {} });

const sizes = new Map<string, number>();
for (const r of await planner<{ relname: string; rows: number }[]>`
  select c.relname, greatest(c.reltuples, 0)::float8 as rows from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where c.relkind = 'r' and n.nspname = 'public'`)
  sizes.set(r.relname, Number(r.rows));

const server = await startBuiltConsole(db);
// BENCH_PATHS=/users,/activity: only these pages (of the personas chosen); BENCH_EVERY=1 prints every read over
// BENCH_SLOW_MS, not only each page's slowest.
const jobs = await benchPages(db, server.base, process.env.BENCH_ONLY?.split(","));

interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Index Name"?: string;
  Plans?: PlanNode[];
}
function scans(node: PlanNode, out: PlanNode[] = []): PlanNode[] {
  if (node["Relation Name"]) out.push(node);
  for (const child of node.Plans ?? []) scans(child, out);
  return out;
}

const findings: string[] = [];
const slow: string[] = [];
const SLOW_MS = Number(process.env.BENCH_SLOW_MS ?? 10);
let statements = 0;
const summary: string[] = [];
for (const job of jobs) {
  await fetch(server.base + job.path, { headers: { Cookie: job.cookie } }).then((r) => r.arrayBuffer());
  captured = [];
  const res = await fetch(server.base + job.path, { headers: { Cookie: job.cookie } });
  await res.arrayBuffer();
  const ran = captured;
  captured = null;
  const explainable = ran.filter((q) => /^\s*(select|with|insert|update|delete)\b/i.test(q.query));
  const seen = new Set<string>();
  const bigSeq: string[] = [];
  let dbMs = 0;
  let slowest = { ms: 0, query: "" };
  for (const q of explainable) {
    if (seen.has(q.query + JSON.stringify(q.parameters))) continue;
    seen.add(q.query + JSON.stringify(q.parameters));
    statements++;
    // Reads are planned and run (ANALYZE: their time in the database); writes are only planned.
    const read = /^\s*(select|with)\b/i.test(q.query) && !/\b(insert|update|delete)\b/i.test(q.query);
    const [row] = await planner.unsafe(`explain (${read ? "analyze, " : ""}format json) ${q.query}`, q.parameters as never[], { prepare: false });
    const result = (row as unknown as { "QUERY PLAN": { Plan: PlanNode; "Execution Time"?: number }[] })["QUERY PLAN"][0]!;
    const plan = result.Plan;
    const took = result["Execution Time"] ?? 0;
    dbMs += took;
    if (took > slowest.ms) slowest = { ms: took, query: q.query };
    if (process.env.BENCH_EVERY && took > SLOW_MS) console.log(`  ${job.persona} ${job.path} ${took.toFixed(1)} ms: ${q.query.replace(/\s+/g, " ").slice(0, 600)} ${JSON.stringify(q.parameters).slice(0, 200)}`);
    for (const node of scans(plan)) {
      const rel = node["Relation Name"]!;
      if (node["Node Type"] === "Seq Scan" && (sizes.get(rel) ?? 0) >= BIG) {
        bigSeq.push(`${rel} (${Math.round(sizes.get(rel)!).toLocaleString("en")} rows)`);
        findings.push(`${job.persona} ${job.path}: Seq Scan on ${rel}\n    ${q.query.replace(/\s+/g, " ").slice(0, 400)}\n    parameters ${JSON.stringify(q.parameters).slice(0, 200)}`);
      }
    }
  }
  const line = `| ${job.persona} | \`${job.path}\` | ${res.status} | ${ran.length} | ${dbMs.toFixed(1)} ms | ${bigSeq.length ? `**${[...new Set(bigSeq)].join(", ")}**` : "none"} |`;
  if (slowest.ms > SLOW_MS) slow.push(`${job.persona} ${job.path}: ${slowest.ms.toFixed(1)} ms\n    ${slowest.query.replace(/\s+/g, " ").slice(0, 400)}`);
  summary.push(line);
  console.log(line);
}

console.log(`\nlarge tables (≥ ${BIG.toLocaleString("en")} rows): ${[...sizes].filter(([, n]) => n >= BIG).map(([t, n]) => `${t} ${Math.round(n).toLocaleString("en")}`).join(", ")}`);
console.log(`\n| persona | page | status | statements | reads' time in the database | seq scan of a big table |\n|---|---|---|---|---|---|`);
for (const line of summary) console.log(line);
console.log(`\n${jobs.length} pages, ${statements} distinct statements planned; ${findings.length} sequential scans of a big table`);
for (const f of findings) console.log(`  ${f}`);
console.log(`\npages whose slowest read takes over ${SLOW_MS} ms in the database:`);
for (const f of slow) console.log(`  ${f}`);

server.close();
await planner.end();
await client.end({ timeout: 5 });
await drop();
process.exit(findings.length ? 1 : 0);
