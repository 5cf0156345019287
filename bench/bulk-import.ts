/**
 * Bulk import benchmark: a 10,000-row CSV (users with two role requests each) checked (dry run) and applied in one
 * transaction by the real services.
 *
 *   npx tsx bench/bulk-import.ts                                  # PGlite
 *   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npx tsx bench/bulk-import.ts
 */
import { count, eq } from "drizzle-orm";
import { auditEvents, grantRequests, users } from "../db/schema";
import { verifyAuditChains } from "../app/modules/audit/service.server";
import { applyImport, checkImport } from "../app/modules/users/import.server";
import { contextFor, createConsoleUser, registerParticipant } from "../test/factories";
import { benchDatabase, ms } from "./support";

const ROWS = Number(process.env.BENCH_ROWS ?? 10_000);
const { handle, drop } = await benchDatabase();
const db = handle.db;
await registerParticipant(db, { id: "B01234", type: "GCP" });
await createConsoleUser(db, { email: "maker@bench.test", participantId: "B01234", roleCodes: ["da_maker"], password: null });
await createConsoleUser(db, { email: "checker@bench.test", participantId: "B01234", roleCodes: ["da_checker"], password: null });
const maker = await contextFor(db, "maker@bench.test");

const lines = ["email,display_name,roles"];
for (let i = 0; i < ROWS; i++) lines.push(`user${i}@bench.test,Bench User ${i},trade_info_viewer;ref_data_viewer`);
const csv = lines.join("\n");

let t = performance.now();
const run = await checkImport(maker, { participantId: "B01234", fileName: "bench.csv", text: csv });
console.log(`database ${handle.kind}; ${ROWS} rows (${(csv.length / 1024).toFixed(0)} KiB)`);
console.log(`dry run:  ${ms(t)} (${run.errorCount} rows with problems)`);
t = performance.now();
let last = 0;
await applyImport(maker, { runId: run.id, progress: (_phase, done) => {
  last = done;
} });
console.log(`apply:    ${ms(t)} (last progress ${last})`);
const [u] = await db.select({ n: count() }).from(users).where(eq(users.participantId, "B01234"));
const [r] = await db.select({ n: count() }).from(grantRequests);
const [a] = await db.select({ n: count() }).from(auditEvents);
console.log(`users ${u?.n}, pending requests ${r?.n}, audit events ${a?.n}`);
t = performance.now();
const chains = await verifyAuditChains(db);
console.log(`verify:   ${ms(t)}; intact: ${chains.every((c) => c.ok)}`);
await drop();
