import { sql } from "drizzle-orm";
import {
  bigserial,
  boolean,
  check,
  index,
  integer,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
} from "drizzle-orm/pg-core";
import { participants } from "./participants";

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
    version: integer("version").notNull().default(1),
    createdAt: timestamp("created_at", { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("users_email_unique").on(t.email),
    index("users_participant_idx").on(t.participantId),
    check("users_email_lower", sql`${t.email} = lower(${t.email})`),
    check("users_status_valid", sql`${t.status} in ('invited','active','locked','suspended','deactivated')`),
  ],
);

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
    check("role_grants_status_valid", sql`${t.status} in ('active','revoked')`),
  ],
);

/** Console sessions (lucia v3). Expiry is enforced on the server: idle and absolute limits. */
export const sessions = pgTable(
  "sessions",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id),
    expiresAt: timestamp("expires_at", { withTimezone: true, mode: "date" }).notNull(),
    absoluteExpiresAt: timestamp("absolute_expires_at", { withTimezone: true, precision: 3 }).notNull(),
    lastSeenAt: timestamp("last_seen_at", { withTimezone: true, precision: 3 }).notNull(),
    ip: text("ip"),
    userAgent: text("user_agent"),
    createdAt: timestamp("created_at", { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    // A session starts after the password; it does nothing until the second factor is verified (or enrolled).
    mfaVerifiedAt: timestamp("mfa_verified_at", { withTimezone: true, precision: 3 }),
    // For a user not yet enrolled: the key offered on the enrolment page, kept until a code proves it was set up.
    mfaPendingSecret: text("mfa_pending_secret"),
    // Wrong codes entered in this session; too many end it.
    mfaFailures: integer("mfa_failures").notNull().default(0),
  },
  (t) => [index("sessions_user_idx").on(t.userId)],
);

/** Sign-in attempts, kept for throttling per account and per client address across server processes. */
export const signInAttempts = pgTable(
  "sign_in_attempts",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    emailKey: text("email_key").notNull(),
    ip: text("ip").notNull(),
    succeeded: boolean("succeeded").notNull(),
    attemptedAt: timestamp("attempted_at", { withTimezone: true, precision: 3 }).notNull(),
  },
  (t) => [
    index("sign_in_attempts_email_idx").on(t.emailKey, t.attemptedAt),
    index("sign_in_attempts_ip_idx").on(t.ip, t.attemptedAt),
  ],
);

export type User = typeof users.$inferSelect;
export type NewUser = typeof users.$inferInsert;
export type Role = typeof roles.$inferSelect;
export type RoleGrant = typeof roleGrants.$inferSelect;
export type Session = typeof sessions.$inferSelect;
