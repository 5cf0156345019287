import { stringify } from "csv-stringify/sync";
import { and, desc, eq, gte, like, lt, or, sql, type SQL } from "drizzle-orm";
import { z } from "zod";
import { auditEvents, type AuditEvent } from "../../../db/schema";
import { endOfHongKongDay, isCalendarDay, parseInstant } from "~/lib/hong-kong-time";
import { defineCommand } from "../command.server";
import { tenantOf, whereTenant } from "../tenancy.server";
import type { ServiceContext } from "../context.server";
import { userNamesIn } from "../onboarding/service.server";

/**
 * Hong Kong local date-time (from a datetime-local or date input) to an instant; a day alone means its start (from)
 * or its end (to). Anything unreadable or outside 1900–9999 is ignored, like every other unreadable filter.
 */
function hongKongInstant(value: string | undefined, endOfDay: boolean): Date | undefined {
  if (!value) return undefined;
  if (endOfDay && isCalendarDay(value)) return endOfHongKongDay(value);
  return parseInstant(value) ?? undefined;
}

const optional = (max: number, pattern?: RegExp) =>
  z
    .string()
    .trim()
    .max(max)
    .optional()
    .catch(undefined)
    .transform((v) => (v && (!pattern || pattern.test(v)) ? v : undefined));

/** The explorer's filters, from a query string; anything unreadable is ignored rather than refused. */
export const auditFilterSchema = z.object({
  participantId: optional(8, /^[A-Z][0-9]{5}$|^platform$/),
  actorUserId: optional(100),
  userId: optional(100),
  action: optional(100, /^[a-z_.*]+$/),
  entityType: optional(50, /^[a-z_]+$/),
  entityId: optional(200),
  from: optional(40),
  to: optional(40),
});
export type AuditFilters = Partial<z.infer<typeof auditFilterSchema>>;

export function parseAuditFilters(params: URLSearchParams): AuditFilters {
  return auditFilterSchema.parse(Object.fromEntries([...params.entries()].filter(([k]) => k in auditFilterSchema.shape)));
}

/** The where clause of a filtered view, with the actor's scope applied: a DA sees only their own participant. */
export function whereOf(ctx: ServiceContext, capability: "audit:read" | "audit:export", f: AuditFilters): SQL | undefined {
  const conditions: (SQL | undefined)[] = [whereTenant(ctx.actor, capability, auditEvents.participantId)];
  if (f.participantId === "platform") conditions.push(sql`${auditEvents.participantId} is null`);
  else if (f.participantId) conditions.push(eq(auditEvents.participantId, f.participantId));
  if (f.actorUserId) conditions.push(eq(auditEvents.actorUserId, f.actorUserId));
  if (f.userId) {
    conditions.push(
      or(
        and(eq(auditEvents.entityType, "user"), eq(auditEvents.entityId, f.userId)),
        sql`(${auditEvents.metadata}->>'userId') = ${f.userId}`,
        eq(auditEvents.onBehalfOfUserId, f.userId),
      ),
    );
  }
  if (f.action) {
    if (f.action.endsWith("*") || f.action.endsWith(".")) conditions.push(like(auditEvents.action, `${f.action.replace(/\*$/, "")}%`));
    else conditions.push(eq(auditEvents.action, f.action));
  }
  if (f.entityType) conditions.push(eq(auditEvents.entityType, f.entityType));
  if (f.entityId) conditions.push(eq(auditEvents.entityId, f.entityId));
  const from = hongKongInstant(f.from, false);
  const to = hongKongInstant(f.to, true);
  if (from) conditions.push(gte(auditEvents.occurredAt, from));
  if (to) conditions.push(lt(auditEvents.occurredAt, new Date(to.getTime() + 1)));
  return and(...conditions);
}

export interface Cursor {
  occurredAt: Date;
  id: number;
}

export function encodeCursor(e: Pick<AuditEvent, "occurredAt" | "id">): string {
  return Buffer.from(`${e.occurredAt.toISOString()}|${e.id}`).toString("base64url");
}

export function decodeCursor(value: string | null | undefined): Cursor | null {
  if (!value) return null;
  const [time, id] = Buffer.from(value, "base64url").toString("utf8").split("|");
  const occurredAt = new Date(time ?? "");
  const n = Number(id);
  return Number.isNaN(occurredAt.getTime()) || !Number.isSafeInteger(n) ? null : { occurredAt, id: n };
}

/** Keyset: strictly older than the cursor in (time, id) order, which the (…, occurred_at desc, id desc) indexes serve. */
function after(cursor: Cursor | null): SQL | undefined {
  // Parameters bound in raw SQL are not mapped by column type: the time goes as text with an explicit cast.
  return cursor
    ? sql`(${auditEvents.occurredAt}, ${auditEvents.id}) < (${cursor.occurredAt.toISOString()}::timestamptz, ${cursor.id}::bigint)`
    : undefined;
}

async function page(ctx: ServiceContext, where: SQL | undefined, cursor: Cursor | null, limit: number): Promise<AuditEvent[]> {
  return ctx.db
    .select()
    .from(auditEvents)
    .where(and(where, after(cursor)))
    .orderBy(desc(auditEvents.occurredAt), desc(auditEvents.id))
    .limit(limit);
}

