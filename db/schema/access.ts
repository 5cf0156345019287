import { sql } from "drizzle-orm";
import {
  bigserial,
  check,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from "drizzle-orm/pg-core";
import { roles, users } from "./identity";
import { participants, type ParticipantType } from "./participants";

/** Baseline templates: a named set of roles per participant type; "reset to baseline" applies it (SPEC §4). */
export const roleTemplates = pgTable("role_templates", {
  code: text("code").primaryKey(),
  participantType: text("participant_type").$type<ParticipantType>().notNull(),
  nameEn: text("name_en").notNull(),
  nameZh: text("name_zh").notNull(),
  version: integer("version").notNull().default(1),
});

export const roleTemplateRoles = pgTable(
  "role_template_roles",
  {
    templateCode: text("template_code")
      .notNull()
      .references(() => roleTemplates.code),
    roleCode: text("role_code")
      .notNull()
      .references(() => roles.code),
  },
  (t) => [primaryKey({ columns: [t.templateCode, t.roleCode] })],
);

export const SOD_KINDS = ["block", "block_unless_waiver", "warn"] as const;
export type SodKind = (typeof SOD_KINDS)[number];

/** Separation-of-duties rules as data: a pair of roles one user should not hold together. */
export const sodRules = pgTable(
  "sod_rules",
  {
    id: text("id").primaryKey(),
    roleA: text("role_a")
      .notNull()
      .references(() => roles.code),
    roleB: text("role_b")
      .notNull()
      .references(() => roles.code),
    kind: text("kind").$type<SodKind>().notNull(),
    descriptionEn: text("description_en").notNull(),
    descriptionZh: text("description_zh").notNull(),
    version: integer("version").notNull().default(1),
  },
  (t) => [
    check("sod_rules_kind_valid", sql`${t.kind} in ('block','block_unless_waiver','warn')`),
    check("sod_rules_distinct_roles", sql`${t.roleA} <> ${t.roleB}`),
  ],
);

export const WAIVER_STATUSES = ["pending", "approved", "rejected", "revoked"] as const;
export type WaiverStatus = (typeof WAIVER_STATUSES)[number];

/** A waiver of a rule for one user (the sole-proprietor DA maker/checker exception), approved by an officer. */
export const sodWaivers = pgTable(
  "sod_waivers",
  {
    id: text("id").primaryKey(),
    participantId: text("participant_id")
      .notNull()
      .references(() => participants.id),
    userId: text("user_id")
      .notNull()
      .references(() => users.id),
    ruleId: text("rule_id")
      .notNull()
      .references(() => sodRules.id),
    reason: text("reason").notNull(),
    status: text("status").$type<WaiverStatus>().notNull().default("pending"),
    requestedBy: text("requested_by").references(() => users.id),
    requestedAt: timestamp("requested_at", { withTimezone: true, precision: 3 }).notNull(),
    decidedBy: text("decided_by").references(() => users.id),
    decidedAt: timestamp("decided_at", { withTimezone: true, precision: 3 }),
    decisionComment: text("decision_comment"),
    version: integer("version").notNull().default(1),
  },
  (t) => [
    index("sod_waivers_user_idx").on(t.userId),
    check("sod_waivers_status_valid", sql`${t.status} in ('pending','approved','rejected','revoked')`),
  ],
);

export const REQUEST_STATUSES = ["pending", "approved", "rejected", "cancelled"] as const;
export type RequestStatus = (typeof REQUEST_STATUSES)[number];

/** A maker's request for a role grant; a checker of the same participant decides. Kept for ever. */
export const grantRequests = pgTable(
  "grant_requests",
  {
    id: text("id").primaryKey(),
    participantId: text("participant_id")
      .notNull()
      .references(() => participants.id),
    userId: text("user_id")
      .notNull()
      .references(() => users.id),
    roleCode: text("role_code")
      .notNull()
      .references(() => roles.code),
    validFrom: timestamp("valid_from", { withTimezone: true, precision: 3 }),
    validTo: timestamp("valid_to", { withTimezone: true, precision: 3 }),
    sodJustification: text("sod_justification"),
    status: text("status").$type<RequestStatus>().notNull().default("pending"),
    source: text("source").notNull().default("request"),
    importRunId: text("import_run_id"),
    requestedBy: text("requested_by").references(() => users.id),
    requestedAt: timestamp("requested_at", { withTimezone: true, precision: 3 }).notNull(),
    decidedBy: text("decided_by").references(() => users.id),
    decidedAt: timestamp("decided_at", { withTimezone: true, precision: 3 }),
    decisionComment: text("decision_comment"),
    grantId: text("grant_id"),
    version: integer("version").notNull().default(1),
  },
  (t) => [
    index("grant_requests_participant_status_idx").on(t.participantId, t.status, t.requestedAt),
    index("grant_requests_user_idx").on(t.userId),
    // One pending request per user and role: a second would be a duplicate.
    uniqueIndex("grant_requests_one_pending").on(t.userId, t.roleCode).where(sql`status = 'pending'`),
    check("grant_requests_status_valid", sql`${t.status} in ('pending','approved','rejected','cancelled')`),
    check("grant_requests_window", sql`${t.validTo} is null or ${t.validFrom} is null or ${t.validTo} > ${t.validFrom}`),
  ],
);

/** A CSV import: its dry run or real run, and the per-row report that can be downloaded afterwards. */
export const importRuns = pgTable(
  "import_runs",
  {
    id: text("id").primaryKey(),
    participantId: text("participant_id")
      .notNull()
      .references(() => participants.id),
    fileName: text("file_name").notNull(),
    mode: text("mode").$type<"dry_run" | "apply">().notNull(),
    outcome: text("outcome").$type<"valid" | "invalid" | "applied">().notNull(),
    rowCount: integer("row_count").notNull(),
    errorCount: integer("error_count").notNull(),
    report: jsonb("report").$type<ImportReportRow[]>().notNull(),
    // The uploaded file, kept so that the run applies exactly what the dry run checked.
    source: text("source").notNull(),
    appliedAt: timestamp("applied_at", { withTimezone: true, precision: 3 }),
    createdBy: text("created_by").references(() => users.id),
    createdAt: timestamp("created_at", { withTimezone: true, precision: 3 }).notNull(),
  },
  (t) => [index("import_runs_participant_idx").on(t.participantId, t.createdAt)],
);

export interface ImportReportRow {
  line: number;
  email: string;
  outcome: "created" | "requested" | "granted" | "error" | "ok";
  userId?: string;
  roles?: string[];
  errors?: { column: string; message: string }[];
}

/** Helpdesk tickets by reference, so a user's support history can be listed; the actions are in the audit trail. */
export const supportActions = pgTable(
  "support_actions",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id),
    action: text("action").notNull(),
    ticketRef: text("ticket_ref").notNull(),
    reason: text("reason").notNull(),
    performedBy: text("performed_by").references(() => users.id),
    performedAt: timestamp("performed_at", { withTimezone: true, precision: 3 }).notNull(),
  },
  (t) => [index("support_actions_user_idx").on(t.userId, t.performedAt)],
);

export type RoleTemplate = typeof roleTemplates.$inferSelect;
export type SodRule = typeof sodRules.$inferSelect;
export type SodWaiver = typeof sodWaivers.$inferSelect;
export type GrantRequest = typeof grantRequests.$inferSelect;
export type ImportRun = typeof importRuns.$inferSelect;
