import { sql } from "drizzle-orm";
import { bigserial, check, date, index, integer, pgTable, primaryKey, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";

/** The participants module's tables (app/modules/participants): the registry of SPEC §2. Only that module writes them (eslint: local/module-owns-tables). */

export const PARTICIPANT_TYPES = [
  "DCP",
  "GCP",
  "CAP",
  "CUSTODIAN",
  "STOCK_LENDER",
  "STOCK_PLEDGEE",
  "INVESTOR",
] as const;
export type ParticipantType = (typeof PARTICIPANT_TYPES)[number];

export const PARTICIPANT_STATUSES = ["prospect", "onboarding", "certified", "live", "suspended"] as const;
export type ParticipantStatus = (typeof PARTICIPANT_STATUSES)[number];

export const participants = pgTable(
  "participants",
  {
    // HKSCC participant ID: one capital letter and five digits; never reused, so never deleted.
    id: text("id").primaryKey(),
    nameEn: text("name_en").notNull(),
    nameZh: text("name_zh").notNull(),
    type: text("type").$type<ParticipantType>().notNull(),
    bic: text("bic"),
    // Derived from the onboarding case (and suspension) and stored, so lists filter on it cheaply.
    status: text("status").$type<ParticipantStatus>().notNull().default("prospect"),
    suspendedAt: timestamp("suspended_at", { withTimezone: true, precision: 3 }),
    suspensionReason: text("suspension_reason"),
    version: integer("version").notNull().default(1),
    createdAt: timestamp("created_at", { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (t) => [
    index("participants_name_en_idx").on(t.nameEn, t.id),
    check("participants_id_format", sql`${t.id} ~ '^[A-Z][0-9]{5}$'`),
    check(
      "participants_type_valid",
      sql`${t.type} in ('DCP','GCP','CAP','CUSTODIAN','STOCK_LENDER','STOCK_PLEDGEE','INVESTOR')`,
    ),
    check("participants_status_valid", sql`${t.status} in ('prospect','onboarding','certified','live','suspended')`),
  ],
);

export type Participant = typeof participants.$inferSelect;
export type NewParticipant = typeof participants.$inferInsert;

/** Catalogue of OCP services a participant can subscribe to (SPEC §2), seeded by migration. */
export const ocpServices = pgTable("ocp_services", {
  code: text("code").primaryKey(),
  nameEn: text("name_en").notNull(),
  nameZh: text("name_zh").notNull(),
  sortOrder: integer("sort_order").notNull().default(0),
});

export const participantServices = pgTable(
  "participant_services",
  {
    participantId: text("participant_id")
      .notNull()
      .references(() => participants.id),
    serviceCode: text("service_code")
      .notNull()
      .references(() => ocpServices.code),
  },
  (t) => [primaryKey({ columns: [t.participantId, t.serviceCode] })],
);

/**
 * A General Clearing Participant's clearing agreement with a Non-Clearing Participant (SPEC §2). An NCP is an
 * exchange participant, not a clearing participant of this console: it is recorded here by its own exchange
 * participant ID and names, with the days the agreement runs (Hong Kong calendar days, both inclusive; no end day
 * while it runs). The agreements in force on a day are the NCP/GCP mapping the reference-data service publishes.
 */
export const clearingAgreements = pgTable(
  "clearing_agreements",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    gcpId: text("gcp_id")
      .notNull()
      .references(() => participants.id),
    ncpId: text("ncp_id").notNull(),
    ncpNameEn: text("ncp_name_en").notNull(),
    ncpNameZh: text("ncp_name_zh").notNull(),
    startsOn: date("starts_on", { mode: "string" }).notNull(),
    endsOn: date("ends_on", { mode: "string" }),
    version: integer("version").notNull().default(1),
    createdAt: timestamp("created_at", { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (t) => [
    index("clearing_agreements_gcp_idx").on(t.gcpId, t.ncpId),
    index("clearing_agreements_ncp_idx").on(t.ncpId, t.startsOn),
    // The same NCP at most once without an end day under one GCP; overlaps across GCPs are refused by the command.
    uniqueIndex("clearing_agreements_one_open").on(t.gcpId, t.ncpId).where(sql`${t.endsOn} is null`),
    check("clearing_agreements_ncp_id_format", sql`${t.ncpId} ~ '^[A-Z][0-9]{5}$'`),
    check("clearing_agreements_ncp_not_gcp", sql`${t.ncpId} <> ${t.gcpId}`),
    check("clearing_agreements_dates", sql`${t.endsOn} is null or ${t.endsOn} >= ${t.startsOn}`),
  ],
);

export type ClearingAgreement = typeof clearingAgreements.$inferSelect;

export const participantContacts = pgTable(
  "participant_contacts",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    participantId: text("participant_id")
      .notNull()
      .references(() => participants.id),
    position: integer("position").notNull(),
    name: text("name").notNull(),
    email: text("email").notNull(),
    phone: text("phone"),
    title: text("title"),
  },
  (t) => [index("participant_contacts_participant_idx").on(t.participantId, t.position)],
);

export type OcpService = typeof ocpServices.$inferSelect;
export type ParticipantContact = typeof participantContacts.$inferSelect;
