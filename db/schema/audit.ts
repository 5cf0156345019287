import { sql } from "drizzle-orm";
import { bigint, bigserial, boolean, date, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";
import { users } from "./users";

/** The audit module's tables (app/modules/audit): the hash-chained trail and its signed checkpoints (SPEC §8). Only that module writes them (eslint: local/module-owns-tables). */

export type FieldChanges = Record<string, { before: unknown; after: unknown }>;

/**
 * The audit trail (SPEC §8). Append-only: triggers in the migrations refuse UPDATE, DELETE and TRUNCATE.
 * Each chain (one per participant, plus "platform") is a hash chain ordered by seq.
 */
export const auditEvents = pgTable(
  "audit_events",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    chainKey: text("chain_key").notNull(),
    seq: bigint("seq", { mode: "number" }).notNull(),
    occurredAt: timestamp("occurred_at", { withTimezone: true, precision: 3 }).notNull(),
    actorUserId: text("actor_user_id"),
    actorName: text("actor_name"),
    actorPersona: text("actor_persona"),
    onBehalfOfUserId: text("on_behalf_of_user_id"),
    ticketRef: text("ticket_ref"),
    participantId: text("participant_id"),
    action: text("action").notNull(),
    entityType: text("entity_type").notNull(),
    entityId: text("entity_id"),
    changes: jsonb("changes").$type<FieldChanges>(),
    reason: text("reason"),
    requestId: text("request_id"),
    ip: text("ip"),
    userAgent: text("user_agent"),
    metadata: jsonb("metadata").$type<Record<string, unknown>>(),
    prevHash: text("prev_hash").notNull(),
    hash: text("hash").notNull(),
  },
  (t) => [
    uniqueIndex("audit_events_chain_seq_unique").on(t.chainKey, t.seq),
    index("audit_events_participant_time_idx").on(t.participantId, t.occurredAt.desc().nullsFirst(), t.id.desc().nullsFirst()),
    index("audit_events_time_idx").on(t.occurredAt.desc().nullsFirst(), t.id.desc().nullsFirst()),
    index("audit_events_entity_idx").on(t.entityType, t.entityId, t.occurredAt.desc().nullsFirst(), t.id.desc().nullsFirst()),
    index("audit_events_actor_idx").on(t.actorUserId, t.occurredAt.desc().nullsFirst(), t.id.desc().nullsFirst()),
    index("audit_events_action_idx").on(t.action, t.occurredAt.desc().nullsFirst(), t.id.desc().nullsFirst()),
    // Events about a user that name them in metadata (grants, requests) rather than as the entity. Both indexes are
    // partial (migration 0020): an event that names no such user (most of them have no on-behalf user) costs no
    // insertion into them; the explorer's `= $user` conditions imply "is not null", so it still uses them.
    // Each also in time order, so that the explorer reads a user's newest events from each index directly.
    index("audit_events_metadata_user_idx")
      .on(sql`(${t.metadata}->>'userId')`, t.occurredAt.desc().nullsFirst(), t.id.desc().nullsFirst())
      .where(sql`(${t.metadata}->>'userId') is not null`),
    index("audit_events_on_behalf_idx").on(t.onBehalfOfUserId, t.occurredAt.desc().nullsFirst(), t.id.desc().nullsFirst()).where(sql`${t.onBehalfOfUserId} is not null`),
  ],
);

/** The head of each chain: locked FOR UPDATE to allocate the next seq, so concurrent writers never fork a chain. */
export const auditChainHeads = pgTable("audit_chain_heads", {
  chainKey: text("chain_key").primaryKey(),
  lastSeq: bigint("last_seq", { mode: "number" }).notNull(),
  lastHash: text("last_hash").notNull(),
  updatedAt: timestamp("updated_at", { withTimezone: true, precision: 3 }).notNull().default(sql`now()`),
});

export type AuditEvent = typeof auditEvents.$inferSelect;

