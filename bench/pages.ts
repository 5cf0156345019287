/**
 * Every main page of every persona under load, at the large data set (issue 16): the built console
 * (`node bin/console.mjs serve`, its own process) on PostgreSQL holding the demo, 1,000 participants, 55,000 users,
 * 250,000 grants and 1,500,000 audit events in valid chains (largeDatabase in support.ts). Each persona's pages are
 * the links of its main navigation (read from its home page), plus a participant's case page and a user's page.
 * Each page is driven by BENCH_CONNECTIONS keep-alive connections (default 50) for BENCH_SECONDS (default 5) from
 * this process against 127.0.0.1; the bare sign-in page (a full React page, no database) is driven the same way at
 * the start and at the end of the run, and every page's figures are printed beside it: requests/s, p50, p99,
 * errors (anything but 200, or no answer), the ratio of its requests/s to the bare page's (goal ≥ 0.5) and of its
 * p99 to the bare page's (goal ≤ 2), and the page's server time alone (median of BENCH_ALONE sequential requests,
 * goal ≤ 50 ms). Beside them, the CPU time each request cost under load, in the console's process and in PostgreSQL's
 * processes (from /proc: what a page spends, wherever it spends it; the machine's cores bound the throughput).
 *
 *   npx remix build
 *   npx tsx bench/pages.ts                                   # generates the set in a new database (about 2 min)
 *   BENCH_KEEP_DATABASE=1 npx tsx bench/pages.ts             # … and keeps it; then reuse it with
 *   BENCH_LARGE_URL=postgres://postgres@127.0.0.1:5432/ocp_bench_… npx tsx bench/pages.ts
 *   BENCH_SECONDS=3 BENCH_ONLY=officer,compliance …          # shorter, or only some personas
 *   BENCH_PATHS=/users,/activity: only these pages; BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the server
 *   BENCH_ONCE=/integrity,…: pages timed by one request alone instead of driven under load (none by default)
 */
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import http from "node:http";
import { createServer } from "node:net";
import { loadavg } from "node:os";
import { benchPages, largeDatabase } from "./support";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const ALONE = Number(process.env.BENCH_ALONE ?? 15);
const ONLY = process.env.BENCH_ONLY?.split(",");
const TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_SECONDS ?? 20) * 1000;
// Pages timed once, alone, instead of driven at 50 connections. /integrity was one (it walked every chain on every
// view, about 20 s at 1.5M events) until it read the recorded walks instead (audit_integrity_walks): it is driven now.
const ONCE = (process.env.BENCH_ONCE ?? "").split(",").filter(Boolean);

if (!existsSync("build/index.js")) {
  console.error("build/index.js is missing: run `npx remix build` first.");
  process.exit(1);
}

const { handle, url, drop } = await largeDatabase();
const db = handle.db;

const port = await new Promise<number>((resolve, reject) => {
  const s = createServer();
  s.once("error", reject);
  s.listen(0, "127.0.0.1", () => {
    const { port } = s.address() as { port: number };
    s.close(() => resolve(port));
  });
});
const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: url, HOST: "127.0.0.1", PORT: String(port), LOG_LEVEL: "warn", JOBS_INTERVAL_SECONDS: "0", COOKIE_SECURE: "0", NODE_ENV: "production", DEMO_MODE: "1" };
// BENCH_NODE_ARGS: extra node flags for the server, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile it.
const nodeArgs = (process.env.BENCH_NODE_ARGS ?? "").split(" ").filter(Boolean);
const server = spawn(process.execPath, [...nodeArgs, "bin/console.mjs", "serve"], { env, stdio: ["ignore", "ignore", "inherit"] });
for (let i = 0; ; i++) {
  if (await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false)) break;
  if (i > 600) throw new Error("the console did not become ready");
  await new Promise((r) => setTimeout(r, 100));
}

const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });

/** One GET: its status and time in ms (status 0: no answer). */
function get(path: string, cookie: string): Promise<{ status: number; ms: number }> {
  const start = performance.now();
  return new Promise((resolve) => {
    const req = http.request({ host: "127.0.0.1", port, path, agent, headers: cookie ? { Cookie: cookie } : {} }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - start }));
      res.on("error", () => resolve({ status: 0, ms: performance.now() - start }));
    });
    req.on("error", () => resolve({ status: 0, ms: performance.now() - start }));
    // A page that has not answered in TIMEOUT_MS counts as an error, so one unbounded page cannot stall the run.
    req.setTimeout(TIMEOUT_MS, () => req.destroy(new Error("timeout")));
    req.end();
  });
}

/** CPU seconds used so far by the console's process and by all PostgreSQL processes (Linux /proc; 0 elsewhere). */
function cpuSeconds(): { node: number; postgres: number } {
  const ticks = (pid: string) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      return { comm: stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")), ticks: Number(fields[11]) + Number(fields[12]) };
    } catch {
      return { comm: "", ticks: 0 };
    }
  };
  let postgres = 0;
  try {
    for (const pid of readdirSync("/proc")) if (/^\d+$/.test(pid)) {
      const t = ticks(pid);
      if (t.comm === "postgres") postgres += t.ticks;
    }
  } catch {
    // not Linux
  }
  return { node: server.pid ? ticks(String(server.pid)).ticks / 100 : 0, postgres: postgres / 100 };
}

