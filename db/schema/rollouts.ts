import { sql } from "drizzle-orm";
import { check, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";
import { participants } from "./participants";
import { users } from "./users";

/**
 * The rollouts module's tables (app/modules/rollouts): platform cut-overs run the way HKEX ran the HKATS/DCASS
 * rollout (SPEC §7). Only that module writes them (eslint: local/module-owns-tables).
 */

export const VERIFICATION_OUTCOMES = ["verified", "failed", "not_attempted"] as const;
export type VerificationOutcome = (typeof VERIFICATION_OUTCOMES)[number];

export const VERIFICATION_SUBJECTS = ["service", "login", "api_client"] as const;
export type VerificationSubject = (typeof VERIFICATION_SUBJECTS)[number];

export const FALLBACK_DECISIONS = ["invoke", "continue"] as const;
export type FallbackDecision = (typeof FALLBACK_DECISIONS)[number];

export const FREEZE_EXCEPTION_KINDS = ["key_rotation", "role_change", "program_version"] as const;
export type FreezeExceptionKind = (typeof FREEZE_EXCEPTION_KINDS)[number];

/** A rollout: the OCP services it launches and its milestones, instants in UTC shown in Hong Kong time. */
export const rollouts = pgTable(
  "rollouts",
  {
    id: text("id").primaryKey(),
    name: text("name").notNull(),
    serviceCodes: jsonb("service_codes").$type<string[]>().notNull(),
    // What each participant confirms for the fallback plan (standby systems, retained passwords, contact person).
    checklist: jsonb("checklist").$type<string[]>().notNull(),
    // The end of the Hong Kong day whose logins and keys carry over.
    cutoffAt: timestamp("cutoff_at", { withTimezone: true, precision: 3 }).notNull(),
    conversionAt: timestamp("conversion_at", { withTimezone: true, precision: 3 }).notNull(),
    verificationStartAt: timestamp("verification_start_at", { withTimezone: true, precision: 3 }).notNull(),
    verificationEndAt: timestamp("verification_end_at", { withTimezone: true, precision: 3 }).notNull(),
    launchAt: timestamp("launch_at", { withTimezone: true, precision: 3 }).notNull(),
    // The planned end; the freeze lasts until HKEX announces the end (stabilisationEndedAt).
    stabilisationEndAt: timestamp("stabilisation_end_at", { withTimezone: true, precision: 3 }).notNull(),
    stabilisationEndedAt: timestamp("stabilisation_ended_at", { withTimezone: true, precision: 3 }),
    stabilisationEndedBy: text("stabilisation_ended_by").references(() => users.id),
    // The approved fallback decision, once four eyes have seen it.
    fallbackDecision: text("fallback_decision").$type<FallbackDecision>(),
    fallbackDecidedAt: timestamp("fallback_decided_at", { withTimezone: true, precision: 3 }),
    createdBy: text("created_by").references(() => users.id),
    createdAt: timestamp("created_at", { withTimezone: true, precision: 3 }).notNull(),
    version: integer("version").notNull().default(1),
  },
  (t) => [
    check(
      "rollouts_milestones_ordered",
      sql`${t.cutoffAt} < ${t.conversionAt} and ${t.conversionAt} <= ${t.verificationStartAt} and ${t.verificationStartAt} < ${t.verificationEndAt} and ${t.verificationEndAt} <= ${t.launchAt} and ${t.launchAt} < ${t.stabilisationEndAt}`,
    ),
    check("rollouts_fallback_valid", sql`${t.fallbackDecision} is null or ${t.fallbackDecision} in ('invoke','continue')`),
  ],
);

/** The participants in a rollout, with their fallback checklist confirmation. */
export const rolloutParticipants = pgTable(
  "rollout_participants",
  {
    rolloutId: text("rollout_id")
      .notNull()
      .references(() => rollouts.id),
    participantId: text("participant_id")
      .notNull()
      .references(() => participants.id),
    checklistConfirmed: jsonb("checklist_confirmed").$type<string[]>().notNull().default(sql`'[]'::jsonb`),
    checklistConfirmedBy: text("checklist_confirmed_by").references(() => users.id),
    checklistConfirmedAt: timestamp("checklist_confirmed_at", { withTimezone: true, precision: 3 }),
    contactPerson: text("contact_person"),
    version: integer("version").notNull().default(1),
  },
  (t) => [primaryKey({ columns: [t.rolloutId, t.participantId] }), index("rollout_participants_participant_idx").on(t.participantId)],
);

/**
 * What carries over at the cutoff, per participant: users, their grants, API clients and keys, as canonical JSON
 * sealed by its SHA-256 digest (also written into the audit chain). One per rollout and participant; a trigger
 * refuses any update or delete.
 */
export const rolloutSnapshots = pgTable(
  "rollout_snapshots",
  {
    id: text("id").primaryKey(),
    rolloutId: text("rollout_id")
      .notNull()
      .references(() => rollouts.id),
    participantId: text("participant_id")
      .notNull()
      .references(() => participants.id),
    cutoffAt: timestamp("cutoff_at", { withTimezone: true, precision: 3 }).notNull(),
    // The canonical JSON text itself (RFC 8785), so the digest is checked against exactly what was sealed.
    content: text("content").notNull(),
    digest: text("digest").notNull(),
    takenBy: text("taken_by").references(() => users.id),
    takenAt: timestamp("taken_at", { withTimezone: true, precision: 3 }).notNull(),
  },
  (t) => [uniqueIndex("rollout_snapshots_one_per_participant").on(t.rolloutId, t.participantId), check("rollout_snapshots_digest_hex", sql`${t.digest} ~ '^[0-9a-f]{64}$'`)],
);

/**
 * One verification-session result per participant and subject (a service, a carried-over login or API client):
 * recorded by the participant's administrator, confirmed by an officer who is not the one who recorded it.
 */
export const rolloutResults = pgTable(
  "rollout_results",
  {
    id: text("id").primaryKey(),
    rolloutId: text("rollout_id")
      .notNull()
      .references(() => rollouts.id),
    participantId: text("participant_id")
      .notNull()
      .references(() => participants.id),
    subjectKind: text("subject_kind").$type<VerificationSubject>().notNull(),
    // The service code, the user id or the API client id.
    subjectRef: text("subject_ref").notNull(),
    outcome: text("outcome").$type<VerificationOutcome>().notNull(),
    reason: text("reason"),
    // Evidence: e.g. the JWT connection check's outcome.
    evidence: text("evidence"),
    recordedBy: text("recorded_by").references(() => users.id),
    recordedAt: timestamp("recorded_at", { withTimezone: true, precision: 3 }).notNull(),
    confirmedBy: text("confirmed_by").references(() => users.id),
    confirmedAt: timestamp("confirmed_at", { withTimezone: true, precision: 3 }),
    version: integer("version").notNull().default(1),
  },
  (t) => [
    uniqueIndex("rollout_results_subject_unique").on(t.rolloutId, t.participantId, t.subjectKind, t.subjectRef),
    check("rollout_results_subject_valid", sql`${t.subjectKind} in ('service','login','api_client')`),
    check("rollout_results_outcome_valid", sql`${t.outcome} in ('verified','failed','not_attempted')`),
    check("rollout_results_failure_reason", sql`${t.outcome} <> 'failed' or ${t.reason} is not null`),
    check("rollout_results_four_eyes", sql`${t.confirmedBy} is null or ${t.recordedBy} is null or ${t.confirmedBy} <> ${t.recordedBy}`),
  ],
);

/** A fallback decision (invoke the fallback plan or continue), proposed by one officer and approved by another. */
export const rolloutFallbackDecisions = pgTable(
  "rollout_fallback_decisions",
  {
    id: text("id").primaryKey(),
    rolloutId: text("rollout_id")
      .notNull()
      .references(() => rollouts.id),
    decision: text("decision").$type<FallbackDecision>().notNull(),
    reason: text("reason").notNull(),
    status: text("status").$type<"proposed" | "approved" | "rejected">().notNull().default("proposed"),
    proposedBy: text("proposed_by").references(() => users.id),
    proposedAt: timestamp("proposed_at", { withTimezone: true, precision: 3 }).notNull(),
    decidedBy: text("decided_by").references(() => users.id),
    decidedAt: timestamp("decided_at", { withTimezone: true, precision: 3 }),
  },
  (t) => [
    index("rollout_fallback_decisions_rollout_idx").on(t.rolloutId, t.proposedAt),
    uniqueIndex("rollout_fallback_decisions_one_open").on(t.rolloutId).where(sql`status = 'proposed'`),
    check("rollout_fallback_decisions_decision_valid", sql`${t.decision} in ('invoke','continue')`),
    check("rollout_fallback_decisions_status_valid", sql`${t.status} in ('proposed','approved','rejected')`),
    check("rollout_fallback_decisions_four_eyes", sql`${t.decidedBy} is null or ${t.proposedBy} is null or ${t.decidedBy} <> ${t.proposedBy}`),
  ],
);

/** An exception to the change freeze (a key rotation, a role change, a new program version), with four eyes. */
export const rolloutFreezeExceptions = pgTable(
  "rollout_freeze_exceptions",
  {
    id: text("id").primaryKey(),
    rolloutId: text("rollout_id")
      .notNull()
      .references(() => rollouts.id),
    participantId: text("participant_id")
      .notNull()
      .references(() => participants.id),
    kind: text("kind").$type<FreezeExceptionKind>().notNull(),
    // The login (user id), API client id or program the change touches.
    subjectRef: text("subject_ref").notNull(),
    reason: text("reason").notNull(),
    status: text("status").$type<"pending" | "approved" | "rejected" | "used">().notNull().default("pending"),
    requestedBy: text("requested_by").references(() => users.id),
    requestedAt: timestamp("requested_at", { withTimezone: true, precision: 3 }).notNull(),
    decidedBy: text("decided_by").references(() => users.id),
    decidedAt: timestamp("decided_at", { withTimezone: true, precision: 3 }),
  },
  (t) => [
    index("rollout_freeze_exceptions_participant_idx").on(t.participantId, t.status),
    check("rollout_freeze_exceptions_kind_valid", sql`${t.kind} in ('key_rotation','role_change','program_version')`),
    check("rollout_freeze_exceptions_status_valid", sql`${t.status} in ('pending','approved','rejected','used')`),
    check("rollout_freeze_exceptions_four_eyes", sql`${t.decidedBy} is null or ${t.requestedBy} is null or ${t.decidedBy} <> ${t.requestedBy}`),
  ],
);

export type Rollout = typeof rollouts.$inferSelect;
export type RolloutParticipant = typeof rolloutParticipants.$inferSelect;
export type RolloutSnapshot = typeof rolloutSnapshots.$inferSelect;
export type RolloutResult = typeof rolloutResults.$inferSelect;
export type RolloutFallbackDecision = typeof rolloutFallbackDecisions.$inferSelect;
export type RolloutFreezeException = typeof rolloutFreezeExceptions.$inferSelect;
