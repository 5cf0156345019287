import { createHash, randomBytes, randomUUID } from "node:crypto";
import { and, eq, gt, inArray, isNull } from "drizzle-orm";
import type { DbOrTx, Transaction } from "../../../db/client.server";
import { credentialLinks, mailOutbox, sessions, users, type LinkPurpose, type User } from "../../../db/schema";
import { hashPassword } from "~/auth/password.server";
import { checkPassword } from "~/auth/password-policy";
import commonPasswordList from "~/auth/common-passwords.json";
import { AppError } from "~/lib/errors";
import { appendAuditEvent, appendAuditEvents, type AuditEventInput } from "../audit/service.server";
import { SYSTEM_ACTOR, type ServiceContext } from "../context.server";

export const LINK_LIFETIME_MS = 72 * 3600 * 1000;
const COMMON_PASSWORDS: ReadonlySet<string> = new Set(commonPasswordList as string[]);

/** Where links point when a change has no request (seed, jobs): set at boot from APP_ORIGIN or the local port. */
export const linkSettings = { baseUrl: "http://localhost:3000" };

function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

export interface IssuedLink {
  userId: string;
  purpose: LinkPurpose;
  /** Returned so a caller can hand it over (mail); never stored, logged or audited. */
  token: string;
}

/**
 * Issues one-time links inside the caller's transaction, voiding the users' earlier unused links of the same purpose,
 * and puts the mail carrying each in the outbox. Audited without the token.
 */
export async function issueLinks(
  tx: Transaction,
  ctx: Pick<ServiceContext, "actor" | "requestId" | "ip" | "userAgent" | "baseUrl">,
  targets: readonly Pick<User, "id" | "email" | "displayName" | "participantId">[],
  purpose: LinkPurpose,
  /** For a helpdesk reset: the ticket, and that it was done on the user's behalf. */
  support?: { ticketRef: string },
): Promise<IssuedLink[]> {
  if (targets.length === 0) return [];
  const now = new Date();
  const expiresAt = new Date(now.getTime() + LINK_LIFETIME_MS);
  const issued: IssuedLink[] = [];
  const events: AuditEventInput[] = [];
  const linkRows: (typeof credentialLinks.$inferInsert)[] = [];
  const mailRows: (typeof mailOutbox.$inferInsert)[] = [];
  for (let i = 0; i < targets.length; i += 1000) {
    await tx
      .update(credentialLinks)
      .set({ voidedAt: now })
      .where(
        and(
          inArray(credentialLinks.userId, targets.slice(i, i + 1000).map((t) => t.id)),
          eq(credentialLinks.purpose, purpose),
          isNull(credentialLinks.usedAt),
          isNull(credentialLinks.voidedAt),
        ),
      );
  }
  for (const user of targets) {
    const token = randomBytes(32).toString("base64url");
    linkRows.push({ id: randomUUID(), userId: user.id, purpose, tokenHash: hashToken(token), createdAt: now, expiresAt, createdBy: ctx.actor.userId });
    const url = `${(ctx.baseUrl ?? linkSettings.baseUrl).replace(/\/$/, "")}/activate/${token}`;
    mailRows.push({
      toAddress: user.email,
      subject: purpose === "invitation" ? "Activate your OCP account" : "Reset your OCP password",
      body:
        purpose === "invitation"
          ? `Dear ${user.displayName},\n\nAn account has been created for you. Set your password within 72 hours: ${url}\n\nThe link works once.`
          : `Dear ${user.displayName},\n\nA password reset was requested for your account. Set a new password within 72 hours: ${url}\n\nThe link works once. If you did not ask for it, tell your administrator.`,
      kind: purpose,
      participantId: user.participantId,
      createdAt: now,
      metadata: { userId: user.id },
    });
    issued.push({ userId: user.id, purpose, token });
    events.push({
      action: purpose === "invitation" ? "user.invitation.issued" : "user.password_reset.issued",
      entityType: "user",
      entityId: user.id,
      participantId: user.participantId,
      ticketRef: support?.ticketRef ?? null,
      onBehalfOfUserId: support ? user.id : null,
      metadata: { userId: user.id, expiresAt: expiresAt.toISOString() },
    });
  }
  for (let i = 0; i < linkRows.length; i += 1000) {
    await tx.insert(credentialLinks).values(linkRows.slice(i, i + 1000));
    await tx.insert(mailOutbox).values(mailRows.slice(i, i + 1000));
  }
  await appendAuditEvents(tx, ctx, events);
  return issued;
}

