import { runJobs } from "../app/modules/jobs/service.server";
import { configOrExit, createLogger, openMigratedDatabase } from "../server/boot";

/** `jobs` (npm run jobs) — runs the scheduled work once (closing access reviews past their deadline). */
export async function jobsCommand(): Promise<number> {
  const config = configOrExit();
  const logger = createLogger(config);
  const handle = await openMigratedDatabase(config, logger);
  const result = await runJobs(handle.db, logger, { smtpUrl: config.smtpUrl ?? undefined, mailFrom: config.mailFrom, baseUrl: config.appOrigin ?? `http://localhost:${config.port}`, auditCheckpointKey: config.auditCheckpointKey });
  await handle.close();
  console.log(`Jobs done: ${result.campaignsClosed} access review(s) closed, ${result.expiryNotices} key expiry notice(s), ${result.rolloutSnapshots} rollout snapshot(s), ${result.mailsSent} mail(s) sent.`);
  return 0;
}
