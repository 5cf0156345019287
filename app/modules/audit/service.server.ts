import { createHash, hash } from "node:crypto";
import type { Readable } from "node:stream";
import { and, asc, desc, eq, inArray, lt, sql, type SQL } from "drizzle-orm";
import { rowsOf, type Database, type Transaction } from "../../../db/client.server";
import { auditChainHeads, auditEvents, type AuditEvent, type FieldChanges } from "../../../db/schema";
import type { ServiceContext } from "../context.server";
import { whereTenant } from "../tenancy.server";
import type { AuditAction } from "./actions";
import { GENESIS_HASH, HASH_VERSION, canonicalEventParts, canonicalJsonText, eventHash, type HashedFields } from "./hash.server";
import { acquireVerifyWorkers, verifyRangeInWorker, verifyWorkerCount, VERIFY_COPY_COLUMNS, type RangeResult } from "./verify-workers.server";

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
/** Up to this many events (a command's usual one to a few) are appended by one statement. */
const ONE_STATEMENT_MAX = 16;

type UnchainedFields = Omit<HashedFields, "seq" | "prevHash">;

function fieldsOf(ctx: AuditActorContext, input: AuditEventInput, occurredAt: Date): UnchainedFields {
  const actor = input.actor ?? ctx.actor;
  return {
    chainKey: input.participantId ?? PLATFORM_CHAIN,
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
}

/** The columns every event row has besides seq, prev_hash and hash, in EVENT_COLUMNS' order. */
function eventValues(r: UnchainedFields): SQL {
  return sql`${r.chainKey}::text, ${r.occurredAt.toISOString()}::timestamptz, ${r.actorUserId}::text, ${r.actorName}::text, ${r.actorPersona}::text,
    ${r.onBehalfOfUserId}::text, ${r.ticketRef}::text, ${r.participantId}::text, ${r.action}::text, ${r.entityType}::text, ${r.entityId}::text,
    ${r.changes === null ? null : JSON.stringify(r.changes)}::jsonb, ${r.reason}::text, ${r.requestId}::text, ${r.ip}::text, ${r.userAgent}::text,
    ${r.metadata === null ? null : JSON.stringify(r.metadata)}::jsonb`;
}
const EVENT_COLUMNS = sql.raw(`chain_key, occurred_at, actor_user_id, actor_name, actor_persona, on_behalf_of_user_id, ticket_ref,
  participant_id, action, entity_type, entity_id, changes, reason, request_id, ip, user_agent, metadata`);

/**
 * Appends events inside the caller's transaction. A command's few events go in one statement (one round trip):
 * it locks the heads of their chains FOR UPDATE (in chain order, so that two writers never wait on each other
 * crosswise), computes each event's seq and hash in the database from the locked head (the same canonical form
 * and SHA-256 as eventHash, cut around the head's values: canonicalEventParts), inserts the events and advances
 * the heads. Many events (a bulk import's thousands) take a few round trips: the heads are locked, the events
 * hashed in memory, then inserted 1,000 a statement, the last statement advancing the heads. Either way writers in
 * different processes take turns on a chain and never fork it.
 */
export async function appendAuditEvents(
  tx: Transaction,
  ctx: AuditActorContext,
  inputs: readonly AuditEventInput[],
  /**
   * oneStatement false: the many-event path even for a few; prepared false: the one statement parsed and planned
   * on every call, as before (bench/audited-write.ts compares them).
   */
  options: { oneStatement?: boolean; prepared?: boolean } = {},
): Promise<void> {
  if (inputs.length === 0) return;
  const occurredAt = new Date();
  const events = inputs.map((input) => fieldsOf(ctx, input, occurredAt));
  const chains = [...new Set(events.map((e) => e.chainKey))].sort();
  if (events.length <= ONE_STATEMENT_MAX && options.oneStatement !== false) {
    const prepared = options.prepared !== false;
    if (await appendInOneStatement(tx, events, chains, occurredAt, prepared)) return;
    // A chain's first event: its head is created (a statement cannot see a row it inserts), then the same again.
    await createHeads(tx, chains);
    if (await appendInOneStatement(tx, events, chains, occurredAt, prepared)) return;
    throw new Error("audit chain head missing");
  }
  await appendInBatches(tx, events, chains, occurredAt);
}

/** One statement: lock the heads, chain the events' hashes from them, insert, advance. False when a head is missing. */
async function appendInOneStatement(tx: Transaction, events: UnchainedFields[], chains: string[], occurredAt: Date, prepared: boolean): Promise<boolean> {
  const ctes: SQL[] = [
    sql`h as materialized (select chain_key, last_seq, last_hash from ${auditChainHeads}
      where chain_key in (${sql.join(chains.map((k) => sql`${k}::text`), sql`, `)}) order by chain_key for update)`,
    sql`ok as materialized (select count(*) = ${chains.length}::int as ok from h)`,
  ];
  const lastOf = new Map<string, string>();
  const rows: SQL[] = [];
  events.forEach((e, i) => {
    const name = `e${i}`;
    const previous = lastOf.get(e.chainKey);
    const from = previous
      ? sql.raw(`(select seq, hash from ${previous}) p`)
      : sql`(select last_seq as seq, last_hash as hash from h where chain_key = ${e.chainKey}::text) p`;
    const [a, b, c] = canonicalEventParts(e);
    ctes.push(sql`${sql.raw(name)} as materialized (select p.seq + 1 as seq, p.hash as prev_hash,
      encode(sha256(convert_to(${a}::text || p.hash || ${b}::text || (p.seq + 1)::text || ${c}::text, 'UTF8')), 'hex') as hash
      from ${from} where (select ok from ok))`);
    rows.push(sql`select ${eventValues(e)}, ${sql.raw(name)}.seq, ${sql.raw(name)}.prev_hash, ${sql.raw(name)}.hash from ${sql.raw(name)}`);
    lastOf.set(e.chainKey, name);
  });
  const advanced = sql.join(
    chains.map((k) => sql`select ${k}::text as chain_key, seq, hash from ${sql.raw(lastOf.get(k)!)}`),
    sql` union all `,
  );
  ctes.push(sql`ins as (insert into ${auditEvents} (${EVENT_COLUMNS}, seq, prev_hash, hash) ${sql.join(rows, sql` union all `)} returning 1)`);
  ctes.push(sql`upd as (update ${auditChainHeads} t set last_seq = v.seq, last_hash = v.hash, updated_at = ${occurredAt.toISOString()}::timestamptz
    from (${advanced}) v where t.chain_key = v.chain_key returning 1)`);
  const statement = sql`with ${sql.join(ctes, sql`, `)}
    select (select count(*) from h)::int as locked, (select count(*) from ins)::int as events, (select count(*) from upd)::int as heads`;
  const result = prepared ? await executePrepared(tx, statement) : await tx.execute(statement);
  const [counts] = rowsOf<{ locked: number; events: number; heads: number }>(result);
  if (Number(counts?.locked) < chains.length) return false;
  if (Number(counts?.events) !== events.length || Number(counts?.heads) !== chains.length) throw new Error("audit events not written");
  return true;
}

interface PostgresJsClient {
  unsafe(query: string, parameters: unknown[], options: { prepare: boolean }): Promise<unknown>;
}

/**
 * The statement as a prepared statement of the transaction's connection on PostgreSQL: postgres.js keeps it by its
 * text (the values are parameters), so a command's append is parsed and planned once per connection instead of on
 * every call, as drizzle's execute does. On PGlite, and anywhere the driver is not postgres.js, plain execute.
 */
async function executePrepared(tx: Transaction, statement: SQL): Promise<unknown> {
  const internals = tx as unknown as { session?: { client?: Partial<PostgresJsClient> }; dialect?: { sqlToQuery(s: SQL): { sql: string; params: unknown[] } } };
  const client = internals.session?.client;
  if (typeof client?.unsafe !== "function" || !internals.dialect) return tx.execute(statement);
  const query = internals.dialect.sqlToQuery(statement);
  return client.unsafe(query.sql, query.params, { prepare: true });
}

async function createHeads(tx: Transaction, chains: string[]): Promise<void> {
  await tx
    .insert(auditChainHeads)
    .values(chains.map((chainKey) => ({ chainKey, lastSeq: 0, lastHash: GENESIS_HASH })))
    .onConflictDoNothing();
}

async function appendInBatches(tx: Transaction, events: UnchainedFields[], chains: string[], occurredAt: Date): Promise<void> {
  const heads = await lockHeads(tx, chains);
  const rows = events.map((fields) => {
    const head = heads.get(fields.chainKey)!;
    const chained = { ...fields, seq: head.lastSeq + 1, prevHash: head.lastHash };
    const hash = eventHash(chained);
    heads.set(fields.chainKey, { lastSeq: chained.seq, lastHash: hash });
    return { ...chained, hash };
  });

  for (let i = 0; i < rows.length; i += INSERT_BATCH) {
    const batch = rows.slice(i, i + INSERT_BATCH);
    const last = i + INSERT_BATCH >= rows.length;
    const values = sql.join(
      batch.map((r) => sql`(${eventValues(r)}, ${r.seq}::bigint, ${r.prevHash}, ${r.hash})`),
      sql`, `,
    );
    const insert = sql`insert into ${auditEvents} (${EVENT_COLUMNS}, seq, prev_hash, hash) values ${values}`;
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
    await createHeads(tx, chains.filter((k) => !found.some((f) => f.chainKey === k)));
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

/** Chains walked at once on PGlite (and with `workers: 0`), their reads overlapping the hashing of the others. */
const VERIFY_PARALLEL = 4;

/**
 * Walks every chain in seq order and recomputes each hash. Reports, per chain, the first event where the stored
 * hash, the link to the previous event, or the sequence (a deleted or reordered row) is wrong.
 *
 * On PostgreSQL each chain is cut into ranges of `4 × batchSize` seqs, read with COPY and checked by worker threads
 * (verify-workers.server.ts), several ranges at once; the ranges of a chain are then stitched in seq order, so the
 * first bad event is the one a walk from the start would meet. `workers: 0` (and PGlite, one in-process connection)
 * walks on this thread instead: chains several at a time, each in keyset batches with the next batch on its way while
 * this one is hashed, the database assembling the canonical text of all but the two JSON columns.
 */
export async function verifyAuditChains(db: Database, batchSize = 5000, options: { workers?: number } = {}): Promise<ChainReport[]> {
  const heads = await db.select().from(auditChainHeads).orderBy(asc(auditChainHeads.chainKey));
  // The distinct chains of the events, one index probe per chain (a loose index scan) instead of reading them all.
  const eventChains = rowsOf<{ chain_key: string }>(
    await db.execute(sql`with recursive c as (
        select min(chain_key) as chain_key from ${auditEvents}
        union all
        select (select min(chain_key) from ${auditEvents} where chain_key > c.chain_key) from c where c.chain_key is not null)
      select chain_key from c where chain_key is not null`),
  );
  const keys = [...new Set([...heads.map((h) => h.chainKey), ...eventChains.map((c) => c.chain_key)])].sort();
  const headSeq = new Map(heads.map((h) => [h.chainKey, h.lastSeq]));
  const client = (db as unknown as { $client?: unknown }).$client;
  if (options.workers !== 0 && isPostgresJs(client)) return verifyInWorkers(client, keys, headSeq, batchSize * 4, options.workers ?? verifyWorkerCount());
  const reports: ChainReport[] = new Array<ChainReport>(keys.length);
  let next = 0;
  const walker = async () => {
    for (let i = next++; i < keys.length; i = next++) reports[i] = await verifyChain(db, keys[i]!, headSeq.get(keys[i]!) ?? null, batchSize);
  };
  await Promise.all(Array.from({ length: Math.min(VERIFY_PARALLEL, keys.length) }, walker));
  return reports;
}

/** A stored event as verification reads it: its canonical form in five pieces (storedEventPayload's parts). */
interface StoredRow {
  id: number;
  seq: number;
  prevHash: string;
  hash: string;
  /** Canonical text up to `"changes":`, between `changes` and `metadata`, and after `metadata`. */
  p1: string;
  changes: string | null;
  p2: string;
  metadata: string | null;
  p3: string;
}

/** A text column as RFC 8785 writes it: PostgreSQL's JSON string escaping is JSON.stringify's (see canonicalSql). */
const j = (column: string) => `coalesce(to_json(${column})::text, 'null')`;
/**
 * The canonical form of a stored event (canonicalEventPayload) assembled by the database, all but the two JSON
 * columns, whose members must be sorted in RFC 8785's order (jsonb keeps its own) and are canonicalised here.
 * to_json of a text escapes ", \, \b, \f, \n, \r, \t and other control characters as \u00xx, as JSON.stringify does;
 * the time is toISOString's form; seq is an integer. The unit test holds storedEventPayload to canonicalEventPayload,
 * and test/integration/audit-*.test.ts verify events written by every command through this.
 */
const CANONICAL_SQL = sql.raw(`'{"action":' || ${j("action")} || ',"actorName":' || ${j("actor_name")} || ',"actorPersona":' || ${j("actor_persona")}
    || ',"actorUserId":' || ${j("actor_user_id")} || ',"chainKey":' || ${j("chain_key")} || ',"changes":' as p1,
  changes::text as changes,
  ',"entityId":' || ${j("entity_id")} || ',"entityType":' || ${j("entity_type")} || ',"ip":' || ${j("ip")} || ',"metadata":' as p2,
  metadata::text as metadata,
  ',"occurredAt":"' || to_char(occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') || '","onBehalfOfUserId":' || ${j("on_behalf_of_user_id")}
    || ',"participantId":' || ${j("participant_id")} || ',"prevHash":' || ${j("prev_hash")} || ',"reason":' || ${j("reason")}
    || ',"requestId":' || ${j("request_id")} || ',"seq":' || seq::text || ',"ticketRef":' || ${j("ticket_ref")}
    || ',"userAgent":' || ${j("user_agent")} || ',"v":${HASH_VERSION}}' as p3`);

/** One batch of a chain after a seq, raw. */
async function chainBatch(db: Database, chainKey: string, afterSeq: number, limit: number): Promise<StoredRow[]> {
  const rows = rowsOf<Record<string, unknown>>(
    await db.execute(sql`select id::float8 as id, seq::float8 as seq, prev_hash, hash, ${CANONICAL_SQL}
      from ${auditEvents} where chain_key = ${chainKey}::text and seq > ${afterSeq}::bigint order by seq limit ${limit}::int`),
  );
  return rows.map((r) => ({
    id: Number(r.id),
    seq: Number(r.seq),
    prevHash: r.prev_hash as string,
    hash: r.hash as string,
    p1: r.p1 as string,
    changes: r.changes as string | null,
    p2: r.p2 as string,
    metadata: r.metadata as string | null,
    p3: r.p3 as string,
  }));
}

/** One-shot SHA-256 where Node has it (20.12+: about twice as fast as createHash for an event's size). */
const sha256Hex: (text: string) => string =
  typeof hash === "function" ? (text) => hash("sha256", text, "hex") : (text) => createHash("sha256").update(text, "utf8").digest("hex");

function storedRowHash(e: StoredRow): string {
  return sha256Hex(e.p1 + canonicalJsonText(e.changes) + e.p2 + canonicalJsonText(e.metadata) + e.p3);
}

async function verifyChain(db: Database, chainKey: string, headSeq: number | null, batchSize: number): Promise<ChainReport> {
  let expectedSeq = 1;
  let prevHash = GENESIS_HASH;
  let count = 0;
  let pending: Promise<StoredRow[]> | null = chainBatch(db, chainKey, 0, batchSize);
  while (pending) {
    const batch: StoredRow[] = await pending;
    // The next batch is read while this one is hashed.
    pending = batch.length === batchSize ? chainBatch(db, chainKey, batch[batch.length - 1]!.seq, batchSize) : null;
    for (const e of batch) {
      count++;
      let problem: string | null = null;
      let at: { seq: number; eventId: number | null } = { seq: e.seq, eventId: e.id };
      if (e.seq !== expectedSeq) {
        // The chain breaks where the missing event should be, as when the last event is missing (below).
        problem = `expected event #${expectedSeq} but found #${e.seq}: an event is missing or out of order`;
        at = { seq: expectedSeq, eventId: null };
      } else if (e.prevHash !== prevHash) problem = "does not link to the event before it (prev_hash differs)";
      else if (storedRowHash(e) !== e.hash) problem = "content does not match its hash: the event was altered";
      if (problem !== null) {
        await pending?.catch(() => undefined);
        return { chainKey, events: count, ok: false, firstBreak: { ...at, problem } };
      }
      prevHash = e.hash;
      expectedSeq++;
    }
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

/** The little of a postgres.js client the COPY walk uses. */
interface PostgresJsQueries {
  unsafe(query: string): { readable(): Promise<Readable> } & PromiseLike<Record<string, unknown>[]>;
}
interface ReservedPostgresJs extends PostgresJsQueries {
  release(): void;
}
interface PostgresJs extends PostgresJsQueries {
  options?: { max?: number };
  reserve(): Promise<ReservedPostgresJs>;
}

function isPostgresJs(client: unknown): client is PostgresJs {
  return typeof client === "function" && typeof (client as { unsafe?: unknown }).unsafe === "function" && typeof (client as { reserve?: unknown }).reserve === "function";
}

/** A text as an SQL literal, whatever standard_conforming_strings says (COPY takes no parameters). */
function literal(text: string): string {
  return `E'${text.replace(/\\/g, "\\\\").replace(/'/g, "''")}'`;
}

const BREAK_PROBLEMS = {
  link: "does not link to the event before it (prev_hash differs)",
  altered: "content does not match its hash: the event was altered",
};
const gapProblem = (expected: number, found: number) => `expected event #${expected} but found #${found}: an event is missing or out of order`;

/** verifyAuditChains on PostgreSQL: ranges of chains read with COPY and checked in worker threads, then stitched. */
async function verifyInWorkers(client: PostgresJs, keys: string[], headSeq: Map<string, number>, rangeSize: number, workerCount: number): Promise<ChainReport[]> {
  // The time as "YYYY-MM-DD HH:MI:SS[.ffffff]" in UTC costs the server nothing with DateStyle ISO; else to_char.
  const [style] = await client.unsafe("select current_setting('DateStyle') like 'ISO%' as iso");
  const time = style?.iso === true ? `occurred_at at time zone 'UTC'` : `to_char(occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
  const columns = VERIFY_COPY_COLUMNS.map((c) => (c === "$time" ? time : c)).join(", ");
  // The ranges of each chain, in order: up to the head's seq in steps, the last one open (events past the head).
  const tasks: { chain: number; after: number; upTo: number | null }[] = [];
  const ranges: (RangeResult | null)[][] = keys.map(() => []);
  keys.forEach((key, chain) => {
    const head = headSeq.get(key) ?? 0;
    let after = 0;
    for (; after + rangeSize < head; after += rangeSize) tasks.push({ chain, after, upTo: after + rangeSize });
    tasks.push({ chain, after, upTo: null });
  });
  const brokenAt = new Map<number, number>(); // chain → index of its first range with a problem
  const { workers, release } = acquireVerifyWorkers(workerCount);
  try {
    let next = 0;
    // Two ranges per worker at once (one read while the other is hashed), each slot on a connection of its own: a
    // COPY pipelined behind another on a shared connection can stall.
    const slot = async (worker: (typeof workers)[number]) => {
      const connection = await client.reserve();
      try {
        await slotRanges(worker, connection);
      } finally {
        connection.release();
      }
    };
    const slotRanges = async (worker: (typeof workers)[number], connection: ReservedPostgresJs) => {
      for (let t = next++; t < tasks.length; t = next++) {
        const { chain, after, upTo } = tasks[t]!;
        const index = ranges[chain]!.length;
        ranges[chain]!.push(null);
        if ((brokenAt.get(chain) ?? Infinity) < index) continue; // the chain already broke before this range
        const stream = await connection
          .unsafe(
            `copy (select ${columns} from audit_events where chain_key = ${literal(keys[chain]!)} and seq > ${after}` +
              `${upTo === null ? "" : ` and seq <= ${upTo}`} order by seq) to stdout`,
          )
          .readable();
        const result = await verifyRangeInWorker(worker, stream);
        ranges[chain]![index] = result;
        if (result.problem && (brokenAt.get(chain) ?? Infinity) > index) brokenAt.set(chain, index);
      }
    };
    const slots = Math.max(1, Math.min(2 * workers.length, (client.options?.max ?? 10) - 1));
    await Promise.all(Array.from({ length: slots }, (_, i) => slot(workers[i % workers.length]!)));
  } finally {
    release();
  }
  return keys.map((chainKey, chain) => stitch(chainKey, ranges[chain]!, headSeq.get(chainKey) ?? null));
}

/** A chain's report from its ranges in seq order: the checks a walk from the first event makes, in its order. */
function stitch(chainKey: string, ranges: (RangeResult | null)[], headSeq: number | null): ChainReport {
  let expectedSeq = 1;
  let prevHash = GENESIS_HASH;
  let count = 0;
  const broken = (events: number, seq: number, eventId: number | null, problem: string): ChainReport => ({
    chainKey,
    events,
    ok: false,
    firstBreak: { seq, eventId, problem },
  });
  for (const range of ranges) {
    if (range === null) throw new Error(`audit verification: a range of ${chainKey} was skipped before its chain broke`);
    if (range.first === null) continue;
    if (range.first.seq !== expectedSeq) return broken(count + 1, expectedSeq, null, gapProblem(expectedSeq, range.first.seq));
    if (range.first.prevHash !== prevHash) return broken(count + 1, range.first.seq, range.first.id, BREAK_PROBLEMS.link);
    const p = range.problem;
    if (p) return broken(count + p.index, p.seq, p.eventId, p.kind === "gap" ? gapProblem(p.seq, p.found!) : BREAK_PROBLEMS[p.kind]);
    count += range.count;
    expectedSeq = range.last!.seq + 1;
    prevHash = range.last!.hash;
  }
  if (headSeq !== null && headSeq !== expectedSeq - 1) {
    return broken(count, expectedSeq, null, `the chain head says #${headSeq} is the last event, but the chain ends at #${expectedSeq - 1}`);
  }
  return { chainKey, events: count, ok: true };
}
