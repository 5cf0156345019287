import { readFileSync } from "node:fs";
import { latestCheckpoint, verifyCheckpoint } from "../app/modules/audit/checkpoint.server";
import { verifyAuditChains } from "../app/modules/audit/service.server";
import { finishIntegrityWalk, startIntegrityWalk } from "../app/modules/audit/walks.server";
import { systemContext } from "../app/modules/context.server";
import { AppError } from "../app/lib/errors";
import { configOrExit, createLogger, openMigratedDatabase } from "../server/boot";

/**
 * `audit-verify [--checkpoint file.jws]` (npm run audit:verify) — walks every audit chain; answers 1 and names the
 * first broken event of each bad chain. Also compares the chains with a signed checkpoint: the file given, else the
 * latest one kept in the database (when a checkpoint key is configured). The walk is recorded (audit_integrity_walks,
 * started by "cli") for the Integrity page; while another walk runs it still walks, unrecorded, and says so on stderr.
 */
export async function auditVerifyCommand(args: string[]): Promise<number> {
  const config = configOrExit();
  const handle = await openMigratedDatabase(config, createLogger({ ...config, logLevel: "warn" }));
  const fileIndex = args.indexOf("--checkpoint");
  const file = fileIndex >= 0 ? args[fileIndex + 1] : undefined;
  const system = systemContext(handle.db, `audit-verify-${Date.now()}`);
  let walkId: string | null = null;
  try {
    walkId = (await startIntegrityWalk(system, { via: "cli" }))?.id ?? null;
  } catch (error) {
    if (!(error instanceof AppError && error.status === 409)) throw error;
    console.error("(another verification is running: this walk is not recorded for the Integrity page)");
  }
  let reports: Awaited<ReturnType<typeof verifyAuditChains>>;
  try {
    reports = await verifyAuditChains(handle.db);
  } catch (error) {
    if (walkId) await finishIntegrityWalk(system, { walkId, chains: null, checkpoint: null, failure: error instanceof Error ? error.message.slice(0, 500) : "the walk failed" });
    throw error;
  }
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
  const jws = file ? readFileSync(file, "utf8") : (await latestCheckpoint(handle.db))?.signature;
  let checkpointBad = false;
  let checkpointReport: Awaited<ReturnType<typeof verifyCheckpoint>> | null = null;
  if (jws && !config.auditCheckpointKey) {
    console.log("(a checkpoint exists but AUDIT_CHECKPOINT_KEY is not set: it cannot be checked)");
  } else if (jws) {
    const report = await verifyCheckpoint(handle.db, jws, config.auditCheckpointKey);
    checkpointReport = report;
    if (report.signatureValid && report.problems.length === 0) {
      console.log(`ok      checkpoint ${report.checkpointId} of ${report.createdAt}: every checkpointed head is still there`);
    } else {
      checkpointBad = true;
      for (const p of report.problems) console.log(`BROKEN  checkpoint: ${p.chainKey}${p.seq ? ` at event #${p.seq}` : ""}: ${p.problem}`);
    }
  } else {
    console.log("(no checkpoint to compare with)");
  }
  if (walkId) await finishIntegrityWalk(system, { walkId, chains: reports, checkpoint: checkpointReport, failure: null });
  await handle.close();
  console.log(broken === 0 ? `All ${reports.length} chains intact.` : `${broken} of ${reports.length} chains broken.`);
  return broken === 0 && !checkpointBad ? 0 : 1;
}