/** A signed checkpoint of every chain head: a later verification compares the chains against it. */
export const auditCheckpoints = pgTable("audit_checkpoints", {
  id: text("id").primaryKey(),
  createdAt: timestamp("created_at", { withTimezone: true, precision: 3 }).notNull(),
  createdBy: text("created_by").references(() => users.id),
  heads: jsonb("heads").$type<{ chainKey: string; seq: number; hash: string }[]>().notNull(),
  // Compact JWS (HS256) over the heads, with the key from configuration.
  signature: text("signature").notNull(),
});

export type AuditCheckpoint = typeof auditCheckpoints.$inferSelect;

/** What one chain walk found about one chain (verifyAuditChains' ChainReport), as a walk keeps it. */
export interface StoredChainReport {
  chainKey: string;
  events: number;
  ok: boolean;
  firstBreak?: { seq: number; eventId: number | null; problem: string };
}

/** What a walk found about the latest signed checkpoint (verifyCheckpoint's CheckpointReport), null without one. */
export interface StoredCheckpointReport {
  checkpointId: string | null;
  createdAt: string | null;
  signatureValid: boolean;
  problems: { chainKey: string; seq: number; problem: string }[];
}

/**
 * Every integrity walk of the audit chains (issue 16): the Integrity page shows the latest finished one instead of
 * walking on every view. A row is written when a walk starts and completed once when it ends; a trigger refuses any
 * change to a finished walk and every DELETE. At most one walk runs at a time (the partial unique index).
 */
export const auditIntegrityWalks = pgTable(
  "audit_integrity_walks",
  {
    id: text("id").primaryKey(),
    startedAt: timestamp("started_at", { withTimezone: true, precision: 3 }).notNull(),
    finishedAt: timestamp("finished_at", { withTimezone: true, precision: 3 }),
    /** "person" (Verify now), "job" (the scheduled walk) or "cli" (npm run audit:verify). */
    startedVia: text("started_via").$type<"person" | "job" | "cli">().notNull(),
    startedBy: text("started_by").references(() => users.id),
    startedByName: text("started_by_name"),
    chains: bigint("chains", { mode: "number" }),
    events: bigint("events", { mode: "number" }),
    /** Null while running; false when a chain or the checkpoint does not verify, or the walk failed. */
    ok: boolean("ok"),
    /** Every chain's report (a few hundred small objects), for the page's table and the first broken event. */
    chainReports: jsonb("chain_reports").$type<StoredChainReport[]>(),
    checkpoint: jsonb("checkpoint").$type<StoredCheckpointReport>(),
    /** Why the walk ended without a report (an error, or abandoned by a process that stopped). */
    failure: text("failure"),
  },
  (t) => [
    uniqueIndex("audit_integrity_walks_one_running").on(sql`(true)`).where(sql`${t.finishedAt} is null`),
    index("audit_integrity_walks_started_idx").on(t.startedAt.desc()),
  ],
);

export type AuditIntegrityWalk = typeof auditIntegrityWalks.$inferSelect;

/**
 * Events per Hong Kong day of closed days (issue 16), so that the explorer's chart does not count events: one row
 * per day, scope, action and actor, written once when the day is rolled up (the jobs runner, rollUpAuditDays) and
 * never changed, since events are append-only and a closed day gets none. `scope` is a participant id, "platform"
 * (events without a participant) or "*" (every event); `action` is an action or "*" (every action); `actor` is the
 * acting user's id or "*" (everyone, the system included). Rows are kept for scope × action and scope × actor, each
 * also over every scope. Every rolled-up day has its ("*", "*", "*") row, zero when it had no events: that row says
 * the day is rolled up.
 */
export const auditDailyCounts = pgTable(
  "audit_daily_counts",
  {
    day: date("day", { mode: "string" }).notNull(),
    scope: text("scope").notNull(),
    action: text("action").notNull(),
    actor: text("actor").notNull(),
    events: integer("events").notNull(),
  },
  (t) => [primaryKey({ name: "audit_daily_counts_pk", columns: [t.scope, t.action, t.actor, t.day] })],
);
