/**
 * Load across two server processes (issue 15): the built console (`node bin/console.mjs serve`) started twice on one
 * PostgreSQL database with the demo seeded, driven for BENCH_SECONDS by BENCH_CONCURRENCY clients with signed-in
 * sessions, each request going to either process: pages (users, requests, participants, activity, pipeline, a
 * report, a user's page) and changes (a DA maker creates a user, which asks for a role; the participant's DA checker
 * approves it). Reports requests/s, p50/p95/p99 latencies for pages and for changes, refusals and errors (a 5xx or
 * no answer), then stops the servers and runs `node bin/console.mjs audit-verify` on the same DATABASE_URL and checks
 * that every session still works on both processes. Exits 1 on any error, broken chain or lost session.
 *
 *   npx remix build
 *   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npx tsx bench/load.ts
 *   BENCH_SECONDS=30 BENCH_CONCURRENCY=16 BENCH_WRITE_SHARE=0.2 …   (the defaults)
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { and, eq } from "drizzle-orm";
import { grantRequests, users } from "../db/schema";
import { seedDemo } from "../db/seed";
import { createVerifiedSession } from "../test/support/sessions";
import { benchDatabase } from "./support";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 30);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const WRITE_SHARE = Number(process.env.BENCH_WRITE_SHARE ?? 0.2);
process.env.BENCH_DATABASE_URL ??= "postgres://postgres@127.0.0.1:5432/postgres";

if (!existsSync("build/index.js")) {
  console.error("build/index.js is missing: run `npx remix build` first.");
  process.exit(1);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

const { handle, url, drop } = await benchDatabase();
const db = handle.db;
await seedDemo(db);
const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: url!, HOST: "127.0.0.1", LOG_LEVEL: "warn", JOBS_INTERVAL_SECONDS: "0", COOKIE_SECURE: "0", NODE_ENV: "production", DEMO_MODE: "1" };
// DEMO_MODE: the demo accounts sign in only in demo mode; the database is PostgreSQL, so nothing is seeded by serve.

const servers: { base: string; child: ChildProcess }[] = [];
for (let i = 0; i < 2; i++) {
  const port = await freePort();
  const child = spawn(process.execPath, ["bin/console.mjs", "serve"], { env: { ...env, PORT: String(port) }, stdio: ["ignore", "ignore", "inherit"] });
  servers.push({ base: `http://127.0.0.1:${port}`, child });
}
for (const s of servers) {
  for (let i = 0; ; i++) {
    const ok = await fetch(`${s.base}/readyz`).then((r) => r.ok, () => false);
    if (ok) break;
    if (i > 300) throw new Error(`${s.base} did not become ready`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const FIRMS = [
  { participantId: "B01234", maker: "maker@b01234.demo", checker: "checker@b01234.demo" },
  { participantId: "C00123", maker: "maker@c00123.demo", checker: "checker@c00123.demo" },
];
const READERS = ["compliance@hkex.demo", "officer@hkex.demo", "helpdesk@hkex.demo", ...FIRMS.flatMap((f) => [f.maker, f.checker])];
const sessions = new Map<string, string>();
for (const email of new Set([...READERS])) sessions.set(email, await createVerifiedSession(db, email));
const [someUser] = await db.select({ id: users.id }).from(users).where(eq(users.email, "sam.lau@harbourview.example"));
const PAGES: [string, string][] = [
  ["/users", "maker@b01234.demo"],
  ["/requests", "checker@b01234.demo"],
  ["/participants", "officer@hkex.demo"],
  ["/activity", "compliance@hkex.demo"],
  ["/pipeline", "officer@hkex.demo"],
  ["/reports?report=access", "compliance@hkex.demo"],
  [`/users/${someUser!.id}`, "helpdesk@hkex.demo"],
  ["/credentials", "maker@c00123.demo"],
];

interface Sample {
  kind: "page" | "change";
  ms: number;
  status: number;
  server: number;
}
const samples: Sample[] = [];
const errors: string[] = [];
let refusals = 0;
let next = 0;

async function timed(kind: Sample["kind"], server: number, path: string, email: string, form?: Record<string, string>): Promise<Response | null> {
  const s = servers[server]!;
  const start = performance.now();
  try {
    const res = await fetch(s.base + path, {
      method: form ? "POST" : "GET",
      redirect: "manual",
      headers: {
        Cookie: `ocp_session=${sessions.get(email)}`,
        ...(form ? { Origin: s.base, "Content-Type": "application/x-www-form-urlencoded" } : {}),
      },
      body: form ? new URLSearchParams(form).toString() : undefined,
    });
    const body = await res.text();
    samples.push({ kind, ms: performance.now() - start, status: res.status, server });
    const redirect = res.headers.get("x-remix-redirect") ?? res.headers.get("location") ?? "";
    if (res.status >= 500) errors.push(`${res.status} ${form ? "POST" : "GET"} ${path} on server ${server + 1}: ${body.slice(0, 200)}`);
    else if (res.status >= 400) refusals++;
    // A signed-in page answers 200; the sign-in page instead means a session was lost.
    else if (redirect.startsWith("/login") || (!form && res.status !== 200)) errors.push(`${res.status} ${redirect} for ${path} as ${email} on server ${server + 1}`);
    return res;
  } catch (error) {
    errors.push(`no answer for ${path} on server ${server + 1}: ${String(error)}`);
    return null;
  }
}

/** A change: a DA maker creates a user asking for a role on one process; the checker approves it on the other. */
async function change(worker: number, n: number): Promise<void> {
  const firm = FIRMS[n % FIRMS.length]!;
  const first = n % 2;
  const email = `load-${worker}-${n}-${Math.random().toString(36).slice(2, 8)}@${firm.participantId.toLowerCase()}.example`;
  const created = await timed("change", first, "/users/new?_data=routes%2Fusers.new", firm.maker, { participantId: firm.participantId, email, displayName: `Load ${worker} ${n}`, roles: "trade_info_viewer" });
  if (!created || !(created.headers.get("x-remix-redirect") ?? "").startsWith("/users/")) return;
  const [request] = await db
    .select({ id: grantRequests.id })
    .from(grantRequests)
    .innerJoin(users, eq(users.id, grantRequests.userId))
    .where(and(eq(users.email, email), eq(grantRequests.status, "pending")));
  if (!request) {
    errors.push(`user ${email} was created without its pending request`);
    return;
  }
  await timed("change", 1 - first, "/requests?_data=routes%2Frequests", firm.checker, { intent: "decide", requestId: request.id, decision: "approve", comment: "Load test" });
}

