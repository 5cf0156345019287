/**
 * Audited write against the bare write (issue 16: an audited mutation at most 1.3× the same write without its
 * event), side by side in one run: a step note inserted in its own transaction, with and without its audit event
 * (appendAuditEvents, as every command appends it: one prepared statement; and the same statement unprepared, parsed
 * and planned on every call as before), alternating in small rounds so that all three see the same load.
 * The participant's chain already holds BENCH_HISTORY events, so the indexes are not empty.
 *
 *   npx tsx bench/audited-write.ts                                             # PGlite in memory
 *   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npx tsx bench/audited-write.ts
 */
import { appendAuditEvents, verifyAuditChains, type AuditEventInput } from "../app/modules/audit/service.server";
import { SYSTEM_ACTOR } from "../app/modules/context.server";
import type { Transaction } from "../db/client.server";
import { onboardingStepEntries, participants } from "../db/schema";
import { benchDatabase, ms } from "./support";

const WRITES = Number(process.env.BENCH_WRITES ?? 2000);
const HISTORY = Number(process.env.BENCH_HISTORY ?? 20_000);
const ROUND = 20;

const { handle, drop } = await benchDatabase();
const db = handle.db;
const ctx = { actor: { ...SYSTEM_ACTOR, userId: null, displayName: "Bench Officer", persona: "officer" as const }, requestId: "bench-request-id", ip: "127.0.0.1", userAgent: "Mozilla/5.0 (bench)" };
await db.insert(participants).values({ id: "B00001", nameEn: "Bench Limited", nameZh: "測試有限公司", type: "GCP" });

const event = (i: number): AuditEventInput => ({
  action: "case.step.note_added",
  entityType: "onboarding_step",
  entityId: "B00001:kyc",
  participantId: "B00001",
  changes: { note: { before: null, after: { body: `Called the firm's compliance officer, #${i}`, reference: null } } },
});
let t = performance.now();
for (let done = 0; done < HISTORY; done += 5000) {
  await db.transaction((tx) => appendAuditEvents(tx, ctx, Array.from({ length: Math.min(5000, HISTORY - done) }, (_, i) => event(done + i))));
}
console.log(`database ${handle.kind}: ${HISTORY} events of history in ${ms(t)}`);

const insertNote = (tx: Transaction, i: number) =>
  tx.insert(onboardingStepEntries).values({
    participantId: "B00001",
    stepKey: "kyc",
    kind: "note",
    body: `Called the firm's compliance officer, #${i}`,
    authorUserId: null,
    authorName: "Bench Officer",
    createdAt: new Date(),
  });

const bare: number[] = [];
const audited: number[] = [];
const twoStatements: number[] = [];
let n = 0;
// Warm-up: both paths, not counted.
for (let i = 0; i < 50; i++) {
  await db.transaction((tx) => insertNote(tx, n++));
  await db.transaction(async (tx) => {
    await insertNote(tx, n);
    await appendAuditEvents(tx, ctx, [event(n++)]);
  });
  await db.transaction(async (tx) => {
    await insertNote(tx, n);
    await appendAuditEvents(tx, ctx, [event(n++)], { prepared: false });
  });
}
t = performance.now();
for (let r = 0; r < WRITES / ROUND; r++) {
  for (let i = 0; i < ROUND; i++) {
    const s = performance.now();
    await db.transaction((tx) => insertNote(tx, n++));
    bare.push(performance.now() - s);
  }
  for (let i = 0; i < ROUND; i++) {
    const s = performance.now();
    await db.transaction(async (tx) => {
      await insertNote(tx, n);
      await appendAuditEvents(tx, ctx, [event(n++)]);
    });
    audited.push(performance.now() - s);
  }
  for (let i = 0; i < ROUND; i++) {
    const s = performance.now();
    await db.transaction(async (tx) => {
      await insertNote(tx, n);
      await appendAuditEvents(tx, ctx, [event(n++)], { prepared: false });
    });
    twoStatements.push(performance.now() - s);
  }
}
const wall = performance.now() - t;

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { mean: xs.reduce((a, b) => a + b, 0) / xs.length, p50: s[Math.floor(s.length / 2)]!, p95: s[Math.floor(s.length * 0.95)]! };
};
const b = stats(bare);
const a = stats(audited);
const two = stats(twoStatements);
console.log(`| ${handle.kind} | write | mean | p50 | p95 |\n|---|---|---|---|---|`);
console.log(`| ${handle.kind} | step note, bare | ${b.mean.toFixed(3)} ms | ${b.p50.toFixed(3)} ms | ${b.p95.toFixed(3)} ms |`);
console.log(`| ${handle.kind} | step note + audit event, one statement, parsed and planned every time (before) | ${two.mean.toFixed(3)} ms | ${two.p50.toFixed(3)} ms | ${two.p95.toFixed(3)} ms |`);
console.log(`| ${handle.kind} | step note + audit event, one prepared statement (now) | ${a.mean.toFixed(3)} ms | ${a.p50.toFixed(3)} ms | ${a.p95.toFixed(3)} ms |`);
console.log(`ratio to bare: unprepared mean ${(two.mean / b.mean).toFixed(2)}×, p50 ${(two.p50 / b.p50).toFixed(2)}×; prepared mean ${(a.mean / b.mean).toFixed(2)}×, p50 ${(a.p50 / b.p50).toFixed(2)}× (${WRITES} of each in ${(wall / 1000).toFixed(1)} s)`);
const reports = await verifyAuditChains(db);
console.log(`chains intact: ${reports.every((r) => r.ok)} (${reports.reduce((s, r) => s + r.events, 0)} events)`);
await drop();
