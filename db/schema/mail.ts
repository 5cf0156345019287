import { bigserial, index, integer, jsonb, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/** The mail module's table (app/modules/mail): the outbox. Only that module writes them (eslint: local/module-owns-tables). */

/** Outgoing mail: written in the transaction of the change that causes it, sent by the jobs runner. */
export const mailOutbox = pgTable(
  "mail_outbox",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    toAddress: text("to_address").notNull(),
    subject: text("subject").notNull(),
    body: text("body").notNull(),
    kind: text("kind").notNull(),
    participantId: text("participant_id"),
    createdAt: timestamp("created_at", { withTimezone: true, precision: 3 }).notNull(),
    sentAt: timestamp("sent_at", { withTimezone: true, precision: 3 }),
    attempts: integer("attempts").notNull().default(0),
    lastError: text("last_error"),
    metadata: jsonb("metadata").$type<Record<string, unknown>>(),
  },
  (t) => [index("mail_outbox_unsent_idx").on(t.sentAt, t.createdAt)],
);

export type MailMessage = typeof mailOutbox.$inferSelect;
