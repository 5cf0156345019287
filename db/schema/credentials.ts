import { sql } from "drizzle-orm";
import { check, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";
import { participants } from "./participants";
import { users } from "./users";

/** The credentials module's tables (app/modules/credentials): API clients and their keys (SPEC §5). Only that module writes them (eslint: local/module-owns-tables). */

export const API_ENVIRONMENTS = ["simulator", "test", "production"] as const;
export type ApiEnvironment = (typeof API_ENVIRONMENTS)[number];

/** An API client of a participant in one environment, with a console-issued client ID and a named owner. */
export const apiClients = pgTable(
  "api_clients",
  {
    id: text("id").primaryKey(),
    clientId: text("client_id").notNull(),
    participantId: text("participant_id")
      .notNull()
      .references(() => participants.id),
    environment: text("environment").$type<ApiEnvironment>().notNull(),
    name: text("name").notNull(),
    ownerUserId: text("owner_user_id")
      .notNull()
      .references(() => users.id),
    // Production clients wait for a DA checker's approval.
    status: text("status").$type<"pending_approval" | "active" | "rejected" | "revoked">().notNull(),
    requestedBy: text("requested_by").references(() => users.id),
    approvedBy: text("approved_by").references(() => users.id),
    approvedAt: timestamp("approved_at", { withTimezone: true, precision: 3 }),
    revokedAt: timestamp("revoked_at", { withTimezone: true, precision: 3 }),
    revokeReason: text("revoke_reason"),
    createdAt: timestamp("created_at", { withTimezone: true, precision: 3 }).notNull(),
    version: integer("version").notNull().default(1),
  },
  (t) => [
    uniqueIndex("api_clients_client_id_unique").on(t.clientId),
    index("api_clients_participant_idx").on(t.participantId, t.environment),
    check("api_clients_environment_valid", sql`${t.environment} in ('simulator','test','production')`),
    check("api_clients_status_valid", sql`${t.status} in ('pending_approval','active','rejected','revoked')`),
  ],
);

/** A registered public key (never a private one). kid is the RFC 7638 JWK thumbprint. */
export const apiKeys = pgTable(
  "api_keys",
  {
    id: text("id").primaryKey(),
    apiClientId: text("api_client_id")
      .notNull()
      .references(() => apiClients.id),
    kid: text("kid").notNull(),
    publicJwk: jsonb("public_jwk").$type<Record<string, string>>().notNull(),
    alg: text("alg").notNull(),
    status: text("status").$type<"active" | "revoked">().notNull().default("active"),
    validFrom: timestamp("valid_from", { withTimezone: true, precision: 3 }).notNull(),
    expiresAt: timestamp("expires_at", { withTimezone: true, precision: 3 }).notNull(),
    // For a rotation: the key this one replaces.
    replacesKeyId: text("replaces_key_id"),
    revokedAt: timestamp("revoked_at", { withTimezone: true, precision: 3 }),
    revokeReason: text("revoke_reason"),
    createdBy: text("created_by").references(() => users.id),
    createdAt: timestamp("created_at", { withTimezone: true, precision: 3 }).notNull(),
  },
  (t) => [
    uniqueIndex("api_keys_client_kid_unique").on(t.apiClientId, t.kid),
    index("api_keys_expiry_idx").on(t.status, t.expiresAt),
    check("api_keys_status_valid", sql`${t.status} in ('active','revoked')`),
    check("api_keys_window", sql`${t.expiresAt} > ${t.validFrom}`),
  ],
);

/** A challenge to sign with a new private key (proof of possession); single use, short-lived. */
export const keyChallenges = pgTable("key_challenges", {
  id: text("id").primaryKey(),
  apiClientId: text("api_client_id")
    .notNull()
    .references(() => apiClients.id),
  nonce: text("nonce").notNull().unique(),
  createdBy: text("created_by").references(() => users.id),
  createdAt: timestamp("created_at", { withTimezone: true, precision: 3 }).notNull(),
  expiresAt: timestamp("expires_at", { withTimezone: true, precision: 3 }).notNull(),
  usedAt: timestamp("used_at", { withTimezone: true, precision: 3 }),
});

/** One row per key and notice (30, 7, 1 days before expiry): the primary key makes a second sending impossible. */
export const keyExpiryNotices = pgTable(
  "key_expiry_notices",
  {
    keyId: text("key_id")
      .notNull()
      .references(() => apiKeys.id),
    daysBefore: integer("days_before").notNull(),
    sentAt: timestamp("sent_at", { withTimezone: true, precision: 3 }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.keyId, t.daysBefore] })],
);

export type ApiClient = typeof apiClients.$inferSelect;
export type ApiKey = typeof apiKeys.$inferSelect;