const deadline = performance.now() + SECONDS * 1000;
const started = performance.now();
await Promise.all(
  Array.from({ length: CONCURRENCY }, async (_, worker) => {
    for (let n = 0; performance.now() < deadline; n++) {
      const i = next++;
      if (Math.random() < WRITE_SHARE) await change(worker, n);
      else {
        const [path, email] = PAGES[i % PAGES.length]!;
        await timed("page", i % 2, path, email);
      }
    }
  }),
);
const elapsed = (performance.now() - started) / 1000;

function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
const line = (label: string, list: Sample[]) =>
  `${label.padEnd(8)} ${String(list.length).padStart(6)} requests  ${(list.length / elapsed).toFixed(1).padStart(6)}/s  p50 ${percentile(list.map((s) => s.ms), 50).toFixed(0)} ms  p95 ${percentile(list.map((s) => s.ms), 95).toFixed(0)} ms  p99 ${percentile(list.map((s) => s.ms), 99).toFixed(0)} ms`;
console.log(`\n${SECONDS} s, ${CONCURRENCY} clients, two server processes on one PostgreSQL (${elapsed.toFixed(1)} s measured)`);
console.log(line("all", samples));
console.log(line("pages", samples.filter((s) => s.kind === "page")));
console.log(line("changes", samples.filter((s) => s.kind === "change")));
console.log(`per process: ${servers.map((_, i) => samples.filter((s) => s.server === i).length).join(" / ")} requests`);
console.log(`refusals (4xx): ${refusals}   errors (5xx or no answer): ${errors.length}`);
for (const e of errors.slice(0, 10)) console.log(`  ${e}`);

// Every session still works on both processes.
let lostSessions = 0;
for (const [email, id] of sessions) {
  for (const s of servers) {
    const res = await fetch(`${s.base}/`, { redirect: "manual", headers: { Cookie: `ocp_session=${id}` } });
    await res.text();
    if (res.status !== 200) {
      lostSessions++;
      console.log(`  session of ${email} on ${s.base}: ${res.status} ${res.headers.get("location") ?? ""}`);
    }
  }
}
console.log(`sessions working on both processes: ${sessions.size * 2 - lostSessions} of ${sessions.size * 2}`);

for (const s of servers) s.child.kill("SIGTERM");
await Promise.all(servers.map((s) => new Promise((r) => (s.child.exitCode !== null ? r(null) : s.child.once("exit", r)))));

const verify = spawnSync(process.execPath, ["bin/console.mjs", "audit-verify"], { env: { ...env }, encoding: "utf8" });
const chains = verify.stdout.split("\n").filter((l) => /^(ok|BROKEN)\s/.test(l));
console.log(`audit-verify: exit ${verify.status}, ${chains.filter((l) => l.startsWith("ok")).length} chains ok, ${chains.filter((l) => l.startsWith("BROKEN")).length} broken`);
if (verify.status !== 0) console.log(verify.stdout + verify.stderr);

await drop();
const failed = errors.length > 0 || verify.status !== 0 || lostSessions > 0;
console.log(failed ? "FAILED" : "passed: 0 errors, every chain intact, every session working on both processes");
process.exit(failed ? 1 : 0);
