import { seedDemo } from "../db/seed";
import { configOrExit, createLogger, openMigratedDatabase } from "../server/boot";

/**
 * `seed-demo` (npm run db:seed-demo) — puts the demo into the configured database, PGlite or PostgreSQL, if it is
 * empty. The demo accounts still sign in only while the server runs with DEMO_MODE on.
 */
export async function seedDemoCommand(): Promise<number> {
  const config = configOrExit();
  const handle = await openMigratedDatabase(config, createLogger(config));
  const seeded = await seedDemo(handle.db, config.auditCheckpointKey, config.appOrigin ?? `http://localhost:${config.port}`);
  await handle.close();
  console.log(seeded ? `Demo seeded into ${handle.kind} (${handle.location}).` : "The database already has data: nothing seeded.");
  if (seeded && config.databaseUrl && !config.demoMode) {
    console.log("Note: demo accounts sign in only when the server runs with DEMO_MODE=1.");
  }
  return 0;
}
