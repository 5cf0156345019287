import { getTableName, sql } from "drizzle-orm";
import { PgTable } from "drizzle-orm/pg-core";
import type { Database } from "../../db/client.server";
import { rowsOf } from "../../db/client.server";
import * as schema from "../../db/schema";

/** Every table of the schema, by name. */
export const TABLES = (Object.values(schema) as unknown[]).filter((t): t is PgTable => t instanceof PgTable).map((t) => getTableName(t));

/**
 * Every row of every table (but `except`), as one digest per table, in one statement: any insert, update or delete
 * shows. The fuzz and fault tests compare one taken before with one taken after.
 */
export async function footprint(db: Database, except: readonly string[] = []): Promise<Record<string, string>> {
  const query = sql.raw(
    TABLES.filter((name) => !except.includes(name))
      .map((name) => `select '${name}' as name, count(*)::int || ':' || md5(coalesce(string_agg(t::text, '|' order by t::text), '')) as digest from "${name}" t`)
      .join(" union all "),
  );
  return Object.fromEntries(rowsOf<{ name: string; digest: string }>(await db.execute(query)).map((r) => [r.name, r.digest]));
}
