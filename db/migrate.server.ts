import { fileURLToPath } from "node:url";
import type { PgliteDatabase } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";
import type { DatabaseHandle } from "./client.server";

// "../db/migrations" from this file in db/ and from the server build in build/, which bundles it: both sit one
// folder below the project root.
export const MIGRATIONS_FOLDER = fileURLToPath(new URL("../db/migrations", import.meta.url));

/**
 * Applies the drizzle-kit migrations. On PostgreSQL a session advisory lock, held on one dedicated connection,
 * makes concurrent starts of several server processes wait for one another instead of racing.
 */
export async function migrateDatabase(handle: DatabaseHandle): Promise<void> {
  if (handle.kind === "pglite") {
    await migratePglite(handle.db as unknown as PgliteDatabase, { migrationsFolder: MIGRATIONS_FOLDER });
    return;
  }
  if (!handle.databaseUrl) throw new Error("PostgreSQL handle without a URL");
  const client = postgres(handle.databaseUrl, { max: 1, onnotice: () => {} });
  try {
    await client`select pg_advisory_lock(hashtext('ocp-console-migrations'))`;
    await migratePostgres(drizzlePostgres({ client }), { migrationsFolder: MIGRATIONS_FOLDER });
    await client`select pg_advisory_unlock(hashtext('ocp-console-migrations'))`;
  } finally {
    await client.end({ timeout: 5 });
  }
}
