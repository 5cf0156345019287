import { and, asc, desc, eq, gt, inArray, lt, sql } from "drizzle-orm";
import { rowsOf, type Database, type Transaction } from "../../../db/client.server";
import { auditChainHeads, auditEvents, type AuditEvent, type FieldChanges } from "../../../db/schema";
import type { ServiceContext } from "../context.server";
import { whereTenant } from "../tenancy.server";
import type { AuditAction } from "./actions";
import { GENESIS_HASH, eventHash } from "./hash.server";

export const PLATFORM_CHAIN = "platform";

export interface AuditEventInput {
  action: AuditAction;
  entityType: string;
  entityId?: string | null;
  /** The participant the event is about; it selects the chain. Null for platform-wide events. */
  participantId?: string | null;
  changes?: FieldChanges | null;
  reason?: string | null;
  ticketRef?: string | null;
  onBehalfOfUserId?: string | null;
  metadata?: Record<string, unknown> | null;
  /** Overrides the actor's name when there is no actor (for example a failed sign-in). */
  actorName?: string | null;
  /** Who did it, when not the command's actor: the console itself completing an automatic step inside a user's change. */
  actor?: AuditActorContext["actor"];
}

/** What JSON (and so jsonb) keeps of a value: hashing this exact form makes the hash survive the round trip. */
function asStoredJson<T>(value: T | null | undefined): T | null {
  if (value === undefined || value === null) return null;
  return JSON.parse(JSON.stringify(value)) as T;
}

export type AuditActorContext = Pick<ServiceContext, "actor" | "requestId" | "ip" | "userAgent">;

/**
 * Appends one event to its chain, inside the caller's transaction: if the change rolls back, so does its event,
 * and if the event cannot be written, the change fails. Commands (app/modules/command.server.ts) append their
 * events through this; it takes only a transaction, never the plain database handle.
 */
export async function appendAuditEvent(tx: Transaction, ctx: AuditActorContext, input: AuditEventInput): Promise<void> {
  await appendAuditEvents(tx, ctx, [input]);
}

const INSERT_BATCH = 1000;

/**
 * Appends events in two round trips, however many there are (a bulk import's thousands in a few more): the heads
 * of the chains concerned are locked FOR UPDATE in one statement, in chain order so that two writers never wait on
 * each other crosswise; the events are hashed in sequence in memory; then one statement inserts them and advances
 * the heads. Writers in different processes take turns on a chain and never fork it.
 */
