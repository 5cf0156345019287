/**
 * Lists, the approvals queue and the global search at market scale (issue 13), over HTTP through the built console,
 * side by side with a bare page in the same run: 1,000 participants, 50,000 users, 250,000 grants, and one firm
 * with 5,000 pending requests for its checker. Each page is fetched BENCH_REPEAT times (default 15) by a signed-in
 * session; the table gives the median and the 95th percentile of the whole request (server time on loopback).
 *
 *   npx remix build
 *   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npx tsx bench/lists.ts
 *   npx tsx bench/lists.ts                                  # PGlite in memory
 */
import { sql } from "drizzle-orm";
import { seedDemo } from "../db/seed";
import { createVerifiedSession } from "../test/support/sessions";
import { benchDatabase, generateMarket, ms, startBuiltConsole } from "./support";

const PARTICIPANTS = Number(process.env.BENCH_PARTICIPANTS ?? 1000);
const USERS = Number(process.env.BENCH_USERS ?? 50_000);
const GRANTS = Number(process.env.BENCH_GRANTS ?? 250_000);
const PENDING = Number(process.env.BENCH_PENDING ?? 5000);
const REPEAT = Number(process.env.BENCH_REPEAT ?? 15);

const { handle, drop } = await benchDatabase();
const db = handle.db;
let t = performance.now();
await seedDemo(db, null);
console.log(`database ${handle.kind}: demo seeded in ${ms(t)}`);

t = performance.now();
await generateMarket(db, { participants: PARTICIPANTS, users: USERS, grants: GRANTS, pending: PENDING });
if (handle.kind === "postgres") await db.execute(sql`analyze`);
console.log(`generated ${PARTICIPANTS} participants, ${USERS + PENDING} users, ${GRANTS} grants, ${PENDING} pending requests in ${ms(t)}`);

// The built console on an ephemeral port, and a signed-in session for each reader.
const server = await startBuiltConsole(db);
const base = server.base;
const sessionOf = async (email: string) => `ocp_session=${await createVerifiedSession(db, email)}`;
const officer = await sessionOf("officer@hkex.demo");
const checker = await sessionOf("checker@e00789.demo");
const maker = await sessionOf("maker@b01234.demo");

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const rows: string[] = [];
async function page(label: string, cookie: string, pathname: string) {
  const times: number[] = [];
  for (let i = 0; i < REPEAT + 2; i++) {
    const s = performance.now();
    const res = await fetch(base + pathname, { headers: { Cookie: cookie }, redirect: "manual" });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`${pathname}: ${res.status}`);
    if (i >= 2) times.push(performance.now() - s); // two warm-up requests
  }
  times.sort((a, b) => a - b);
  const line = `| ${label} | \`${pathname}\` | ${percentile(times, 50).toFixed(1)} ms | ${percentile(times, 95).toFixed(1)} ms |`;
  rows.push(line);
  console.log(line);
}

console.log(`| page | address | median | p95 |\n|---|---|---|---|`);
await page("bare page (sign-in form, no data)", "", "/login");
await page("home (signed in, approval counts)", checker, "/");
await page("users, first page (officer, all 55,000)", officer, "/users");
await page("users, page 500 of 1,100", officer, "/users?page=500");
await page("users, sorted by last sign-in, page 300", officer, "/users?sort=lastSignIn&dir=desc&page=300");
await page("users, search 'cheung'", officer, "/users?q=cheung");
await page("users of one firm (DA)", maker, "/users");
await page("participants, first page", officer, "/participants");
await page("participants, page 20, by name", officer, "/participants?sort=nameEn&page=20");
await page("pipeline: summary and first page (1,000 participants)", officer, "/pipeline");
await page("pipeline: one step, sorted by due date, page 3", officer, "/pipeline?step=users_and_roles&sort=dueDate&page=3");
await page("participants, search '測試證券77'", officer, `/participants?q=${encodeURIComponent("測試證券77")}`);
await page("approvals queue, first page (5,600 pending)", checker, "/requests");
await page("approvals queue, page 100", checker, "/requests?page=100");
await page("approvals queue, sorted by user, page 50", checker, "/requests?sort=user&page=50");
await page("global search 'chan' (officer)", officer, "/search?q=chan");
await page("global search 'P00777'", officer, "/search?q=P00777");
await page("global search 'harbour' (DA)", maker, "/search?q=harbour");

server.close();
await drop();
