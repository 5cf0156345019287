import { readFileSync } from "node:fs";
import { PGlite } from "@electric-sql/pglite";
import { drizzle } from "drizzle-orm/pglite";
import postgres from "postgres";
import { afterAll, beforeAll, describe, inject } from "vitest";
import { openDatabase, PGLITE_EXTENSIONS, type Database, type DatabaseHandle, type DatabaseKind } from "../../db/client.server";
import { migrateDatabase } from "../../db/migrate.server";
import * as schema from "../../db/schema";
import { seedDemo } from "../../db/seed";
import { FIXTURE_WAIT_MS, ready, testDatabaseName, type DatabaseFixtures } from "./database-fixtures";

export interface TestDatabase {
  kind: DatabaseKind;
  db: Database;
  handle: DatabaseHandle;
  /** Set for PostgreSQL: a URL to open more connections to the same database (concurrency tests). */
  url?: string;
}

export interface TestDatabaseOptions {
  /** Start with the demo seeded (`seedDemo`), cloned from the run's seeded snapshot or template. */
  demo?: boolean;
  /** Migrate (and seed) from scratch instead of cloning the run's fixture: for tests about migrations themselves. */
  fresh?: boolean;
  /** Not migrated at all: a database as a new server finds it. */
  unmigrated?: boolean;
}

export interface SuiteOptions {
  demo?: boolean;
  /**
   * Part of PGlite's compatibility subset: run on PGlite even when PostgreSQL is tested too. Without it a suite runs
   * on PostgreSQL when TEST_DATABASE_URL is set, and on PGlite when it is not (docs/decisions/013-test-fixtures.md).
   */
  compatibility?: boolean;
}

/** The databases this run tests against: PGlite always, PostgreSQL when TEST_DATABASE_URL is set. */
export function databaseKinds(): DatabaseKind[] {
  return process.env.TEST_DATABASE_URL ? ["pglite", "postgres"] : ["pglite"];
}

/**
 * The databases a suite runs on: with PostgreSQL in the run, PostgreSQL (the production database), and PGlite too
 * for the compatibility subset; without it, PGlite. Every suite runs on PGlite in a run without PostgreSQL.
 */
export function suiteKinds({ compatibility = false }: Pick<SuiteOptions, "compatibility"> = {}): DatabaseKind[] {
  if (!databaseKinds().includes("postgres")) return ["pglite"];
  return compatibility ? ["pglite", "postgres"] : ["postgres"];
}

/** What the run's global setup made once (test/support/global-setup.ts), or null when it did not run. */
function fixtures(): DatabaseFixtures | null {
  return inject("databaseFixtures") ?? null;
}

/** A PGlite in memory started from a data-directory snapshot (a tarball written by `dumpDataDir`). */
function pgliteFromSnapshot(file: string): DatabaseHandle {
  const client = new PGlite({ loadDataDir: new Blob([readFileSync(file)]), extensions: PGLITE_EXTENSIONS });
  const db = drizzle({ client, schema }) as unknown as Database;
  return { db, kind: "pglite", location: "memory:// (from the run's snapshot)", close: () => client.close() };
}

/**
 * A database of its own for a test file, migrated (and with `demo`, seeded): in-memory PGlite loaded from the run's
 * snapshot, or a new PostgreSQL database copied from the run's template, which drop() removes. With `fresh`, or where
 * the global setup did not run, it is migrated (and seeded) from scratch; with `unmigrated` it is left empty.
 */
export async function createTestDatabase(
  kind: DatabaseKind,
  { demo = false, fresh = false, unmigrated = false }: TestDatabaseOptions = {},
): Promise<TestDatabase & { drop(): Promise<void> }> {
  const made = fixtures();
  const clone: "empty" | "migrated" | "demo" = fresh || unmigrated ? "empty" : demo ? "demo" : "migrated";
  const prepare = async (handle: DatabaseHandle, cloned: boolean) => {
    if (unmigrated || (cloned && clone !== "empty")) return;
    await migrateDatabase(handle);
    if (demo) await seedDemo(handle.db);
  };
  if (kind === "pglite") {
    if (made) await ready(made, "pglite");
    const snapshot = made?.pglite[clone];
    const handle = snapshot ? pgliteFromSnapshot(snapshot) : openDatabase({ dataDir: "memory://" });
    await prepare(handle, Boolean(snapshot));
    return { kind, db: handle.db, handle, drop: () => handle.close() };
  }
  const adminUrl = process.env.TEST_DATABASE_URL;
  if (!adminUrl) throw new Error("TEST_DATABASE_URL is not set");
  const template = clone === "empty" ? undefined : made?.postgres?.[clone];
  if (made && template) await ready(made, "postgres");
  const name = testDatabaseName("ocp_test");
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(template ? `create database ${name} template ${template}` : `create database ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const handle = openDatabase({ databaseUrl: url.toString(), maxConnections: 10 });
  await prepare(handle, Boolean(template));
  return {
    kind,
    db: handle.db,
    handle,
    url: url.toString(),
    drop: async () => {
      await handle.close();
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end({ timeout: 5 });
    },
  };
}

/**
 * An embedded database in a data folder on disk, as `npm start` keeps it, holding a copy of the run's migrated (or,
 * with `demo`, seeded) snapshot; without the global setup, migrated (and seeded) there from scratch.
 */
export async function openDataDirFromSnapshot(dataDir: string, { demo = false }: { demo?: boolean } = {}): Promise<DatabaseHandle> {
  const made = fixtures();
  if (made) await ready(made, "pglite");
  const snapshot = made?.pglite[demo ? "demo" : "migrated"];
  if (!snapshot) {
    const handle = openDatabase({ dataDir });
    await migrateDatabase(handle);
    if (demo) await seedDemo(handle.db);
    return handle;
  }
  const client = new PGlite(dataDir, { loadDataDir: new Blob([readFileSync(snapshot)]), extensions: PGLITE_EXTENSIONS });
  await client.waitReady;
  const db = drizzle({ client, schema }) as unknown as Database;
  return { db, kind: "pglite", location: dataDir, close: () => client.close() };
}

/**
 * Runs a suite on each database of `suiteKinds(options)`. Inside, `use()` gives the suite's database: its own, cloned
 * from the run's migrated (or, with `demo`, seeded) fixture, and dropped afterwards.
 */
export function describeEachDatabase(name: string, suite: (use: () => TestDatabase) => void): void;
export function describeEachDatabase(name: string, options: SuiteOptions, suite: (use: () => TestDatabase) => void): void;
export function describeEachDatabase(
  name: string,
  optionsOrSuite: SuiteOptions | ((use: () => TestDatabase) => void),
  maybeSuite?: (use: () => TestDatabase) => void,
): void {
  const options = typeof optionsOrSuite === "function" ? {} : optionsOrSuite;
  const suite = typeof optionsOrSuite === "function" ? optionsOrSuite : maybeSuite!;
  for (const kind of suiteKinds(options)) {
    describe(`${name} [${kind}]`, () => {
      let current: (TestDatabase & { drop(): Promise<void> }) | null = null;
      // Its own time limit: the first files of a run may wait for the run's fixtures to be made.
      beforeAll(async () => {
        current = await createTestDatabase(kind, { demo: options.demo });
      }, FIXTURE_WAIT_MS + 60_000);
      afterAll(async () => {
        await current?.drop();
      });
      suite(() => {
        if (!current) throw new Error("test database not ready");
        return current;
      });
    });
  }
}