export type LinkState = { valid: true; purpose: LinkPurpose; email: string } | { valid: false };

/** Whether a link can still be used; an unknown, used, voided or expired link all look the same. */
export async function inspectLink(db: DbOrTx, token: string): Promise<LinkState> {
  if (!/^[A-Za-z0-9_-]{20,100}$/.test(token)) return { valid: false };
  const [row] = await db
    .select({ purpose: credentialLinks.purpose, email: users.email })
    .from(credentialLinks)
    .innerJoin(users, eq(users.id, credentialLinks.userId))
    .where(and(eq(credentialLinks.tokenHash, hashToken(token)), isNull(credentialLinks.usedAt), isNull(credentialLinks.voidedAt), gt(credentialLinks.expiresAt, new Date())));
  return row ? { valid: true, purpose: row.purpose, email: row.email } : { valid: false };
}

/**
 * Uses a link to set a password (policy of SPEC §5). The link row is locked and marked used in the same transaction,
 * so it works once however many times it is submitted. An invitation activates the account; a reset ends every
 * session the user had.
 */
export async function redeemLink(db: DbOrTx, info: { requestId: string | null; ip: string | null; userAgent: string | null }, token: string, password: string, confirmation: string): Promise<{ purpose: LinkPurpose }> {
  if (password !== confirmation) throw new AppError(400, "error.badRequest", { confirmation: "password.mismatch" });
  const passwordHash = await hashPassword(password);
  return db.transaction(async (tx) => {
    const [link] = await tx
      .select()
      .from(credentialLinks)
      .where(and(eq(credentialLinks.tokenHash, hashToken(token))))
      .for("update");
    const now = new Date();
    if (!link || link.usedAt || link.voidedAt || link.expiresAt <= now) throw new AppError(400, "link.invalid");
    const [user] = await tx.select().from(users).where(eq(users.id, link.userId)).for("update");
    if (!user || user.status === "deactivated" || user.status === "suspended") throw new AppError(400, "link.invalid");
    const verdict = checkPassword(password, COMMON_PASSWORDS, { email: user.email, displayName: user.displayName });
    if (!verdict.ok) throw new AppError(400, "error.badRequest", { password: verdict.messageKey });
    await tx.update(credentialLinks).set({ usedAt: now }).where(eq(credentialLinks.id, link.id));
    const activates = link.purpose === "invitation" && user.status === "invited";
    await tx
      .update(users)
      .set({ passwordHash, status: activates ? "active" : user.status, statusChangedAt: activates ? now : user.statusChangedAt, version: user.version + 1, updatedAt: now })
      .where(eq(users.id, user.id));
    const ended = link.purpose === "password_reset" ? await tx.delete(sessions).where(eq(sessions.userId, user.id)).returning({ id: sessions.id }) : [];
    const actor = { ...SYSTEM_ACTOR, userId: user.id, displayName: user.displayName, email: user.email, participantId: user.participantId, persona: "none" as const };
    await appendAuditEvent(tx, { ...info, actor }, {
      action: link.purpose === "invitation" ? "user.activated" : "user.password_reset.completed",
      entityType: "user",
      entityId: user.id,
      participantId: user.participantId,
      changes: activates ? { status: { before: "invited", after: "active" } } : null,
      metadata: { sessionsEnded: ended.length },
    });
    return { purpose: link.purpose };
  });
}
