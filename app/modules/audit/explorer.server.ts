import { and, desc, eq, gte, like, lt, or, sql, type SQL } from "drizzle-orm";
import { z } from "zod";
import { rowsOf, type Database } from "../../../db/client.server";
import { auditEvents, type AuditEvent } from "../../../db/schema";
import { endOfHongKongDay, isCalendarDay, parseInstant } from "~/lib/hong-kong-time";
import { defineCommand } from "../command.server";
import { tenantOf, whereTenant } from "../tenancy.server";
import type { ServiceContext } from "../context.server";

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

/**
 * The three ways an event is about a user: the user is its entity, its metadata names the user, or it was done on
 * the user's behalf. Each has its own (…, occurred_at desc, id desc) index (migration 0020).
 */
function aboutUser(userId: string): [SQL, SQL, SQL] {
  return [
    and(eq(auditEvents.entityType, "user"), eq(auditEvents.entityId, userId))!,
    sql`(${auditEvents.metadata}->>'userId') = ${userId}`,
    eq(auditEvents.onBehalfOfUserId, userId),
  ];
}

/** The where clause of a filtered view, with the actor's scope applied: a DA sees only their own participant. */
export function whereOf(ctx: ServiceContext, capability: "audit:read" | "audit:export", f: AuditFilters): SQL | undefined {
  const conditions: (SQL | undefined)[] = [whereTenant(ctx.actor, capability, auditEvents.participantId)];
  if (f.participantId === "platform") conditions.push(sql`${auditEvents.participantId} is null`);
  else if (f.participantId) conditions.push(eq(auditEvents.participantId, f.participantId));
  if (f.actorUserId) conditions.push(eq(auditEvents.actorUserId, f.actorUserId));
  if (f.userId) conditions.push(or(...aboutUser(f.userId)));
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

/**
 * The where clause of the newest `limit` events of a filtered view past a keyset condition, for a page of the
 * explorer or a batch of the export (each then orders by time and id and takes `limit`). Filtered by a user, the
 * three ways an event is about the user joined by OR make PostgreSQL either sort all three sets or walk the whole
 * time index looking for them (seconds at 1.5M events for a user with few); so each is read newest first from its
 * own index, at most `limit` rows, and the rows wanted are those of the merged three: three short index walks,
 * however long the trail or the user's history.
 */
function newestOf(ctx: ServiceContext, capability: "audit:read" | "audit:export", f: AuditFilters, keyset: SQL | undefined, limit: number): SQL | undefined {
  if (!f.userId) return and(whereOf(ctx, capability, f), keyset);
  const rest = and(whereOf(ctx, capability, { ...f, userId: undefined }), keyset);
  const newest = (about: SQL) =>
    sql`(select ${auditEvents.id} as id, ${auditEvents.occurredAt} as at from ${auditEvents} where ${and(about, rest)} order by ${auditEvents.occurredAt} desc, ${auditEvents.id} desc limit ${limit}::int)`;
  const merged = sql.join(aboutUser(f.userId).map(newest), sql` union `);
  return sql`${auditEvents.id} in (select id from (${merged}) as about order by at desc, id desc limit ${limit}::int)`;
}

async function page(ctx: ServiceContext, filters: AuditFilters, cursor: Cursor | null, limit: number): Promise<AuditEvent[]> {
  return ctx.db
    .select()
    .from(auditEvents)
    .where(newestOf(ctx, "audit:read", filters, after(cursor), limit))
    .orderBy(desc(auditEvents.occurredAt), desc(auditEvents.id))
    .limit(limit);
}

export interface ExplorerPage {
  events: AuditEvent[];
  nextCursor: string | null;
}

/**
 * One page of the explorer, newest first; never OFFSET, so the thousandth page costs what the first does. The names
 * the events mention are the page's to look up (namesForEvents), in one batch with everything else they name.
 */
export async function exploreAudit(ctx: ServiceContext, filters: AuditFilters, cursor: string | null, limit = 50): Promise<ExplorerPage> {
  const size = Math.min(Math.max(limit, 1), 200);
  const rows = await page(ctx, filters, decodeCursor(cursor), size + 1);
  const events = rows.slice(0, size);
  return {
    events,
    nextCursor: rows.length > size ? encodeCursor(events[events.length - 1]!) : null,
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

/**
 * A cell a spreadsheet would run as a formula (=, +, -, @, tab, carriage return first) is made inert with a
 * leading apostrophe (OWASP's advice); the value is otherwise unchanged.
 */
export function inertCell(value: string): string {
  return /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
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

/** A CSV cell (RFC 4180) as csv-stringify writes it with this export's options: quoted when it holds a comma, a quote or a line break. */
function csvCell(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** An export row as the database gives it, raw: numbers and the time already as text, JSON as its text. */
interface ExportRow {
  id: string;
  occurred_at: string;
  chain: string;
  seq: string;
  participant_id: string | null;
  actor_user_id: string | null;
  actor_name: string | null;
  actor_persona: string | null;
  on_behalf_of_user_id: string | null;
  ticket_ref: string | null;
  action: string;
  entity_type: string;
  entity_id: string | null;
  reason: string | null;
  changes: string | null;
  metadata: string | null;
  request_id: string | null;
  ip: string | null;
  user_agent: string | null;
  hash: string;
}

const EXPORT_SELECT = sql.raw(`id::text as id, to_char(occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as occurred_at,
  chain_key as chain, seq::text as seq, participant_id, actor_user_id, actor_name, actor_persona, on_behalf_of_user_id, ticket_ref,
  action, entity_type, entity_id, reason, changes::text as changes, metadata::text as metadata, request_id, ip, user_agent, hash`);

/** One export batch, raw (no mapping to objects, no Date): the same rows, filter and order as the explorer's pages. */
async function exportBatch(ctx: ServiceContext, filters: AuditFilters, cursor: { occurredAt: string; id: string } | null, limit: number): Promise<ExportRow[]> {
  const keyset = cursor ? sql`(${auditEvents.occurredAt}, ${auditEvents.id}) < (${cursor.occurredAt}::timestamptz, ${cursor.id}::bigint)` : undefined;
  const condition = newestOf(ctx, "audit:export", filters, keyset, limit);
  return rowsOf<ExportRow>(
    await ctx.db.execute(sql`select ${EXPORT_SELECT} from ${auditEvents} ${condition ? sql`where ${condition}` : sql``}
      order by ${auditEvents.occurredAt} desc, ${auditEvents.id} desc limit ${limit}::int`),
  );
}

/** A JSON column as the export has always written it: JSON.stringify of the value (compact, in jsonb's key order). */
const compactJson = (text: string | null) => (text === null ? "null" : JSON.stringify(JSON.parse(text)));

/**
 * jsonb's text without the spaces PostgreSQL puts after `:` and `,`, which is JSON.stringify(JSON.parse(text)) for
 * the common case, in one pass and without building objects: jsonb writes strings with the same escapes as
 * JSON.stringify (`\"`, `\\`, `\b\f\n\r\t`, other control characters as lowercase `\u00xx`) and keys in its own
 * order, which JSON.parse keeps. Where the two could differ it answers null and the caller takes the slow way:
 * a number that is not a plain integer of at most 15 digits (jsonb keeps `1.50` and numbers beyond double
 * precision), and a key starting with a digit (JavaScript puts integer keys first).
 */
export function compactJsonbText(text: string): string | null {
  let out = "";
  let start = 0;
  const n = text.length;
  for (let i = 0; i < n; ) {
    const c = text.charCodeAt(i);
    if (c === 34) {
      // A string: to its closing quote, stepping over escapes.
      const first = text.charCodeAt(i + 1);
      i++;
      for (;;) {
        const d = text.charCodeAt(i);
        if (d === 92) i += 2;
        else if (d === 34 || Number.isNaN(d)) break;
        else i++;
      }
      i++;
      if (first >= 48 && first <= 57 && text.charCodeAt(i) === 58) return null;
    } else if (c === 32) {
      out += text.slice(start, i);
      i++;
      start = i;
    } else if (c === 45 || (c >= 48 && c <= 57)) {
      // A number: -?(0|[1-9][0-9]{0,14}) and nothing more.
      let j = c === 45 ? i + 1 : i;
      const lead = text.charCodeAt(j);
      const digits = j;
      while (j < n && text.charCodeAt(j) >= 48 && text.charCodeAt(j) <= 57) j++;
      const next = text.charCodeAt(j);
      if (j === digits || j - digits > 15 || (lead === 48 && j - digits > 1) || next === 46 || next === 101 || next === 69) return null;
      i = j;
    } else i++;
  }
  return start === 0 ? text : out + text.slice(start);
}

/** Either rule's first character or a character that needs quoting: most cells have neither and go as they are. */
const CSV_SPECIAL = /[",\r\n]|^[=+\-@\t]/;
const cell = (v: string | null): string => (v === null ? "" : CSV_SPECIAL.test(v) ? csvCell(inertCell(v)) : v);

/** A JSON column's CSV cell: compact JSON, made inert and quoted as any other cell would be. */
function jsonCell(text: string | null): string {
  if (text === null) return "";
  return cell(compactJsonbText(text) ?? compactJson(text));
}

function csvBatch(rows: ExportRow[]): string {
  const lines = new Array<string>(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    lines[i] =
      `${r.id},${r.occurred_at},${cell(r.chain)},${r.seq},${cell(r.participant_id)},${cell(r.actor_user_id)},${cell(r.actor_name)},` +
      `${cell(r.actor_persona)},${cell(r.on_behalf_of_user_id)},${cell(r.ticket_ref)},${cell(r.action)},${cell(r.entity_type)},` +
      `${cell(r.entity_id)},${cell(r.reason)},${jsonCell(r.changes)},${jsonCell(r.metadata)},` +
      `${cell(r.request_id)},${cell(r.ip)},${cell(r.user_agent)},${cell(r.hash)}\r\n`;
  }
  return lines.join("");
}

const parsedJson = (text: string | null): unknown => (text === null ? null : JSON.parse(text));

/** JSON lines: one JSON.stringify of the record per row (faster than writing it out member by member). */
function jsonlBatch(rows: ExportRow[]): string {
  let out = "";
  for (const r of rows) {
    out += `${JSON.stringify({
      id: Number(r.id),
      occurred_at: r.occurred_at,
      chain: r.chain,
      seq: Number(r.seq),
      participant_id: r.participant_id,
      actor_user_id: r.actor_user_id,
      actor_name: r.actor_name,
      actor_persona: r.actor_persona,
      on_behalf_of_user_id: r.on_behalf_of_user_id,
      ticket_ref: r.ticket_ref,
      action: r.action,
      entity_type: r.entity_type,
      entity_id: r.entity_id,
      reason: r.reason,
      changes: parsedJson(r.changes),
      metadata: parsedJson(r.metadata),
      request_id: r.request_id,
      ip: r.ip,
      user_agent: r.user_agent,
      hash: r.hash,
    } satisfies Record<(typeof EXPORT_COLUMNS)[number], unknown>)}\n`;
  }
  return out;
}

/**
 * A filtered view as CSV (RFC 4180) or JSON lines, streamed in keyset batches so that memory stays flat however
 * many events match. The export itself is audited before the first byte is sent. Each batch is read raw and
 * encoded as one string; the next batch is already being read while this one is encoded and sent. `room` is the
 * response's backpressure (AppContext.responseRoom): a batch is encoded only once the client has taken most of the
 * last, and the reading stops if the client goes.
 */
export async function exportAudit(
  ctx: ServiceContext,
  filters: AuditFilters,
  format: ExportFormat,
  batchSize = 1000,
  reader: Database = ctx.db,
  room: (limit?: number) => Promise<boolean> = async () => true,
): Promise<ReadableStream<Uint8Array>> {
  // The export's own event is written on the primary; the rows may come from a read replica (`reader`).
  await recordExport(ctx, { format, filters });
  const read: ServiceContext = { ...ctx, db: reader };
  const encoder = new TextEncoder();
  let pending: Promise<ExportRow[]> | null = exportBatch(read, filters, null, batchSize);
  // Read errors surface when the batch is awaited in pull; until then, do not report them as unhandled.
  pending.catch(() => undefined);
  let headerSent = false;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (format === "csv" && !headerSent) {
        headerSent = true;
        controller.enqueue(encoder.encode(`${EXPORT_COLUMNS.join(",")}\r\n`));
        return;
      }
      if (!pending) {
        controller.close();
        return;
      }
      const rows: ExportRow[] = await pending;
      const last = rows[rows.length - 1];
      pending = rows.length === batchSize && last ? exportBatch(read, filters, { occurredAt: last.occurred_at, id: last.id }, batchSize) : null;
      pending?.catch(() => undefined);
      // postgres.js sends a query from a later turn of the event loop: let it go out, so that the database reads the
      // next batch while this one is encoded, instead of after. And encode no more than the client is taking.
      const [open] = await Promise.all([room(), pending && new Promise<void>((resolve) => setImmediate(resolve))]);
      if (!open) {
        pending = null;
        controller.close();
        return;
      }
      if (rows.length > 0) controller.enqueue(encoder.encode(format === "csv" ? csvBatch(rows) : jsonlBatch(rows)));
      if (!pending) controller.close();
    },
    cancel() {
      pending = null;
    },
  });
}