export async function appendAuditEvents(tx: Transaction, ctx: AuditActorContext, inputs: readonly AuditEventInput[]): Promise<void> {
  if (inputs.length === 0) return;
  const chains = [...new Set(inputs.map((i) => i.participantId ?? PLATFORM_CHAIN))].sort();
  const heads = await lockHeads(tx, chains);

  const occurredAt = new Date();
  const rows = inputs.map((input) => {
    const chainKey = input.participantId ?? PLATFORM_CHAIN;
    const head = heads.get(chainKey)!;
    const actor = input.actor ?? ctx.actor;
    const fields = {
      chainKey,
      seq: head.lastSeq + 1,
      prevHash: head.lastHash,
      occurredAt,
      actorUserId: actor.userId,
      actorName: input.actorName ?? actor.displayName,
      actorPersona: actor.persona === "none" ? null : actor.persona,
      onBehalfOfUserId: input.onBehalfOfUserId ?? null,
      ticketRef: input.ticketRef ?? null,
      participantId: input.participantId ?? null,
      action: input.action,
      entityType: input.entityType,
      entityId: input.entityId ?? null,
      changes: asStoredJson(input.changes),
      reason: input.reason ?? null,
      requestId: ctx.requestId,
      ip: ctx.ip,
      userAgent: ctx.userAgent,
      metadata: asStoredJson(input.metadata),
    };
    const hash = eventHash(fields);
    heads.set(chainKey, { lastSeq: fields.seq, lastHash: hash });
    return { ...fields, hash };
  });

  for (let i = 0; i < rows.length; i += INSERT_BATCH) {
    const batch = rows.slice(i, i + INSERT_BATCH);
    const last = i + INSERT_BATCH >= rows.length;
    const values = sql.join(
      batch.map(
        (r) => sql`(${r.chainKey}, ${r.seq}::bigint, ${r.occurredAt.toISOString()}::timestamptz, ${r.actorUserId}, ${r.actorName}, ${r.actorPersona},
          ${r.onBehalfOfUserId}, ${r.ticketRef}, ${r.participantId}, ${r.action}, ${r.entityType}, ${r.entityId},
          ${r.changes === null ? null : JSON.stringify(r.changes)}::jsonb, ${r.reason}, ${r.requestId}, ${r.ip}, ${r.userAgent},
          ${r.metadata === null ? null : JSON.stringify(r.metadata)}::jsonb, ${r.prevHash}, ${r.hash})`,
      ),
      sql`, `,
    );
    const insert = sql`insert into ${auditEvents} (chain_key, seq, occurred_at, actor_user_id, actor_name, actor_persona,
      on_behalf_of_user_id, ticket_ref, participant_id, action, entity_type, entity_id, changes, reason, request_id, ip,
      user_agent, metadata, prev_hash, hash) values ${values}`;
    if (!last) {
      await tx.execute(insert);
      continue;
    }
    // With the last batch, the heads advance in the same statement.
    const advanced = sql.join(
      chains.map((k) => sql`(${k}, ${heads.get(k)!.lastSeq}::bigint, ${heads.get(k)!.lastHash})`),
      sql`, `,
    );
    const result = await tx.execute(sql`with ins as (${insert} returning 1), upd as (
        update ${auditChainHeads} h set last_seq = v.last_seq, last_hash = v.last_hash, updated_at = ${occurredAt.toISOString()}::timestamptz
        from (values ${advanced}) as v(chain_key, last_seq, last_hash) where h.chain_key = v.chain_key returning 1)
      select (select count(*) from ins)::int as events, (select count(*) from upd)::int as heads`);
    const [counts] = rowsOf<{ events: number; heads: number }>(result);
    if (Number(counts?.events) !== batch.length || Number(counts?.heads) !== chains.length) throw new Error("audit events not written");
  }
}

/** Locks the heads of the given chains (sorted), creating a chain's head with its first event. */
async function lockHeads(tx: Transaction, chains: string[]): Promise<Map<string, { lastSeq: number; lastHash: string }>> {
  const read = () =>
    tx
      .select({ chainKey: auditChainHeads.chainKey, lastSeq: auditChainHeads.lastSeq, lastHash: auditChainHeads.lastHash })
      .from(auditChainHeads)
      .where(chains.length === 1 ? eq(auditChainHeads.chainKey, chains[0]!) : inArray(auditChainHeads.chainKey, chains))
      .orderBy(asc(auditChainHeads.chainKey))
      .for("update");
  let found = await read();
  if (found.length < chains.length) {
    const missing = chains.filter((k) => !found.some((f) => f.chainKey === k));
    await tx
      .insert(auditChainHeads)
      .values(missing.map((chainKey) => ({ chainKey, lastSeq: 0, lastHash: GENESIS_HASH })))
      .onConflictDoNothing();
    found = await read();
  }
  const heads = new Map(found.map((h) => [h.chainKey, { lastSeq: h.lastSeq, lastHash: h.lastHash }]));
  for (const k of chains) if (!heads.has(k)) throw new Error(`audit chain head ${k} missing`);
  return heads;
}

/** Field-by-field differences between two versions of a record, for an event's `changes`. */
export function diffFields<T extends Record<string, unknown>>(
  before: Partial<T> | null,
  after: Partial<T> | null,
  fields: readonly (keyof T & string)[],
): FieldChanges {
  const changes: FieldChanges = {};
  for (const f of fields) {
    const b = before?.[f] ?? null;
    const a = after?.[f] ?? null;
    if (JSON.stringify(b) !== JSON.stringify(a)) changes[f] = { before: b, after: a };
  }
  return changes;
}

