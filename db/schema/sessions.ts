import { bigserial, boolean, index, integer, pgTable, text, timestamp } from "drizzle-orm/pg-core";
import { users } from "./users";

/** The sign-in tables (app/auth): sessions and sign-in attempts. Only that module writes them (eslint: local/module-owns-tables). */

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

export type Session = typeof sessions.$inferSelect;
