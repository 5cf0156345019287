import { sql } from "drizzle-orm";
import { bigserial, boolean, check, index, integer, jsonb, pgTable, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";
import { participants } from "./participants";

/** The users module's tables (app/modules/users): identities, their one-time links, imports and support tickets. Only that module writes them (eslint: local/module-owns-tables). */

export const USER_STATUSES = ["invited", "active", "locked", "suspended", "deactivated"] as const;
export type UserStatus = (typeof USER_STATUSES)[number];

/** One identity table for HKEX staff (participant_id null) and participants' users. */
export const users = pgTable(
  "users",
  {
    id: text("id").primaryKey(),
    // Login name; stored lower-cased. Unique for ever: deactivated users keep theirs.
    email: text("email").notNull(),
    displayName: text("display_name").notNull(),
    participantId: text("participant_id").references(() => participants.id),
    passwordHash: text("password_hash"),
    status: text("status").$type<UserStatus>().notNull().default("invited"),
    // Demo accounts can sign in only while the server runs in demo mode.
    isDemo: boolean("is_demo").notNull().default(false),
    lastSignInAt: timestamp("last_sign_in_at", { withTimezone: true, precision: 3 }),
    // Why the user is locked, suspended or deactivated, and since when (lifecycle of SPEC §4).
    statusReason: text("status_reason"),
    statusChangedAt: timestamp("status_changed_at", { withTimezone: true, precision: 3 }),
    // Set when the user has enrolled two-factor authentication (credential issuance); a helpdesk reset clears it.
    mfaEnrolledAt: timestamp("mfa_enrolled_at", { withTimezone: true, precision: 3 }),
    // The RFC 6238 shared key (base32) of the enrolled authenticator; never logged, audited or shown again.
    totpSecret: text("totp_secret"),
    // The last 30-second time step whose code was accepted: a code of that step or an earlier one is refused.
    totpLastStep: integer("totp_last_step"),
    // The language the user reads the console's mail in (en or zh-HK): chosen with the console's language switch
    // while signed in, or by an administrator on the user's form. Mail is rendered in it, subject and body.
    locale: text("locale").$type<"en" | "zh-HK">().notNull().default("en"),
    version: integer("version").notNull().default(1),
    createdAt: timestamp("created_at", { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("users_email_unique").on(t.email),
    // A participant's users in name order (its Users list, the owner pickers) straight from the index, without
    // sorting a large firm's thousands of users for a page (migration 0022).
    index("users_participant_idx").on(t.participantId, t.displayName, t.id),
    // The Users list sorts by name (then id, for a stable order) at 50,000 users; searches use a trigram index
    // made in migration 0011 (an expression drizzle-kit does not describe).
    index("users_display_name_idx").on(t.displayName, t.id),
    check("users_email_lower", sql`${t.email} = lower(${t.email})`),
    check("users_status_valid", sql`${t.status} in ('invited','active','locked','suspended','deactivated')`),
    check("users_locale_valid", sql`${t.locale} in ('en','zh-HK')`),
  ],
);

export type User = typeof users.$inferSelect;
export type NewUser = typeof users.$inferInsert;

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
  errors?: ImportRowError[];
}

/**
 * A problem of one line: the column, the message in English (the downloadable report, and reports written before
 * the messages were translated) and, since issue 14, its catalogue key and parameters for the page in either
 * language. Role codes in `params` (roleA, roleB, role) are shown as the roles' names.
 */
export interface ImportRowError {
  column: string;
  message: string;
  messageKey?: string;
  params?: Record<string, string | number>;
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

export type ImportRun = typeof importRuns.$inferSelect;

export const LINK_PURPOSES = ["invitation", "password_reset"] as const;
export type LinkPurpose = (typeof LINK_PURPOSES)[number];

/**
 * One-time links (SPEC §5): the token is random (256 bits) and only its SHA-256 is stored; single use; 72 hours.
 * Issuing a new link for the same purpose voids the user's earlier unused ones.
 */
export const credentialLinks = pgTable(
  "credential_links",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id),
    purpose: text("purpose").$type<LinkPurpose>().notNull(),
    tokenHash: text("token_hash").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true, precision: 3 }).notNull(),
    expiresAt: timestamp("expires_at", { withTimezone: true, precision: 3 }).notNull(),
    usedAt: timestamp("used_at", { withTimezone: true, precision: 3 }),
    voidedAt: timestamp("voided_at", { withTimezone: true, precision: 3 }),
    createdBy: text("created_by").references(() => users.id),
  },
  (t) => [
    uniqueIndex("credential_links_token_unique").on(t.tokenHash),
    index("credential_links_user_idx").on(t.userId, t.purpose),
    check("credential_links_purpose_valid", sql`${t.purpose} in ('invitation','password_reset')`),
  ],
);

export type CredentialLink = typeof credentialLinks.$inferSelect;