export interface RecentEventsPage {
  events: AuditEvent[];
  nextCursor: number | null;
}

/** Recent activity, newest first, keyset-paginated by id; a participant administrator sees only their own. */
export async function listRecentAuditEvents(
  ctx: ServiceContext,
  options: { before?: number; limit?: number } = {},
): Promise<RecentEventsPage> {
  const limit = Math.min(Math.max(options.limit ?? 50, 1), 200);
  const conditions = [whereTenant(ctx.actor, "audit:read", auditEvents.participantId)];
  if (options.before) conditions.push(lt(auditEvents.id, options.before));
  const rows = await ctx.db
    .select()
    .from(auditEvents)
    .where(and(...conditions))
    .orderBy(desc(auditEvents.id))
    .limit(limit + 1);
  const events = rows.slice(0, limit);
  const last = events[events.length - 1];
  return { events, nextCursor: rows.length > limit && last ? last.id : null };
}

export interface ChainReport {
  chainKey: string;
  events: number;
  ok: boolean;
  /** The first event at which the chain breaks, and why. */
  firstBreak?: { seq: number; eventId: number | null; problem: string };
}

/**
 * Walks every chain in seq order and recomputes each hash. Reports, per chain, the first event where the stored
 * hash, the link to the previous event, or the sequence (a deleted or reordered row) is wrong.
 */
export async function verifyAuditChains(db: Database, batchSize = 2000): Promise<ChainReport[]> {
  const heads = await db.select().from(auditChainHeads).orderBy(asc(auditChainHeads.chainKey));
  const eventChains = await db
    .selectDistinct({ chainKey: auditEvents.chainKey })
    .from(auditEvents)
    .orderBy(asc(auditEvents.chainKey));
  const keys = [...new Set([...heads.map((h) => h.chainKey), ...eventChains.map((c) => c.chainKey)])].sort();
  const reports: ChainReport[] = [];
  for (const chainKey of keys) {
    const head = heads.find((h) => h.chainKey === chainKey);
    reports.push(await verifyChain(db, chainKey, head?.lastSeq ?? null, batchSize));
  }
  return reports;
}

async function verifyChain(
  db: Database,
  chainKey: string,
  headSeq: number | null,
  batchSize: number,
): Promise<ChainReport> {
  let expectedSeq = 1;
  let prevHash = GENESIS_HASH;
  let count = 0;
  let afterSeq = 0;
  for (;;) {
    const batch = await db
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.chainKey, chainKey), gt(auditEvents.seq, afterSeq)))
      .orderBy(asc(auditEvents.seq))
      .limit(batchSize);
    for (const e of batch) {
      count++;
      const broken = (problem: string): ChainReport => ({
        chainKey,
        events: count,
        ok: false,
        firstBreak: { seq: e.seq, eventId: e.id, problem },
      });
      if (e.seq !== expectedSeq) {
        // The chain breaks where the missing event should be, as when the last event is missing (below).
        return {
          chainKey,
          events: count,
          ok: false,
          firstBreak: {
            seq: expectedSeq,
            eventId: null,
            problem: `expected event #${expectedSeq} but found #${e.seq}: an event is missing or out of order`,
          },
        };
      }
      if (e.prevHash !== prevHash) return broken("does not link to the event before it (prev_hash differs)");
      if (eventHash(e) !== e.hash) return broken("content does not match its hash: the event was altered");
      prevHash = e.hash;
      expectedSeq++;
    }
    if (batch.length < batchSize) break;
    afterSeq = batch[batch.length - 1]!.seq;
  }
  if (headSeq !== null && headSeq !== expectedSeq - 1) {
    return {
      chainKey,
      events: count,
      ok: false,
      firstBreak: {
        seq: expectedSeq,
        eventId: null,
        problem: `the chain head says #${headSeq} is the last event, but the chain ends at #${expectedSeq - 1}`,
      },
    };
  }
  return { chainKey, events: count, ok: true };
}