export interface ExplorerPage {
  events: AuditEvent[];
  nextCursor: string | null;
  userNames: Record<string, string>;
}

/** One page of the explorer, newest first; never OFFSET, so the thousandth page costs what the first does. */
export async function exploreAudit(ctx: ServiceContext, filters: AuditFilters, cursor: string | null, limit = 50): Promise<ExplorerPage> {
  const size = Math.min(Math.max(limit, 1), 200);
  const rows = await page(ctx, whereOf(ctx, "audit:read", filters), decodeCursor(cursor), size + 1);
  const events = rows.slice(0, size);
  return {
    events,
    nextCursor: rows.length > size ? encodeCursor(events[events.length - 1]!) : null,
    userNames: await userNamesIn(ctx.db, events),
  };
}

export const EXPORT_COLUMNS = [
  "id",
  "occurred_at",
  "chain",
  "seq",
  "participant_id",
  "actor_user_id",
  "actor_name",
  "actor_persona",
  "on_behalf_of_user_id",
  "ticket_ref",
  "action",
  "entity_type",
  "entity_id",
  "reason",
  "changes",
  "metadata",
  "request_id",
  "ip",
  "user_agent",
  "hash",
] as const;

function exportRecord(e: AuditEvent) {
  return {
    id: e.id,
    occurred_at: e.occurredAt.toISOString(),
    chain: e.chainKey,
    seq: e.seq,
    participant_id: e.participantId,
    actor_user_id: e.actorUserId,
    actor_name: e.actorName,
    actor_persona: e.actorPersona,
    on_behalf_of_user_id: e.onBehalfOfUserId,
    ticket_ref: e.ticketRef,
    action: e.action,
    entity_type: e.entityType,
    entity_id: e.entityId,
    reason: e.reason,
    changes: e.changes,
    metadata: e.metadata,
    request_id: e.requestId,
    ip: e.ip,
    user_agent: e.userAgent,
    hash: e.hash,
  };
}

/**
 * A cell a spreadsheet would run as a formula (=, +, -, @, tab, carriage return first) is made inert with a
 * leading apostrophe (OWASP's advice); the value is otherwise unchanged.
 */
export function inertCell(value: string): string {
  return /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
}

function csvLine(e: AuditEvent): string {
  const r = exportRecord(e);
  const cells = EXPORT_COLUMNS.map((c) => {
    const v = r[c];
    if (v === null || v === undefined) return "";
    return inertCell(typeof v === "object" ? JSON.stringify(v) : String(v));
  });
  // RFC 4180: a cell holding any line break is quoted; csv-stringify quotes only the record delimiter by itself.
  return stringify([cells], { record_delimiter: "\r\n", quoted_match: /[\r\n]/ });
}

export type ExportFormat = "csv" | "jsonl";

/**
 * An export is recorded before its first byte is sent (SPEC §8: every export is an audit event), on the chain of
 * what it reads: the participant's for a participant administrator, the platform's for HKEX staff. A GET that
 * writes, on purpose: who took the history out matters as much as who changed it.
 */
const recordExport = defineCommand({
  name: "audit.recordExport",
  permission: "audit:export",
  input: z.object({ format: z.enum(["csv", "jsonl"]), filters: z.record(z.string(), z.unknown()) }),
  events: ["audit.exported"],
  tenant: (_tx, _input, actor) => tenantOf(actor, "audit:export"),
  lockParticipant: false,
  async run(cx): Promise<void> {
    cx.audit({ action: "audit.exported", entityType: "audit_export", entityId: null, participantId: cx.participantId, metadata: { format: cx.input.format, filters: cx.input.filters } });
  },
});

/**
 * A filtered view as CSV (RFC 4180) or JSON lines, streamed in keyset batches so that memory stays flat however
 * many events match. The export itself is audited before the first byte is sent.
 */
export async function exportAudit(ctx: ServiceContext, filters: AuditFilters, format: ExportFormat, batchSize = 1000): Promise<ReadableStream<Uint8Array>> {
  const where = whereOf(ctx, "audit:export", filters);
  await recordExport(ctx, { format, filters });
  const encoder = new TextEncoder();
  let cursor: Cursor | null = null;
  let headerSent = false;
  let done = false;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (done) return;
      if (format === "csv" && !headerSent) {
        headerSent = true;
        controller.enqueue(encoder.encode(stringify([EXPORT_COLUMNS as unknown as string[]], { record_delimiter: "\r\n" })));
        return;
      }
      const rows = await page(ctx, where, cursor, batchSize);
      if (rows.length === 0) {
        done = true;
        controller.close();
        return;
      }
      const last = rows[rows.length - 1]!;
      cursor = { occurredAt: last.occurredAt, id: last.id };
      const text = rows.map((e) => (format === "csv" ? csvLine(e) : `${JSON.stringify(exportRecord(e))}\n`)).join("");
      controller.enqueue(encoder.encode(text));
      if (rows.length < batchSize) {
        done = true;
        controller.close();
      }
    },
  });
}
