import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { PGlite } from "@electric-sql/pglite";
import postgres from "postgres";
import { openDatabase, type DatabaseHandle, type DatabaseKind } from "../../db/client.server";
import { migrateDatabase } from "../../db/migrate.server";
import { seedDemo } from "../../db/seed";

/**
 * The databases a run migrates and seeds once, for every test file to clone (docs/decisions/013-test-fixtures.md):
 * PGlite data-directory snapshots (tarballs of `dumpDataDir`) and PostgreSQL template databases. The global setup
 * names them and starts making them; the unit tests run meanwhile, and a test file that needs one waits until
 * `ready` says it is there.
 */
export interface DatabaseFixtures {
  runDir: string;
  /** Snapshot files: straight after initdb (no schema), migrated, and migrated with the demo seeded. */
  pglite: { empty: string; migrated: string; demo: string };
  /** Template database names; null when the run has no PostgreSQL. */
  postgres: { migrated: string; demo: string } | null;
}

const DAY_MS = 24 * 60 * 60 * 1000;
export const RUN_DIR_PREFIX = "ocp-test-run-";
/** How long a test file waits for the run's fixtures before it fails. */
export const FIXTURE_WAIT_MS = 180_000;

/** A database name carrying the time it was made, so that a later run can tell a crashed run's leftovers by age. */
export function testDatabaseName(prefix: "ocp_test" | "ocp_tpl"): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`;
}

/** When a database named by testDatabaseName was made; null for any other name. */
export function madeAt(name: string): Date | null {
  const stamp = /^ocp_(?:test|tpl)_([0-9a-z]+)_[0-9a-f]{8}(?:_demo)?$/.exec(name)?.[1];
  return stamp ? new Date(parseInt(stamp, 36)) : null;
}

/** The names of a run's fixtures, before they exist. */
export function nameFixtures(runDir: string, withPostgres: boolean): DatabaseFixtures {
  const template = testDatabaseName("ocp_tpl");
  return {
    runDir,
    pglite: {
      empty: path.join(runDir, "pglite-empty.tar"),
      migrated: path.join(runDir, "pglite-migrated.tar"),
      demo: path.join(runDir, "pglite-demo.tar"),
    },
    postgres: withPostgres ? { migrated: template, demo: `${template}_demo` } : null,
  };
}

const outcomeFile = (runDir: string, kind: DatabaseKind) => path.join(runDir, `${kind}.outcome.json`);

/** Writes, once, whether the fixtures of one database kind were made: what `ready` waits for. */
export function recordOutcome(runDir: string, kind: DatabaseKind, error: unknown = null): void {
  const file = outcomeFile(runDir, kind);
  if (existsSync(file)) return;
  const outcome = error === null ? { ok: true } : { ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) };
  writeFileSync(`${file}.tmp`, JSON.stringify(outcome));
  renameSync(`${file}.tmp`, file);
}

/** Waits until the run's fixtures of this kind are made; fails with the reason they could not be. */
export async function ready(fixtures: DatabaseFixtures, kind: DatabaseKind): Promise<void> {
  const file = outcomeFile(fixtures.runDir, kind);
  const deadline = Date.now() + FIXTURE_WAIT_MS;
  while (!existsSync(file)) {
    if (Date.now() > deadline) throw new Error(`the run's ${kind} fixtures were not made within ${FIXTURE_WAIT_MS / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const outcome = JSON.parse(readFileSync(file, "utf8")) as { ok: boolean; error?: string };
  if (!outcome.ok) throw new Error(`the run's ${kind} fixtures could not be made: ${outcome.error}`);
}

/** PGlite as a snapshot file three times: new (initdb is most of a new PGlite's start-up), migrated, and seeded. */
export async function makePgliteSnapshots(files: DatabaseFixtures["pglite"]): Promise<void> {
  const handle = openDatabase({ dataDir: "memory://" });
  try {
    const client = (handle.db as unknown as { $client: PGlite }).$client;
    await client.waitReady;
    const dump = async (file: string) => {
      writeFileSync(`${file}.tmp`, Buffer.from(await (await client.dumpDataDir("none")).arrayBuffer()));
      renameSync(`${file}.tmp`, file);
    };
    await dump(files.empty);
    await migrateDatabase(handle);
    await dump(files.migrated);
    await seedDemo(handle.db);
    await dump(files.demo);
  } finally {
    await handle.close();
  }
}

function urlOf(adminUrl: string, database: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

/** The two template databases on PostgreSQL: migrated, and migrated with the demo seeded. */
export async function makePostgresTemplates(adminUrl: string, names: NonNullable<DatabaseFixtures["postgres"]>): Promise<void> {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  const prepare = async (name: string, work: (handle: DatabaseHandle) => Promise<unknown>) => {
    const handle = openDatabase({ databaseUrl: urlOf(adminUrl, name), maxConnections: 1 });
    try {
      await work(handle);
    } finally {
      await handle.close();
    }
  };
  try {
    await admin.unsafe(`create database ${names.migrated}`);
    await prepare(names.migrated, migrateDatabase);
    await admin.unsafe(`create database ${names.demo} template ${names.migrated}`);
    await prepare(names.demo, (handle) => seedDemo(handle.db));
  } finally {
    await admin.end({ timeout: 5 });
  }
}

export async function dropPostgresTemplates(adminUrl: string, names: NonNullable<DatabaseFixtures["postgres"]>): Promise<void> {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`drop database if exists ${names.demo} with (force)`);
    await admin.unsafe(`drop database if exists ${names.migrated} with (force)`);
  } finally {
    await admin.end({ timeout: 5 });
  }
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
