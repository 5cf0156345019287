import { asc, gt, max } from "drizzle-orm";
import type { Database } from "../../db/client.server";
import { auditEvents, type AuditEvent } from "../../db/schema";

/** The id of the newest audit event, to read what a test adds after it. */
export async function lastAuditId(db: Database): Promise<number> {
  const [row] = await db.select({ id: max(auditEvents.id) }).from(auditEvents);
  return Number(row?.id ?? 0);
}

/** The audit events written after `afterId`, oldest first. */
export function auditEventsSince(db: Database, afterId: number): Promise<AuditEvent[]> {
  return db.select().from(auditEvents).where(gt(auditEvents.id, afterId)).orderBy(asc(auditEvents.id));
}
