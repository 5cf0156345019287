import { createHash, randomBytes, randomUUID } from "node:crypto";
import { and, eq, gt, inArray, isNull } from "drizzle-orm";
import { z } from "zod";
import type { DbOrTx } from "../../../db/client.server";
import { credentialLinks, users, type LinkPurpose, type User } from "../../../db/schema";
import { hashPassword } from "~/auth/password.server";
import { checkPassword } from "~/auth/password-policy";
import commonPasswordList from "~/auth/common-passwords.json";
import { endSessionsOf } from "~/auth/session.server";
import { AppError } from "~/lib/errors";
import { defineCommand, type CommandContext } from "../command.server";
import { SYSTEM_ACTOR } from "../context.server";
import { composeMail, queueMail, type OutgoingMail } from "../mail/service.server";

export const LINK_LIFETIME_MS = 72 * 3600 * 1000;
const COMMON_PASSWORDS: ReadonlySet<string> = new Set(commonPasswordList as string[]);

/** Where links point when the context has no address of its own (tests calling services directly). */
const DEFAULT_BASE_URL = "http://localhost:3000";

function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

export interface IssuedLink {
  userId: string;
  purpose: LinkPurpose;
  /** Returned so a caller can hand it over (mail); never stored, logged or audited. */
  token: string;
}

export const LINK_EVENTS = ["user.invitation.issued", "user.password_reset.issued"] as const;

/**
 * Issues one-time links inside a command, voiding the users' earlier unused links of the same purpose, and puts
 * the mail carrying each in the outbox. Audited without the token. Links point at the console's address as the
 * context knows it (APP_ORIGIN, else the request's origin; the server's configured address for the seed and jobs).
 */
export async function issueLinks(
  cx: CommandContext,
  targets: readonly Pick<User, "id" | "email" | "displayName" | "participantId" | "locale">[],
  purpose: LinkPurpose,
  /** For a helpdesk reset: the ticket, and that it was done on the user's behalf. */
  support?: { ticketRef: string },
): Promise<IssuedLink[]> {
  if (targets.length === 0) return [];
  const { tx, now } = cx;
  const expiresAt = new Date(now.getTime() + LINK_LIFETIME_MS);
  const issued: IssuedLink[] = [];
  const linkRows: (typeof credentialLinks.$inferInsert)[] = [];
  const mail: OutgoingMail[] = [];
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
  const baseUrl = (cx.ctx.baseUrl ?? DEFAULT_BASE_URL).replace(/\/$/, "");
  for (const user of targets) {
    const token = randomBytes(32).toString("base64url");
    linkRows.push({ id: randomUUID(), userId: user.id, purpose, tokenHash: hashToken(token), createdAt: now, expiresAt, createdBy: cx.actor.userId });
    const url = `${baseUrl}/activate/${token}`;
    // In the user's own language (the administrator chose it on the user's form, or the user in the console).
    const { subject, body, locale } =
      purpose === "invitation"
        ? composeMail(user.locale, "mail.invitation.subject", "mail.invitation.body", { name: user.displayName, url })
        : composeMail(user.locale, "mail.passwordReset.subject", "mail.passwordReset.body", { name: user.displayName, url });
    mail.push({
      toAddress: user.email,
      subject,
      body,
      kind: purpose,
      participantId: user.participantId,
      createdAt: now,
      metadata: { userId: user.id, locale },
    });
    issued.push({ userId: user.id, purpose, token });
    cx.audit({
      action: purpose === "invitation" ? "user.invitation.issued" : "user.password_reset.issued",
      entityType: "user",
      entityId: user.id,
      participantId: user.participantId,
      ticketRef: support?.ticketRef ?? null,
      onBehalfOfUserId: support ? user.id : null,
      metadata: { userId: user.id, expiresAt: expiresAt.toISOString() },
    });
  }
  for (let i = 0; i < linkRows.length; i += 1000) await tx.insert(credentialLinks).values(linkRows.slice(i, i + 1000));
  await queueMail(tx, mail);
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

async function linkByToken(db: DbOrTx, token: string, lock = false) {
  const query = db.select().from(credentialLinks).where(eq(credentialLinks.tokenHash, hashToken(token)));
  const [link] = lock ? await query.for("update") : await query;
  return link ?? null;
}

const redeemSchema = z.object({
  token: z.string().max(200),
  password: z.string({ error: "validation.required" }).max(1000, { error: "validation.tooLong" }),
  confirmation: z.string().max(1000, { error: "validation.tooLong" }),
});

/**
 * Uses a link to set a password (policy of SPEC §5). The link row is locked and marked used in the same transaction,
 * so it works once however many times it is submitted. An invitation activates the account; a reset ends every
 * session the user had. Public: the link is the authority, and the user it belongs to is recorded as the actor.
 */
export const redeemLink = defineCommand({
  name: "users.redeemLink",
  permission: "public",
  input: redeemSchema,
  events: ["user.activated", "user.password_reset.completed"],
  async tenant(tx, input) {
    const link = await linkByToken(tx, input.token);
    if (!link) throw new AppError(400, "link.invalid");
    const [user] = await tx.select({ participantId: users.participantId }).from(users).where(eq(users.id, link.userId));
    return user?.participantId ?? null;
  },
  async run(cx): Promise<{ purpose: LinkPurpose }> {
    const { tx, input, now } = cx;
    if (input.password !== input.confirmation) throw new AppError(400, "error.badRequest", { confirmation: "password.mismatch" });
    const link = await linkByToken(tx, input.token, true);
    if (!link || link.usedAt || link.voidedAt || link.expiresAt <= now) throw new AppError(400, "link.invalid");
    const [user] = await tx.select().from(users).where(eq(users.id, link.userId)).for("update");
    if (!user || user.status === "deactivated" || user.status === "suspended") throw new AppError(400, "link.invalid");
    const verdict = checkPassword(input.password, COMMON_PASSWORDS, { email: user.email, displayName: user.displayName });
    if (!verdict.ok) throw new AppError(400, "error.badRequest", { password: verdict.messageKey });
    const passwordHash = await hashPassword(input.password);
    await tx.update(credentialLinks).set({ usedAt: now }).where(eq(credentialLinks.id, link.id));
    const activates = link.purpose === "invitation" && user.status === "invited";
    await tx
      .update(users)
      .set({ passwordHash, status: activates ? "active" : user.status, statusChangedAt: activates ? now : user.statusChangedAt, version: user.version + 1, updatedAt: now })
      .where(eq(users.id, user.id));
    const sessionsEnded = link.purpose === "password_reset" ? await endSessionsOf(tx, user.id) : 0;
    cx.recordAs({ ...SYSTEM_ACTOR, userId: user.id, displayName: user.displayName, email: user.email, participantId: user.participantId, persona: "none", permissions: new Set() });
    cx.audit({
      action: link.purpose === "invitation" ? "user.activated" : "user.password_reset.completed",
      entityType: "user",
      entityId: user.id,
      participantId: user.participantId,
      changes: activates ? { status: { before: "invited", after: "active" } } : null,
      metadata: { sessionsEnded },
    });
    return { purpose: link.purpose };
  },
});
