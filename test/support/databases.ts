import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { afterAll, beforeAll, describe } from "vitest";
import { openDatabase, type Database, type DatabaseHandle, type DatabaseKind } from "../../db/client.server";
import { migrateDatabase } from "../../db/migrate.server";

export interface TestDatabase {
  kind: DatabaseKind;
  db: Database;
  handle: DatabaseHandle;
  /** Set for PostgreSQL: a URL to open more connections to the same database (concurrency tests). */
  url?: string;
}

/** The databases this run tests against: PGlite always, PostgreSQL when TEST_DATABASE_URL is set. */
export function databaseKinds(): DatabaseKind[] {
  return process.env.TEST_DATABASE_URL ? ["pglite", "postgres"] : ["pglite"];
}

/** A fresh, migrated database: in-memory PGlite, or a new PostgreSQL database that drop() removes. */
export async function createTestDatabase(kind: DatabaseKind): Promise<TestDatabase & { drop(): Promise<void> }> {
  if (kind === "pglite") {
    const handle = openDatabase({ dataDir: "memory://" });
    await migrateDatabase(handle);
    return { kind, db: handle.db, handle, drop: () => handle.close() };
  }
  const adminUrl = process.env.TEST_DATABASE_URL;
  if (!adminUrl) throw new Error("TEST_DATABASE_URL is not set");
  const name = `ocp_test_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const handle = openDatabase({ databaseUrl: url.toString(), maxConnections: 10 });
  await migrateDatabase(handle);
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
 * Runs a suite once per database. Inside, `use()` gives the suite's database; each suite gets its own,
 * migrated from scratch, and dropped afterwards.
 */
export function describeEachDatabase(name: string, suite: (use: () => TestDatabase) => void) {
  for (const kind of databaseKinds()) {
    describe(`${name} [${kind}]`, () => {
      let current: (TestDatabase & { drop(): Promise<void> }) | null = null;
      beforeAll(async () => {
        current = await createTestDatabase(kind);
      });
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