interface Result {
  /** CPU milliseconds per request under load: the console's process, and PostgreSQL's (all its processes). */
  nodeMs: number;
  pgMs: number;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  alone: number;
}
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

async function drive(path: string, cookie: string): Promise<Result> {
  const alone: number[] = [];
  for (let i = 0; i < ALONE + 2; i++) {
    const r = await get(path, cookie);
    if (i >= 2) alone.push(r.ms);
  }
  alone.sort((a, b) => a - b);
  const times: number[] = [];
  let errors = 0;
  const cpuBefore = cpuSeconds();
  const started = performance.now();
  const deadline = started + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (performance.now() < deadline) {
        const r = await get(path, cookie);
        times.push(r.ms);
        if (r.status !== 200) errors++;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const cpuAfter = cpuSeconds();
  times.sort((a, b) => a - b);
  return { nodeMs: ((cpuAfter.node - cpuBefore.node) * 1000) / times.length, pgMs: ((cpuAfter.postgres - cpuBefore.postgres) * 1000) / times.length, rps: times.length / elapsed, p50: percentile(times, 50), p99: percentile(times, 99), errors, alone: percentile(alone, 50) };
}

// BENCH_PATHS=/users,/activity: only these pages (of the personas chosen), e.g. to profile a few.
const jobs = await benchPages(db, `http://127.0.0.1:${port}`, ONLY);

const load = () => loadavg().map((l) => l.toFixed(2)).join(", ");
console.log(`\n${new Date().toISOString()}, load average ${load()}; ${jobs.length} pages, ${CONNECTIONS} connections, ${SECONDS} s each`);

const bareFirst = await drive("/login", "");
const results: { persona: string; path: string; r: Result }[] = [];
const fmt = (r: Result) => `${r.rps.toFixed(0)} | ${r.p50.toFixed(0)} ms | ${r.p99.toFixed(0)} ms | ${r.errors} | ${r.nodeMs.toFixed(1)} + ${r.pgMs.toFixed(1)} ms`;
console.log(`bare /login: ${fmt(bareFirst)} | alone ${bareFirst.alone.toFixed(1)} ms`);
const once: string[] = [];
for (const job of jobs) {
  if (ONCE.includes(job.path)) continue; // timed at the end, after the bare page's second measurement
  const r = await drive(job.path, job.cookie);
  results.push({ ...job, r });
  console.log(`${job.persona} ${job.path}: ${fmt(r)} | ${(r.rps / bareFirst.rps).toFixed(2)} of bare | alone ${r.alone.toFixed(1)} ms`);
}
const bareLast = await drive("/login", "");
// A page timed once keeps the server busy after an unanswered request: last, so it slows nothing measured.
for (const job of jobs.filter((j) => ONCE.includes(j.path))) {
  const r = await get(job.path, job.cookie);
  once.push(`${job.persona} ${job.path}: one request alone ${r.ms.toFixed(0)} ms, status ${r.status || "no answer"}`);
  console.log(once[once.length - 1]);
}
const bare: Result = {
  rps: (bareFirst.rps + bareLast.rps) / 2,
  p50: (bareFirst.p50 + bareLast.p50) / 2,
  p99: (bareFirst.p99 + bareLast.p99) / 2,
  errors: bareFirst.errors + bareLast.errors,
  alone: (bareFirst.alone + bareLast.alone) / 2,
  nodeMs: (bareFirst.nodeMs + bareLast.nodeMs) / 2,
  pgMs: (bareFirst.pgMs + bareLast.pgMs) / 2,
};

console.log(`\n${new Date().toISOString()}, load average ${load()}`);
console.log(`bare sign-in page, start / end of the run: ${bareFirst.rps.toFixed(0)} / ${bareLast.rps.toFixed(0)} req/s, p99 ${bareFirst.p99.toFixed(0)} / ${bareLast.p99.toFixed(0)} ms\n`);
console.log("| persona | page | req/s | p50 | p99 | errors | CPU per request: console + PostgreSQL | req/s ÷ bare | p99 ÷ bare | alone (p50) |");
console.log("|---|---|---|---|---|---|---|---|---|---|");
const row = (persona: string, path: string, r: Result) =>
  `| ${persona} | \`${path}\` | ${fmt(r)} | ${(r.rps / bare.rps).toFixed(2)} | ${(r.p99 / bare.p99).toFixed(1)} | ${r.alone.toFixed(1)} ms |`;
console.log(row("—", "/login (bare, mean of both)", bare));
for (const { persona, path, r } of results) console.log(row(persona, path, r));
const misses = results.filter(({ r }) => r.rps < 0.5 * bare.rps || r.p99 > 2 * bare.p99 || r.errors > 0 || r.alone > 50);
console.log(`\n${results.length - misses.length} of ${results.length} pages meet every goal (≥ 0.5 of bare req/s, p99 ≤ 2× bare, 0 errors, alone ≤ 50 ms)`);
for (const { persona, path } of misses) console.log(`  not met: ${persona} ${path}`);
for (const line of once) console.log(`  timed once, not under load: ${line}`);

agent.destroy();
server.kill("SIGTERM");
await new Promise((r) => (server.exitCode !== null ? r(null) : server.once("exit", r)));
await drop();
