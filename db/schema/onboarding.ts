import { sql } from "drizzle-orm";
import { bigserial, check, date, index, integer, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";
import { participants } from "./participants";
import { users } from "./users";

/** The onboarding module's tables (app/modules/onboarding): each participant's case, step by step (SPEC §3). Only that module writes them (eslint: local/module-owns-tables). */

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

export type OnboardingStep = typeof onboardingSteps.$inferSelect;
export type OnboardingStepEntry = typeof onboardingStepEntries.$inferSelect;
