import { randomBytes } from "node:crypto";
import { readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { PGlite } from "@electric-sql/pglite";
import postgres from "postgres";
import { openDatabase, type DatabaseHandle } from "../../db/client.server";
import { migrateDatabase } from "../../db/migrate.server";
import { seedDemo } from "../../db/seed";

/**
 * The databases a run migrates and seeds once, for every test file to clone (docs/decisions/013-test-fixtures.md):
 * PGlite data-directory snapshots (tarballs of `dumpDataDir`) and PostgreSQL template databases.
 */
export interface DatabaseFixtures {
  /** Snapshot files: straight after initdb (no schema), migrated, and migrated with the demo seeded. */
  pglite: { empty: string; migrated: string; demo: string };
  /** Template database names; null when the run has no PostgreSQL. */
  postgres: { migrated: string; demo: string } | null;
}

const DAY_MS = 24 * 60 * 60 * 1000;
export const RUN_DIR_PREFIX = "ocp-test-run-";

/** A database name carrying the time it was made, so that a later run can tell a crashed run's leftovers by age. */
export function testDatabaseName(prefix: "ocp_test" | "ocp_tpl"): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`;
}

/** When a database named by testDatabaseName was made; null for any other name. */
export function madeAt(name: string): Date | null {
  const stamp = /^ocp_(?:test|tpl)_([0-9a-z]+)_[0-9a-f]{8}(?:_demo)?$/.exec(name)?.[1];
  return stamp ? new Date(parseInt(stamp, 36)) : null;
}

function urlOf(adminUrl: string, database: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

/** PGlite as a snapshot file three times: new (initdb is most of a new PGlite's start-up), migrated, and seeded. */
export async function makePgliteSnapshots(runDir: string): Promise<DatabaseFixtures["pglite"]> {
  const handle = openDatabase({ dataDir: "memory://" });
  try {
    const client = (handle.db as unknown as { $client: PGlite }).$client;
    const dump = async (file: string) => {
      writeFileSync(file, Buffer.from(await (await client.dumpDataDir("none")).arrayBuffer()));
      return file;
    };
    await client.waitReady;
    const empty = await dump(path.join(runDir, "pglite-empty.tar"));
    await migrateDatabase(handle);
    const migrated = await dump(path.join(runDir, "pglite-migrated.tar"));
    await seedDemo(handle.db);
    const demo = await dump(path.join(runDir, "pglite-demo.tar"));
    return { empty, migrated, demo };
  } finally {
    await handle.close();
  }
}

/** Two template databases on PostgreSQL: migrated, and migrated with the demo seeded. drop() removes both. */
export async function makePostgresTemplates(adminUrl: string): Promise<{ templates: NonNullable<DatabaseFixtures["postgres"]>; drop(): Promise<void> }> {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  const migrated = testDatabaseName("ocp_tpl");
  const demo = `${migrated}_demo`;
  const prepare = async (name: string, work: (handle: DatabaseHandle) => Promise<unknown>) => {
    const handle = openDatabase({ databaseUrl: urlOf(adminUrl, name), maxConnections: 1 });
    try {
      await work(handle);
    } finally {
      await handle.close();
    }
  };
  try {
    await admin.unsafe(`create database ${migrated}`);
    await prepare(migrated, migrateDatabase);
    await admin.unsafe(`create database ${demo} template ${migrated}`);
    await prepare(demo, (handle) => seedDemo(handle.db));
  } catch (error) {
    await admin.unsafe(`drop database if exists ${demo} with (force)`).catch(() => {});
    await admin.unsafe(`drop database if exists ${migrated} with (force)`).catch(() => {});
    await admin.end({ timeout: 5 });
    throw error;
  }
  return {
    templates: { migrated, demo },
    drop: async () => {
      await admin.unsafe(`drop database if exists ${demo} with (force)`);
      await admin.unsafe(`drop database if exists ${migrated} with (force)`);
      await admin.end({ timeout: 5 });
    },
  };
}

/**
 * Makes what a crashed run left behind harmless: its test and template databases and its snapshot folder, once they
 * are more than a day old (a run in progress elsewhere on the same server is never that old).
 */
export async function dropLeftovers(adminUrl: string | null, now = new Date()): Promise<string[]> {
  const dropped: string[] = [];
  const old = (at: Date | null) => at !== null && now.getTime() - at.getTime() > DAY_MS;
  if (adminUrl) {
    const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
    try {
      const rows = await admin<{ datname: string }[]>`
        select datname from pg_database where datname like 'ocp\\_test\\_%' or datname like 'ocp\\_tpl\\_%'`;
      for (const { datname } of rows) {
        if (!old(madeAt(datname))) continue;
        await admin.unsafe(`drop database if exists ${datname} with (force)`);
        dropped.push(datname);
      }
    } finally {
      await admin.end({ timeout: 5 });
    }
  }
  for (const entry of readdirSync(tmpdir())) {
    if (!entry.startsWith(RUN_DIR_PREFIX)) continue;
    const folder = path.join(tmpdir(), entry);
    if (!old(statSync(folder).mtime)) continue;
    rmSync(folder, { recursive: true, force: true });
    dropped.push(folder);
  }
  return dropped;
}
