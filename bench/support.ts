import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { openDatabase, type DatabaseHandle } from "../db/client.server";
import { migrateDatabase } from "../db/migrate.server";

/**
 * A fresh, migrated database for a benchmark: PGlite in memory, or a new PostgreSQL database (dropped at the end)
 * when BENCH_DATABASE_URL is set. BENCH_KEEP_DATABASE=1 keeps a PostgreSQL one and prints its URL.
 */
export async function benchDatabase(): Promise<{ handle: DatabaseHandle; url?: string; drop(): Promise<void> }> {
  const adminUrl = process.env.BENCH_DATABASE_URL;
  if (!adminUrl) {
    const handle = openDatabase({ dataDir: "memory://" });
    await migrateDatabase(handle);
    return { handle, drop: () => handle.close() };
  }
  const name = `ocp_bench_${randomBytes(4).toString("hex")}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  const handle = openDatabase({ databaseUrl: u.toString() });
  await migrateDatabase(handle);
  return {
    handle,
    url: u.toString(),
    drop: async () => {
      await handle.close();
      if (process.env.BENCH_KEEP_DATABASE === "1") console.log(`kept ${u.toString()}`);
      else await admin.unsafe(`drop database ${name} with (force)`);
      await admin.end();
    },
  };
}

export function ms(start: number): string {
  return `${(performance.now() - start).toFixed(0)} ms`;
}

export function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(0)} MiB`;
}
