import { and, asc, desc, eq, gt, lt } from "drizzle-orm";
import type { Database, DbOrTx } from "../../../db/client.server";
import { auditChainHeads, auditEvents, type AuditEvent, type FieldChanges } from "../../../db/schema";
import { scopeOf } from "~/auth/permissions";
import { forbidden } from "~/lib/errors";
import type { ServiceContext } from "../context.server";
import { GENESIS_HASH, eventHash } from "./hash.server";

export const PLATFORM_CHAIN = "platform";

export interface AuditEventInput {
  action: string;
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
}

/** What JSON (and so jsonb) keeps of a value: hashing this exact form makes the hash survive the round trip. */
function asStoredJson<T>(value: T | null | undefined): T | null {
  if (value === undefined || value === null) return null;
  return JSON.parse(JSON.stringify(value)) as T;
}

type AuditActorContext = Pick<ServiceContext, "actor" | "requestId" | "ip" | "userAgent">;

/**
 * Appends one event to its chain, inside the caller's transaction: if the change rolls back, so does its event,
 * and if the event cannot be written, the change fails. The chain head row is locked FOR UPDATE, so writers in
 * different processes take turns on a chain and never fork it.
 */
export async function appendAuditEvent(tx: DbOrTx, ctx: AuditActorContext, input: AuditEventInput): Promise<AuditEvent> {
  const [event] = await appendAuditEvents(tx, ctx, [input]);
  return event!;
}

const INSERT_BATCH = 500;

/**
 * Appends many events in one go (bulk imports): each chain's head is locked once, in chain order so that two
 * batches never wait on each other crosswise, the events are hashed in sequence in memory and inserted in
 * batches. Same guarantees as appendAuditEvent.
 */
export async function appendAuditEvents(
  tx: DbOrTx,
  ctx: AuditActorContext,
  inputs: readonly AuditEventInput[],
): Promise<AuditEvent[]> {
  const chains = [...new Set(inputs.map((i) => i.participantId ?? PLATFORM_CHAIN))].sort();
  const heads = new Map<string, { lastSeq: number; lastHash: string }>();
  for (const chainKey of chains) {
    await tx.insert(auditChainHeads).values({ chainKey, lastSeq: 0, lastHash: GENESIS_HASH }).onConflictDoNothing();
    const [head] = await tx
      .select({ lastSeq: auditChainHeads.lastSeq, lastHash: auditChainHeads.lastHash })
      .from(auditChainHeads)
      .where(eq(auditChainHeads.chainKey, chainKey))
      .for("update");
    if (!head) throw new Error(`audit chain head ${chainKey} missing`);
    heads.set(chainKey, head);
  }

  const occurredAt = new Date();
  const rows = inputs.map((input) => {
    const chainKey = input.participantId ?? PLATFORM_CHAIN;
    const head = heads.get(chainKey)!;
    const fields = {
      chainKey,
      seq: head.lastSeq + 1,
      prevHash: head.lastHash,
      occurredAt,
      actorUserId: ctx.actor.userId,
      actorName: input.actorName ?? ctx.actor.displayName,
      actorPersona: ctx.actor.persona === "none" ? null : ctx.actor.persona,
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

  const written: AuditEvent[] = [];
  for (let i = 0; i < rows.length; i += INSERT_BATCH) {
    written.push(...(await tx.insert(auditEvents).values(rows.slice(i, i + INSERT_BATCH)).returning()));
  }
  for (const chainKey of chains) {
    const head = heads.get(chainKey)!;
    await tx
      .update(auditChainHeads)
      .set({ lastSeq: head.lastSeq, lastHash: head.lastHash, updatedAt: occurredAt })
      .where(eq(auditChainHeads.chainKey, chainKey));
  }
  if (written.length !== inputs.length) throw new Error("audit events not written");
  return written;
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
  const scope = scopeOf(ctx.actor.permissions, "audit:read");
  if (!scope) throw forbidden();
  const limit = Math.min(Math.max(options.limit ?? 50, 1), 200);
  const conditions = [];
  if (scope === "own-participant") {
    if (!ctx.actor.participantId) throw forbidden();
    conditions.push(eq(auditEvents.participantId, ctx.actor.participantId));
  }
  if (options.before) conditions.push(lt(auditEvents.id, options.before));
  const rows = await ctx.db
    .select()
    .from(auditEvents)
    .where(conditions.length ? and(...conditions) : undefined)
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
