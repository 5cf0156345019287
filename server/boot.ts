import pino, { type Logger } from "pino";
import { openDatabase, type DatabaseHandle } from "../db/client.server";
import { migrateDatabase } from "../db/migrate.server";
import { ConfigError, loadConfig, type AppConfig } from "../app/env.server";

/** Reads the configuration or stops with a message that names each bad variable. */
export function configOrExit(): AppConfig {
  try {
    return loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      console.error("Fix these environment variables and start again (see README.md, Configuration).");
      process.exit(1);
    }
    throw error;
  }
}

export function createLogger(config: AppConfig): Logger {
  return pino({
    level: config.logLevel,
    base: { service: "ocp-console" },
    redact: { paths: ["password", "*.password", "totpSecret", "*.totpSecret", "headers.cookie", "*.headers.cookie"], censor: "[redacted]" },
  });
}

export async function openMigratedDatabase(config: AppConfig, logger: Logger): Promise<DatabaseHandle> {
  const handle = openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  logger.info({ database: handle.kind, location: handle.location }, "opening database");
  await migrateDatabase(handle);
  logger.info("migrations applied");
  return handle;
}

/**
 * The read replica's handle when DATABASE_READ_URL is set (no migrations: it follows the primary), else null and
 * the read-heavy pages read the primary.
 */
export function openReadDatabase(config: AppConfig, logger: Logger): DatabaseHandle | null {
  if (!config.databaseReadUrl) return null;
  const handle = openDatabase({ databaseUrl: config.databaseReadUrl });
  logger.info({ location: handle.location }, "read-heavy pages read the replica");
  return handle;
}
