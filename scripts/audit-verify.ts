import { verifyAuditChains } from "../app/modules/audit/service.server";
import { configOrExit, createLogger, openMigratedDatabase } from "../server/boot";

/** npm run audit:verify — walks every audit chain; exits 1 and names the first broken event of each bad chain. */
const config = configOrExit();
const handle = await openMigratedDatabase(config, createLogger({ ...config, logLevel: "warn" }));
const reports = await verifyAuditChains(handle.db);
await handle.close();
let broken = 0;
for (const r of reports) {
  if (r.ok) {
    console.log(`ok      ${r.chainKey}: ${r.events} events`);
  } else {
    broken++;
    const b = r.firstBreak!;
    console.log(
      `BROKEN  ${r.chainKey}: first break at event #${b.seq}${b.eventId !== null ? ` (id ${b.eventId})` : ""}: ${b.problem}`,
    );
  }
}
console.log(broken === 0 ? `All ${reports.length} chains intact.` : `${broken} of ${reports.length} chains broken.`);
process.exit(broken === 0 ? 0 : 1);
