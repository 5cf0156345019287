import { and, asc, desc, eq, isNull, lt } from "drizzle-orm";
import nodemailer from "nodemailer";
import type { Database, Transaction } from "../../../db/client.server";
import { mailOutbox, type MailMessage } from "../../../db/schema";
import { isLocale, translator, type Locale, type MessageKey } from "~/i18n/messages";

export type OutgoingMail = Omit<typeof mailOutbox.$inferInsert, "id" | "sentAt" | "attempts" | "lastError">;

/**
 * A mail's subject and body in its recipient's language (users.locale, chosen with the console's language switch or
 * on the user's form): one language per mail, from the catalogues, never both. A parameter given as `name` and
 * `nameZh` reads the Chinese one in Chinese (see translator).
 */
export function composeMail(locale: string | null | undefined, subjectKey: MessageKey, bodyKey: MessageKey, params: Record<string, string | number> = {}): { subject: string; body: string; locale: Locale } {
  const language: Locale = isLocale(locale) ? locale : "en";
  const t = translator(language);
  return { subject: t(subjectKey, params), body: t(bodyKey, params), locale: language };
}

/**
 * Puts mail in the outbox inside the transaction of the change that causes it: the mail leaves only if the change
 * commits. The only writer of new outbox rows.
 */
export async function queueMail(tx: Transaction, messages: readonly OutgoingMail[]): Promise<void> {
  for (let i = 0; i < messages.length; i += 1000) await tx.insert(mailOutbox).values(messages.slice(i, i + 1000));
}

/**
 * Sends what the outbox holds, with SMTP_URL. Each message is claimed under FOR UPDATE SKIP LOCKED, so several
 * processes share the work and none sends a message twice.
 */
export async function deliverOutbox(db: Database, smtpUrl: string, from: string, batch = 50): Promise<number> {
  const transport = nodemailer.createTransport(smtpUrl);
  let sent = 0;
  for (let i = 0; i < batch; i++) {
    const delivered = await db.transaction(async (tx) => {
      const [message] = await tx
        .select()
        .from(mailOutbox)
        .where(and(isNull(mailOutbox.sentAt), lt(mailOutbox.attempts, 5)))
        .orderBy(asc(mailOutbox.createdAt))
        .limit(1)
        .for("update", { skipLocked: true });
      if (!message) return null;
      try {
        await transport.sendMail({ from, to: message.toAddress, subject: message.subject, text: message.body });
        await tx.update(mailOutbox).set({ sentAt: new Date(), attempts: message.attempts + 1 }).where(eq(mailOutbox.id, message.id));
        return true;
      } catch (error) {
        await tx
          .update(mailOutbox)
          .set({ attempts: message.attempts + 1, lastError: error instanceof Error ? error.message.slice(0, 500) : "send failed" })
          .where(eq(mailOutbox.id, message.id));
        return false;
      }
    });
    if (delivered === null) break;
    if (delivered) sent++;
  }
  return sent;
}

/** The demo mailbox: what the console would have sent, newest first. */
export async function listMailbox(db: Database, limit = 100): Promise<MailMessage[]> {
  return db.select().from(mailOutbox).orderBy(desc(mailOutbox.createdAt), desc(mailOutbox.id)).limit(limit);
}
