import type { ServerBuild } from "@remix-run/node";
import { seedDemo } from "../db/seed";
import { DEMO_ACCOUNTS, DEMO_PASSWORD } from "../app/modules/demo";
import { DEMO_TOTP_SECRET } from "../app/auth/totp.server";
import { runJobs } from "../app/modules/jobs/service.server";
import { createApp } from "./app";
import { configOrExit, createLogger, openMigratedDatabase, openReadDatabase } from "./boot";

/**
 * `serve`: migrates, seeds the demo into an empty PGlite in demo mode, listens, runs the scheduled jobs on a timer
 * and closes cleanly on SIGINT or SIGTERM. `build` is the server build this code is bundled in, so the routes and
 * this function share one copy of every module (decision 001).
 */
export async function serve(build: ServerBuild): Promise<void> {
  const config = configOrExit();
  const logger = createLogger(config);
  const handle = await openMigratedDatabase(config, logger);
  // Links in mail written by the seed and the jobs point at the console's public address (requests use their own).
  const baseUrl = config.appOrigin ?? `http://localhost:${config.port}`;

  if (config.demoMode && !config.databaseUrl) {
    const seeded = await seedDemo(handle.db, config.auditCheckpointKey, baseUrl);
    if (seeded) logger.info("demo data seeded into an empty database");
  }

  const replica = openReadDatabase(config, logger);
  const app = createApp({ db: handle.db, readDb: replica?.db, config, build, logger });
  const server = app.listen(config.port, config.host, () => {
    const url = `http://localhost:${config.port}`;
    const lines = [`OCP Onboarding Console is running at ${url}`, `Database: ${handle.kind} (${handle.location})`];
    if (config.demoMode) {
      lines.push(`Demo mode: sign in with any of these accounts, password ${DEMO_PASSWORD}`);
      for (const a of DEMO_ACCOUNTS) lines.push(`  ${a.email.padEnd(22)} ${a.persona}${a.participantId ? ` (${a.participantId})` : ""}`);
      lines.push(`Then a code from an authenticator app holding the demo key ${DEMO_TOTP_SECRET} (demo accounts only).`);
    }
    console.log(lines.join("\n"));
  });

  // Scheduled jobs on a timer in every process; each job is safe to run concurrently (see runJobs).
  const jobsTimer =
    config.jobsIntervalSeconds > 0
      ? setInterval(() => {
          runJobs(handle.db, logger, { smtpUrl: config.smtpUrl ?? undefined, mailFrom: config.mailFrom, baseUrl, auditCheckpointKey: config.auditCheckpointKey }).catch((error: unknown) => logger.error({ err: error }, "jobs failed"));
        }, config.jobsIntervalSeconds * 1000)
      : null;
  jobsTimer?.unref();

  async function shutdown(signal: string) {
    logger.info({ signal }, "shutting down");
    if (jobsTimer) clearInterval(jobsTimer);
    server.close();
    await replica?.close();
    await handle.close();
    process.exit(0);
  }
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
}
