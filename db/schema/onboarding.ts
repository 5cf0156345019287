import { sql } from "drizzle-orm";
import {
  bigserial,
  check,
  date,
  index,
  integer,
  pgTable,
  primaryKey,
  text,
  timestamp,
} from "drizzle-orm/pg-core";
import { users } from "./identity";
import { participants } from "./participants";

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

/** The Non-Clearing Participants a General Clearing Participant clears for. */
export const participantClearing = pgTable(
  "participant_clearing",
  {
    gcpId: text("gcp_id")
      .notNull()
      .references(() => participants.id),
    ncpId: text("ncp_id")
      .notNull()
      .references(() => participants.id),
  },
  (t) => [
    primaryKey({ columns: [t.gcpId, t.ncpId] }),
    check("participant_clearing_not_self", sql`${t.gcpId} <> ${t.ncpId}`),
  ],
);

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

export const STEP_STATES = ["locked", "ready", "in_progress", "submitted", "approved", "returned"] as const;
export type StepState = (typeof STEP_STATES)[number];

/** One row per participant and workflow step; the definition of the steps is data in app/modules/onboarding. */
export const onboardingSteps = pgTable(
  "onboarding_steps",
  {
    participantId: text("participant_id")
      .notNull()
      .references(() => participants.id),
    stepKey: text("step_key").notNull(),
    state: text("state").$type<StepState>().notNull().default("locked"),
    ownerUserId: text("owner_user_id").references(() => users.id),
    dueDate: date("due_date", { mode: "string" }),
    submittedBy: text("submitted_by").references(() => users.id),
    submittedAt: timestamp("submitted_at", { withTimezone: true, precision: 3 }),
    decidedBy: text("decided_by").references(() => users.id),
    decidedAt: timestamp("decided_at", { withTimezone: true, precision: 3 }),
    returnReason: text("return_reason"),
    version: integer("version").notNull().default(1),
    updatedAt: timestamp("updated_at", { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.participantId, t.stepKey] }),
    index("onboarding_steps_state_idx").on(t.state, t.stepKey),
    check(
      "onboarding_steps_state_valid",
      sql`${t.state} in ('locked','ready','in_progress','submitted','approved','returned')`,
    ),
    check("onboarding_steps_returned_has_reason", sql`${t.state} <> 'returned' or ${t.returnReason} is not null`),
  ],
);

export const STEP_ENTRY_KINDS = ["note", "evidence"] as const;
export type StepEntryKind = (typeof STEP_ENTRY_KINDS)[number];

/** Notes and evidence on a step: added, never edited (their history is the audit trail's too). */
export const onboardingStepEntries = pgTable(
  "onboarding_step_entries",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    participantId: text("participant_id")
      .notNull()
      .references(() => participants.id),
    stepKey: text("step_key").notNull(),
    kind: text("kind").$type<StepEntryKind>().notNull(),
    body: text("body").notNull(),
    // For evidence: a document reference (file name, ticket, URL) that the reviewer can look up.
    reference: text("reference"),
    authorUserId: text("author_user_id").references(() => users.id),
    authorName: text("author_name").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true, precision: 3 }).notNull(),
  },
  (t) => [
    index("onboarding_step_entries_step_idx").on(t.participantId, t.stepKey, t.createdAt),
    check("onboarding_step_entries_kind_valid", sql`${t.kind} in ('note','evidence')`),
  ],
);

export type OcpService = typeof ocpServices.$inferSelect;
export type ParticipantContact = typeof participantContacts.$inferSelect;
export type OnboardingStep = typeof onboardingSteps.$inferSelect;
export type OnboardingStepEntry = typeof onboardingStepEntries.$inferSelect;
