import { sql } from "drizzle-orm";
import { boolean, check, index, integer, pgTable, primaryKey, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";
import { participants, type ParticipantType } from "./participants";
import { users } from "./users";

/** The roles module's tables (app/modules/roles): the role catalogue, grants, requests, templates and SoD (SPEC §4). Only that module writes them (eslint: local/module-owns-tables). */

/** Role catalogue (SPEC §4). Rows are seeded by migration and managed by the platform administrator. */
export const roles = pgTable(
  "roles",
  {
    code: text("code").primaryKey(),
    nameEn: text("name_en").notNull(),
    nameZh: text("name_zh").notNull(),
    population: text("population").$type<"hkex" | "participant">().notNull(),
    // The OCP service this role uses, if any (trade_info, reference_data, si_status).
    service: text("service"),
    // Console roles let their holder sign in to this console.
    isConsole: boolean("is_console").notNull().default(false),
    // Retired roles can no longer be granted; existing grants stay on record.
    active: boolean("active").notNull().default(true),
    version: integer("version").notNull().default(1),
  },
  (t) => [check("roles_population_valid", sql`${t.population} in ('hkex','participant')`)],
);

export const ROLE_GRANT_STATUSES = ["active", "revoked"] as const;
export type RoleGrantStatus = (typeof ROLE_GRANT_STATUSES)[number];

/** A role held by a user. Maker-checker requests and decisions build on this (Login Management). */
export const roleGrants = pgTable(
  "role_grants",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id),
    roleCode: text("role_code")
      .notNull()
      .references(() => roles.code),
    participantId: text("participant_id").references(() => participants.id),
    status: text("status").$type<RoleGrantStatus>().notNull().default("active"),
    validFrom: timestamp("valid_from", { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    validTo: timestamp("valid_to", { withTimezone: true, precision: 3 }),
    // Where the grant came from: seed, request, import, officer (first administrators).
    source: text("source").notNull(),
    requestId: text("request_id"),
    requestedBy: text("requested_by").references(() => users.id),
    approvedBy: text("approved_by").references(() => users.id),
    // The justification recorded for a separation-of-duties warning, if the grant raised one.
    sodJustification: text("sod_justification"),
    createdAt: timestamp("created_at", { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    revokedAt: timestamp("revoked_at", { withTimezone: true, precision: 3 }),
    revokedBy: text("revoked_by").references(() => users.id),
    revokeReason: text("revoke_reason"),
  },
  (t) => [
    index("role_grants_user_idx").on(t.userId),
    index("role_grants_participant_idx").on(t.participantId),
    // role_grants_role_participant_idx (role_code, participant_id) INCLUDE (…) is in migration 0021: drizzle has no INCLUDE.
    check("role_grants_status_valid", sql`${t.status} in ('active','revoked')`),
  ],
);

export type Role = typeof roles.$inferSelect;
export type RoleGrant = typeof roleGrants.$inferSelect;

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
    // A maker's own requests, newest first (the Approvals page's "mine" view).
    index("grant_requests_requested_by_idx").on(t.requestedBy, t.requestedAt),
    // One pending request per user and role: a second would be a duplicate.
    uniqueIndex("grant_requests_one_pending").on(t.userId, t.roleCode).where(sql`status = 'pending'`),
    check("grant_requests_status_valid", sql`${t.status} in ('pending','approved','rejected','cancelled')`),
    check("grant_requests_window", sql`${t.validTo} is null or ${t.validFrom} is null or ${t.validTo} > ${t.validFrom}`),
  ],
);

export type RoleTemplate = typeof roleTemplates.$inferSelect;
export type SodRule = typeof sodRules.$inferSelect;
export type SodWaiver = typeof sodWaivers.$inferSelect;
export type GrantRequest = typeof grantRequests.$inferSelect;
