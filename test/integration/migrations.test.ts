import { readFileSync } from "node:fs";
import path from "node:path";
import { sql } from "drizzle-orm";
import { expect, it } from "vitest";
import { openDatabase, type Database } from "../../db/client.server";
import { MIGRATIONS_FOLDER, migrateDatabase } from "../../db/migrate.server";
import { createTestDatabase, describeEachDatabase } from "../support/databases";

/**
 * Test files start from a copy of a database the run migrated once (docs/decisions/013-test-fixtures.md). These tests
 * run the migrations themselves: from nothing to the schema the copies have, a second time to no effect, and, on
 * PostgreSQL, from several servers starting at once.
 */

const MIGRATIONS = (JSON.parse(readFileSync(path.join(MIGRATIONS_FOLDER, "meta/_journal.json"), "utf8")) as { entries: unknown[] }).entries.length;

async function rows<T>(db: Database, query: ReturnType<typeof sql>): Promise<T[]> {
  const result = (await db.execute(query)) as unknown as { rows?: T[] } | T[];
  return Array.isArray(result) ? result : (result.rows ?? []);
}

/** What the migrations make: tables and columns, indexes, constraints, triggers and functions. */
async function schemaOf(db: Database) {
  return {
    columns: await rows(db, sql`
      select table_name, column_name, data_type, is_nullable, column_default from information_schema.columns
      where table_schema = 'public' order by table_name, column_name`),
    indexes: await rows(db, sql`select tablename, indexname, indexdef from pg_indexes where schemaname = 'public' order by indexname`),
    constraints: await rows(db, sql`
      select conrelid::regclass::text as on_table, conname, pg_get_constraintdef(oid) as definition from pg_constraint
      where connamespace = 'public'::regnamespace order by on_table, conname`),
    triggers: await rows(db, sql`
      select tgrelid::regclass::text as on_table, tgname from pg_trigger where not tgisinternal order by on_table, tgname`),
    functions: await rows(db, sql`
      select proname, md5(prosrc) as body from pg_proc where pronamespace = 'public'::regnamespace order by proname`),
  };
}

async function migrationsApplied(db: Database): Promise<number> {
  const [row] = await rows<{ n: number }>(db, sql`select count(*)::int as n from drizzle.__drizzle_migrations`);
  return Number(row?.n ?? 0);
}

describeEachDatabase("migrations", { compatibility: true }, (use) => {
  it("take a new database to the schema every test file starts from", async () => {
    const fresh = await createTestDatabase(use().kind, { fresh: true });
    try {
      expect(await migrationsApplied(fresh.db)).toBe(MIGRATIONS);
      expect(await schemaOf(fresh.db)).toEqual(await schemaOf(use().db));
      expect((await schemaOf(fresh.db)).columns.length).toBeGreaterThan(50);
    } finally {
      await fresh.drop();
    }
  });

  it("change nothing when run again on a migrated database", async () => {
    const before = await schemaOf(use().db);
    await migrateDatabase(use().handle);
    expect(await migrationsApplied(use().db)).toBe(MIGRATIONS);
    expect(await schemaOf(use().db)).toEqual(before);
  });

  it("run once when several servers start together: the others wait for the lock, then find nothing to do", async (ctx) => {
    if (use().kind !== "postgres") ctx.skip();
    const target = await createTestDatabase("postgres", { unmigrated: true });
    const servers = [1, 2, 3].map(() => openDatabase({ databaseUrl: target.url!, maxConnections: 1 }));
    try {
      await Promise.all(servers.map((server) => migrateDatabase(server)));
      expect(await migrationsApplied(target.db)).toBe(MIGRATIONS);
      expect(await schemaOf(target.db)).toEqual(await schemaOf(use().db));
    } finally {
      await Promise.all(servers.map((server) => server.close()));
      await target.drop();
    }
  });
});
