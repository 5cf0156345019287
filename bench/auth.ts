/**
 * Authentication per request (issue 16: session + user + persona grants in one round trip), side by side in one
 * run: authenticateRequest as it is now (one statement), and the three reads it made before (our session and user
 * read, lucia's validateSession reading them again, the persona's grants). The demo data, a signed-in officer.
 *
 *   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npx tsx bench/auth.ts
 *   npx tsx bench/auth.ts                                                      # PGlite
 */
import { eq, sql } from "drizzle-orm";
import { luciaFor } from "../app/auth/lucia.server";
import { ABSOLUTE_LIFETIME_MS } from "../app/auth/rules";
import { authenticateRequest, consolePersonasOf } from "../app/auth/session.server";
import { rowsOf } from "../db/client.server";
import { sessions, users } from "../db/schema";
import { seedDemo } from "../db/seed";
import { benchDatabase } from "./support";

const REPEAT = Number(process.env.BENCH_REPEAT ?? 2000);
const { handle, drop } = await benchDatabase();
const db = handle.db;
await seedDemo(db, null);
const [{ id }] = rowsOf<{ id: string }>(await db.execute(sql`select id from users where email = 'officer@hkex.demo'`)) as [{ id: string }];
const now = new Date();
const lucia = luciaFor(db, false);
const session = await lucia.createSession(id, { absoluteExpiresAt: new Date(now.getTime() + ABSOLUTE_LIFETIME_MS), lastSeenAt: now, ip: null, userAgent: null, mfaPendingSecret: null, mfaVerifiedAt: now });
const cookie = `ocp_session=${session.id}`;
const info = { requestId: null, ip: null, userAgent: null };

async function before() {
  const sessionId = lucia.readSessionCookie(cookie)!;
  const [stored] = await db.select({ session: sessions, user: { id: users.id, email: users.email, displayName: users.displayName, participantId: users.participantId } }).from(sessions).innerJoin(users, eq(users.id, sessions.userId)).where(eq(sessions.id, sessionId)).limit(1);
  const { user } = await lucia.validateSession(sessionId);
  await consolePersonasOf(db, user!.id, new Date());
  return stored;
}
const nowPath = async () => {
  const result = await authenticateRequest(db, cookie, false, info, true);
  if (!result.auth) throw new Error("not authenticated");
};

const times: Record<string, number[]> = { before: [], now: [] };
for (let i = 0; i < REPEAT + 100; i++) {
  for (const [label, fn] of [["before", before], ["now", nowPath]] as const) {
    const s = performance.now();
    await fn();
    if (i >= 100) times[label]!.push(performance.now() - s);
  }
}
console.log(`database ${handle.kind}, ${REPEAT} requests each, alternating\n| authentication | statements | mean | p50 | p95 |\n|---|---|---|---|---|`);
for (const [label, xs] of Object.entries(times)) {
  const sorted = [...xs].sort((a, b) => a - b);
  console.log(`| ${label} | ${label === "before" ? 3 : 1} | ${(xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(3)} ms | ${sorted[Math.floor(xs.length / 2)]!.toFixed(3)} ms | ${sorted[Math.floor(xs.length * 0.95)]!.toFixed(3)} ms |`);
}
await drop();
