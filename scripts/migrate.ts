import { configOrExit, createLogger, openMigratedDatabase } from "../server/boot";

/** `migrate` (npm run db:migrate) — applies db/migrations to PGlite (DATA_DIR) or to DATABASE_URL. */
export async function migrateCommand(): Promise<number> {
  const config = configOrExit();
  const handle = await openMigratedDatabase(config, createLogger(config));
  await handle.close();
  console.log(`Migrations applied to ${handle.kind} (${handle.location}).`);
  return 0;
}
