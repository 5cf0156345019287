import { sql } from "drizzle-orm";
import type { Database } from "../../../db/client.server";

/** Ready when the database answers and the schema is migrated (the audit chain table exists). */
export async function checkReadiness(db: Database): Promise<{ ready: boolean; problem?: string }> {
  try {
    await db.execute(sql`select 1 from audit_chain_heads limit 1`);
    return { ready: true };
  } catch (error) {
    return { ready: false, problem: error instanceof Error ? error.message.split("\n")[0] : "database error" };
  }
}
