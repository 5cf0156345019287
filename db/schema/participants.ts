import { sql } from "drizzle-orm";
import { check, integer, pgTable, text, timestamp } from "drizzle-orm/pg-core";

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
