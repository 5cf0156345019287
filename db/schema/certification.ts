import { sql } from "drizzle-orm";
import { bigserial, boolean, check, foreignKey, index, integer, pgTable, primaryKey, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";
import { apiClients } from "./credentials";
import { ocpServices, participants } from "./participants";
import { users } from "./users";

/**
 * The certification module's tables (app/modules/certification): the Developer Corner's test-case catalogue and the
 * participants' certification runs (SPEC §6). Only that module writes them (eslint: local/module-owns-tables).
 */

export const CERTIFICATION_RUN_STATUSES = ["recording", "submitted", "confirmed", "signed_off", "returned", "stale"] as const;
export type CertificationRunStatus = (typeof CERTIFICATION_RUN_STATUSES)[number];

export const CASE_OUTCOMES = ["passed", "failed", "blocked", "not_applicable"] as const;
export type CaseOutcome = (typeof CASE_OUTCOMES)[number];

export const CERTIFICATION_ENVIRONMENTS = ["simulator", "test"] as const;
export type CertificationEnvironment = (typeof CERTIFICATION_ENVIRONMENTS)[number];

/**
 * A test case of the catalogue, per OCP service. `catalogueVersion` is the catalogue version that introduced it (or
 * last changed it); a retired case stays, so past runs still name it, and runs keep their own copy of its text.
 */
export const certificationCases = pgTable(
  "certification_cases",
  {
    code: text("code").primaryKey(),
    serviceCode: text("service_code")
      .notNull()
      .references(() => ocpServices.code),
    titleEn: text("title_en").notNull(),
    titleZh: text("title_zh").notNull(),
    steps: text("steps").notNull(),
    expectedResult: text("expected_result").notNull(),
    mandatory: boolean("mandatory").notNull(),
    catalogueVersion: integer("catalogue_version").notNull(),
    sortOrder: integer("sort_order").notNull().default(0),
    retiredAt: timestamp("retired_at", { withTimezone: true, precision: 3 }),
  },
  (t) => [index("certification_cases_service_idx").on(t.serviceCode, t.sortOrder)],
);

/** A participant's certification run of one program version, in one environment, with one API client. */
export const certificationRuns = pgTable(
  "certification_runs",
  {
    id: text("id").primaryKey(),
    participantId: text("participant_id")
      .notNull()
      .references(() => participants.id),
    environment: text("environment").$type<CertificationEnvironment>().notNull(),
    apiClientId: text("api_client_id")
      .notNull()
      .references(() => apiClients.id),
    programName: text("program_name").notNull(),
    programVersion: text("program_version").notNull(),
    vendor: text("vendor"),
    catalogueVersion: integer("catalogue_version").notNull(),
    status: text("status").$type<CertificationRunStatus>().notNull(),
    startedBy: text("started_by").references(() => users.id),
    startedAt: timestamp("started_at", { withTimezone: true, precision: 3 }).notNull(),
    submittedBy: text("submitted_by").references(() => users.id),
    submittedAt: timestamp("submitted_at", { withTimezone: true, precision: 3 }),
    confirmedBy: text("confirmed_by").references(() => users.id),
    confirmedAt: timestamp("confirmed_at", { withTimezone: true, precision: 3 }),
    decidedBy: text("decided_by").references(() => users.id),
    decidedAt: timestamp("decided_at", { withTimezone: true, precision: 3 }),
    declaration: text("declaration"),
    returnReason: text("return_reason"),
    staleAt: timestamp("stale_at", { withTimezone: true, precision: 3 }),
    staleReason: text("stale_reason"),
    version: integer("version").notNull().default(1),
  },
  (t) => [
    index("certification_runs_participant_idx").on(t.participantId, t.startedAt),
    // One open run per participant at a time: two DAs starting at once get one run and one refusal.
    uniqueIndex("certification_runs_one_open")
      .on(t.participantId)
      .where(sql`${t.status} in ('recording','submitted','confirmed','returned')`),
    check("certification_runs_status_valid", sql`${t.status} in ('recording','submitted','confirmed','signed_off','returned','stale')`),
    check("certification_runs_environment_valid", sql`${t.environment} in ('simulator','test')`),
    check("certification_runs_signed_off_declared", sql`${t.status} <> 'signed_off' or ${t.declaration} is not null`),
    check("certification_runs_returned_has_reason", sql`${t.status} <> 'returned' or ${t.returnReason} is not null`),
  ],
);

/** The cases a run selected, with the text they had when it started (a later catalogue change never rewrites it). */
export const certificationRunCases = pgTable(
  "certification_run_cases",
  {
    runId: text("run_id")
      .notNull()
      .references(() => certificationRuns.id),
    caseCode: text("case_code")
      .notNull()
      .references(() => certificationCases.code),
    serviceCode: text("service_code").notNull(),
    titleEn: text("title_en").notNull(),
    titleZh: text("title_zh").notNull(),
    steps: text("steps").notNull(),
    expectedResult: text("expected_result").notNull(),
    mandatory: boolean("mandatory").notNull(),
    sortOrder: integer("sort_order").notNull(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.caseCode] })],
);

/** Every attempt at a case of a run: re-recording adds an attempt, never overwrites one. */
export const certificationResults = pgTable(
  "certification_results",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    runId: text("run_id").notNull(),
    caseCode: text("case_code").notNull(),
    attempt: integer("attempt").notNull(),
    outcome: text("outcome").$type<CaseOutcome>().notNull(),
    evidence: text("evidence").notNull(),
    // The JWT connection check's outcome, pasted or linked, where the case is about the connection.
    jwtCheck: text("jwt_check"),
    recordedBy: text("recorded_by").references(() => users.id),
    recordedAt: timestamp("recorded_at", { withTimezone: true, precision: 3 }).notNull(),
  },
  (t) => [
    foreignKey({ columns: [t.runId, t.caseCode], foreignColumns: [certificationRunCases.runId, certificationRunCases.caseCode] }),
    uniqueIndex("certification_results_attempt_unique").on(t.runId, t.caseCode, t.attempt),
    check("certification_results_outcome_valid", sql`${t.outcome} in ('passed','failed','blocked','not_applicable')`),
  ],
);

export type CertificationCase = typeof certificationCases.$inferSelect;
export type CertificationRun = typeof certificationRuns.$inferSelect;
export type CertificationRunCase = typeof certificationRunCases.$inferSelect;
export type CertificationResult = typeof certificationResults.$inferSelect;
