import { randomBytes, randomUUID } from "node:crypto";
import { and, asc, count, desc, eq, gt, inArray, isNull, lte, ne, or, sql } from "drizzle-orm";
import { z } from "zod";
import type { Database, DbOrTx } from "../../../db/client.server";
import {
  API_ENVIRONMENTS,
  apiClients,
  apiKeys,
  keyChallenges,
  keyExpiryNotices,
  onboardingSteps,
  participants,
  roleGrants,
  users,
  type ApiClient,
  type ApiEnvironment,
  type ApiKey,
} from "../../../db/schema";
import { formatHongKongTime } from "~/i18n/messages";
import { AppError, notFound } from "~/lib/errors";
import { likePattern, likePrefix } from "~/lib/like";
import { endOfDaySchema, endOfHongKongDay, endOfHongKongDayOf, isCalendarDay } from "~/lib/hong-kong-time";
import { diffFields } from "../audit/service.server";
import { certificationStatusOf } from "../certification/service.server";
import { defineCommand, type CommandContext } from "../command.server";
import type { ServiceContext } from "../context.server";
import { composeMail, queueMail } from "../mail/service.server";
import { FREEZE_GUARD_EVENTS, guardFrozenClient } from "../rollouts/freeze.server";
import { optionalText, requiredText } from "../participants/schemas";
import { grantCountsNow } from "../roles/facts.server";
import { assertTenant, mayOn, whereTenant } from "../tenancy.server";
import { CHALLENGE_MINUTES, EXPIRY_NOTICE_DAYS, MAX_KEY_LIFETIME_MONTHS, MAX_ROTATION_OVERLAP_DAYS } from "./claim-rules";
import { checkJwt, parsePublicKey, verifyProofOfPossession, type JwtCheckResult } from "./keys.server";
import { pickedUser } from "../users/picker.server";

const DAY = 24 * 3600 * 1000;

function clientScope(ctx: ServiceContext) {
  return whereTenant(ctx.actor, "credential:read", apiClients.participantId);
}

export async function listClients(ctx: ServiceContext): Promise<(ApiClient & { ownerName: string; keys: number; nextExpiry: Date | null })[]> {
  const rows = await ctx.db
    .select({ client: apiClients, ownerName: users.displayName })
    .from(apiClients)
    .innerJoin(users, eq(users.id, apiClients.ownerUserId))
    .where(clientScope(ctx))
    .orderBy(asc(apiClients.participantId), asc(apiClients.environment), asc(apiClients.name));
  const now = new Date();
  const keys = rows.length
    ? await ctx.db
        .select({ apiClientId: apiKeys.apiClientId, expiresAt: apiKeys.expiresAt })
        .from(apiKeys)
        .where(and(inArray(apiKeys.apiClientId, rows.map((r) => r.client.id)), eq(apiKeys.status, "active"), gt(apiKeys.expiresAt, now)))
    : [];
  return rows.map((r) => {
    const mine = keys.filter((k) => k.apiClientId === r.client.id);
    const nextExpiry = mine.reduce<Date | null>((soonest, k) => (soonest === null || k.expiresAt < soonest ? k.expiresAt : soonest), null);
    return { ...r.client, ownerName: r.ownerName, keys: mine.length, nextExpiry };
  });
}

/**
 * API clients whose client ID or name contains `q`, and clients holding a key whose id (kid) starts with `q`, for
 * the global search: a few and the total, in the actor's scope.
 */
export async function searchCredentials(ctx: ServiceContext, q: string, limit: number) {
  if (!mayOn(ctx.actor, "credential:read", ctx.actor.participantId)) return { rows: [], total: 0 };
  const pattern = likePattern(q);
  const kidPrefix = likePrefix(q);
  const where = and(
    clientScope(ctx),
    or(
      sql`lower(${apiClients.clientId}) like ${pattern} escape '\\'`,
      sql`lower(${apiClients.name}) like ${pattern} escape '\\'`,
      sql`${apiClients.id} in (select ${apiKeys.apiClientId} from ${apiKeys} where ${apiKeys.kid} like ${kidPrefix} escape '\\')`,
    ),
  );
  const [{ total } = { total: 0 }] = await ctx.db.select({ total: count() }).from(apiClients).where(where);
  const rows = await ctx.db.select().from(apiClients).where(where).orderBy(asc(apiClients.clientId)).limit(limit);
  return { rows, total: Number(total) };
}

/**
 * Production clients waiting for this actor's decision (the approvals queue, issue 13): of their participant,
 * pending, not asked for by themselves; empty for anyone who may not approve clients.
 */
export async function clientsAwaitingDecision(ctx: ServiceContext): Promise<(ApiClient & { requestedByName: string | null })[]> {
  const own = ctx.actor.participantId;
  if (!own || !mayOn(ctx.actor, "credential:approve", own)) return [];
  const rows = await ctx.db
    .select({ client: apiClients, requestedByName: users.displayName })
    .from(apiClients)
    .leftJoin(users, eq(users.id, apiClients.requestedBy))
    .where(and(clientScope(ctx), eq(apiClients.participantId, own), eq(apiClients.status, "pending_approval")))
    .orderBy(asc(apiClients.createdAt));
  return rows.filter((r) => r.client.requestedBy !== ctx.actor.userId).map((r) => ({ ...r.client, requestedByName: r.requestedByName }));
}

/** A client in the actor's scope (404 otherwise, also for another participant's client). */
async function clientInScope(db: DbOrTx, ctx: ServiceContext, id: string): Promise<ApiClient> {
  const [client] = await db.select().from(apiClients).where(and(eq(apiClients.id, id), clientScope(ctx)));
  if (!client) throw notFound();
  return client;
}

/** The client a command is about, locked; its participant is the command's tenant. */
async function lockedClient(cx: CommandContext, id: string): Promise<ApiClient> {
  const [client] = await cx.tx.select().from(apiClients).where(eq(apiClients.id, id)).for("update");
  if (!client) throw notFound();
  return client;
}

async function participantOfClient(tx: DbOrTx, id: string): Promise<string> {
  const [client] = await tx.select({ participantId: apiClients.participantId }).from(apiClients).where(eq(apiClients.id, id));
  if (!client) throw notFound();
  return client.participantId;
}

const clientRef = z.string({ error: "validation.required" }).min(1, { error: "validation.required" }).max(100, { error: "validation.invalid" });

export async function getClient(ctx: ServiceContext, id: string) {
  const client = await clientInScope(ctx.db, ctx, id);
  const can = {
    manage: mayOn(ctx.actor, "credential:manage", client.participantId),
    approve: mayOn(ctx.actor, "credential:approve", client.participantId) && client.status === "pending_approval" && client.requestedBy !== ctx.actor.userId,
  };
  const [owner] = await ctx.db.select({ name: users.displayName }).from(users).where(eq(users.id, client.ownerUserId));
  const keys = await ctx.db.select().from(apiKeys).where(eq(apiKeys.apiClientId, client.id)).orderBy(desc(apiKeys.createdAt));
  return { client, ownerName: owner?.name ?? "—", keys, can };
}

const clientSchema = z.object({
  participantId: z.string().max(20),
  environment: z.enum(API_ENVIRONMENTS, { error: "validation.invalid" }),
  name: requiredText(100),
  ownerUserId: z.string({ error: "validation.required" }).min(1, { error: "validation.required" }).max(100),
});

/**
 * A DA maker creates an API client for their participant. Production needs the onboarding case's API certification
 * approved, and then a DA checker's approval before it is active.
 */
export const createClient = defineCommand({
  name: "credentials.createClient",
  permission: "credential:create",
  input: clientSchema,
  events: ["credential.client.created"],
  tenant: (_tx, input) => input.participantId,
  async run(cx): Promise<ApiClient> {
    const { tx, input: data } = cx;
    const pid = data.participantId;
    // The owner comes from the menu (an id) or, for a participant with more users than the menu lists, by email.
    const owner = await pickedUser(tx, data.ownerUserId, and(eq(users.participantId, pid), ne(users.status, "deactivated")));
    if (!owner) throw new AppError(400, "error.badRequest", { ownerUserId: "credentials.error.owner" });
    if (data.environment === "production") {
      const [step] = await tx
        .select({ state: onboardingSteps.state })
        .from(onboardingSteps)
        .where(and(eq(onboardingSteps.participantId, pid), eq(onboardingSteps.stepKey, "api_certification")));
      if (step?.state !== "approved") throw new AppError(400, "credentials.error.notCertified", { environment: "credentials.error.notCertified" });
      // A new program version makes the sign-off stale: production for it waits for a new one.
      if (!(await certificationStatusOf(tx, pid)).current) throw new AppError(400, "credentials.error.notCertified", { environment: "credentials.error.notCertified" });
    }
    const [client] = await tx
      .insert(apiClients)
      .values({
        id: randomUUID(),
        clientId: `${pid.toLowerCase()}-${data.environment.slice(0, 4)}-${randomBytes(4).toString("hex")}`,
        participantId: pid,
        environment: data.environment,
        name: data.name,
        ownerUserId: owner.id,
        status: data.environment === "production" ? "pending_approval" : "active",
        requestedBy: cx.actor.userId,
        createdAt: cx.now,
      })
      .returning();
    cx.audit({
      action: "credential.client.created",
      entityType: "api_client",
      entityId: client!.id,
      participantId: pid,
      changes: diffFields(null, client!, ["clientId", "environment", "name", "ownerUserId", "status"]),
    });
    return client!;
  },
});

/** A DA checker (not the one who asked) approves or rejects a production client. */
export const decideClient = defineCommand({
  name: "credentials.decideClient",
  permission: "credential:approve",
  refusal: "credentials.error.checkerOnly",
  input: z.object({ clientId: clientRef, decision: z.enum(["approve", "reject"], { error: "validation.invalid" }) }),
  events: ["credential.client.approved", "credential.client.rejected"],
  tenant: (tx, input) => participantOfClient(tx, input.clientId),
  async run(cx): Promise<ApiClient> {
    const { input } = cx;
    const client = await lockedClient(cx, input.clientId);
    if (client.status !== "pending_approval") throw new AppError(409, "access.refused.alreadyDecided");
    if (client.requestedBy === cx.actor.userId) throw new AppError(403, "access.refused.ownRequest");
    const [after] = await cx.tx
      .update(apiClients)
      .set({ status: input.decision === "approve" ? "active" : "rejected", approvedBy: cx.actor.userId, approvedAt: cx.now, version: client.version + 1 })
      .where(eq(apiClients.id, client.id))
      .returning();
    cx.audit({
      action: input.decision === "approve" ? "credential.client.approved" : "credential.client.rejected",
      entityType: "api_client",
      entityId: client.id,
      participantId: client.participantId,
      changes: diffFields(client, after!, ["status", "approvedBy"]),
    });
    return after!;
  },
});

/**
 * A fresh challenge to sign with the new private key; single use, valid for 15 minutes. Not audited: a challenge
 * changes nothing by itself; the key registration that uses it is audited.
 */
export const issueChallenge = defineCommand({
  name: "credentials.issueChallenge",
  permission: "credential:manage",
  input: z.object({ clientId: clientRef }),
  events: [],
  tenant: (tx, input) => participantOfClient(tx, input.clientId),
  lockParticipant: false,
  async run(cx): Promise<{ nonce: string; expiresAt: Date }> {
    const nonce = randomBytes(24).toString("base64url");
    const expiresAt = new Date(cx.now.getTime() + CHALLENGE_MINUTES * 60 * 1000);
    await cx.tx.insert(keyChallenges).values({ id: randomUUID(), apiClientId: cx.input.clientId, nonce, createdBy: cx.actor.userId, createdAt: cx.now, expiresAt });
    return { nonce, expiresAt };
  },
});


function addMonths(date: Date, months: number): Date {
  const d = new Date(date);
  d.setUTCMonth(d.getUTCMonth() + months);
  return d;
}

const hkDate = endOfDaySchema();

const registerSchema = z.object({
  clientId: clientRef,
  publicKey: z.string({ error: "validation.required" }).min(1, { error: "validation.required" }).max(10_000, { error: "validation.tooLong" }),
  proof: z.string({ error: "validation.required" }).min(1, { error: "validation.required" }).max(10_000, { error: "validation.tooLong" }),
  nonce: z.string({ error: "validation.required" }).min(10).max(100),
  expiresOn: hkDate,
  rsaAlgorithm: z.enum(["RS256", "PS256"]).default("RS256"),
  replacesKeyId: optionalText(100),
  overlapUntil: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/, { error: "access.error.date" })
    .optional()
    .refine((v) => !v || isCalendarDay(v), { error: "access.error.date" })
    .transform((v) => (v ? endOfHongKongDay(v) : null)),
});
export interface RegisterKeyInput {
  publicKey: string;
  proof: string;
  nonce: string;
  expiresOn: string;
  rsaAlgorithm?: string;
  replacesKeyId?: string | null;
  overlapUntil?: string;
}

/**
 * Registers a public key with proof of possession. The key must be RSA ≥ 2048 or EC P-256, unknown to this client,
 * valid for at most 13 months; the proof must be signed with it over an unused challenge of this client. With
 * replacesKeyId it is a rotation: the old key stays valid until overlapUntil (at most 30 days from now).
 */
export const registerKey = defineCommand({
  name: "credentials.registerKey",
  permission: "credential:manage",
  input: registerSchema,
  events: ["credential.key.registered", "credential.key.rotated", ...FREEZE_GUARD_EVENTS],
  tenant: (tx, input) => participantOfClient(tx, input.clientId),
  async run(cx): Promise<ApiKey> {
    const { tx, input: data, now } = cx;
    const parsed = await parsePublicKey(data.publicKey, data.rsaAlgorithm);
    if (!parsed.ok) throw new AppError(400, "error.badRequest", { publicKey: parsed.messageKey }, parsed.params ?? {});
    if (data.expiresOn <= now) throw new AppError(400, "error.badRequest", { expiresOn: "credentials.error.expiryPast" });
    // "At most 13 months": any time on the last allowed day (Hong Kong) is fine.
    if (data.expiresOn > endOfHongKongDayOf(addMonths(now, MAX_KEY_LIFETIME_MONTHS))) {
      throw new AppError(400, "error.badRequest", { expiresOn: "credentials.error.expiryTooLate" }, { months: MAX_KEY_LIFETIME_MONTHS });
    }
    const client = await lockedClient(cx, data.clientId);
    if (client.status !== "active") throw new AppError(400, "credentials.error.clientNotActive");
    await guardFrozenClient(cx, client);
    const [challenge] = await tx
      .select()
      .from(keyChallenges)
      .where(and(eq(keyChallenges.nonce, data.nonce), eq(keyChallenges.apiClientId, client.id)))
      .for("update");
    if (!challenge || challenge.usedAt || challenge.expiresAt <= now) {
      throw new AppError(400, "error.badRequest", { proof: "credentials.pop.challenge" });
    }
    const pop = await verifyProofOfPossession(data.proof, parsed.key, client.clientId, data.nonce, now);
    if (!pop.ok) throw new AppError(400, "error.badRequest", { proof: pop.messageKey });
    await tx.update(keyChallenges).set({ usedAt: now }).where(eq(keyChallenges.id, challenge.id));
    const [existing] = await tx.select({ id: apiKeys.id }).from(apiKeys).where(and(eq(apiKeys.apiClientId, client.id), eq(apiKeys.kid, parsed.key.kid)));
    if (existing) throw new AppError(400, "error.badRequest", { publicKey: "credentials.error.duplicate" });
    let replaced: ApiKey | undefined;
    if (data.replacesKeyId) {
      [replaced] = await tx.select().from(apiKeys).where(and(eq(apiKeys.id, data.replacesKeyId), eq(apiKeys.apiClientId, client.id))).for("update");
      if (!replaced || replaced.status !== "active" || replaced.expiresAt <= now) {
        throw new AppError(400, "error.badRequest", { replacesKeyId: "credentials.error.rotateWhat" });
      }
      const latest = endOfHongKongDayOf(new Date(now.getTime() + MAX_ROTATION_OVERLAP_DAYS * DAY));
      if (!data.overlapUntil || data.overlapUntil <= now || data.overlapUntil > latest) {
        throw new AppError(400, "error.badRequest", { overlapUntil: "credentials.error.overlap" }, { days: MAX_ROTATION_OVERLAP_DAYS });
      }
    }
    const [key] = await tx
      .insert(apiKeys)
      .values({
        id: randomUUID(),
        apiClientId: client.id,
        kid: parsed.key.kid,
        publicJwk: parsed.key.jwk,
        alg: parsed.key.alg,
        validFrom: now,
        expiresAt: data.expiresOn,
        replacesKeyId: replaced?.id ?? null,
        createdBy: cx.actor.userId,
        createdAt: now,
      })
      .returning();
    cx.audit({
      action: "credential.key.registered",
      entityType: "api_client",
      entityId: client.id,
      participantId: client.participantId,
      changes: { key: { before: null, after: { kid: key!.kid, alg: key!.alg, expiresAt: key!.expiresAt.toISOString(), type: parsed.key.description } } },
      metadata: { clientId: client.clientId, proofOfPossession: true },
    });
    if (replaced && data.overlapUntil) {
      const until = data.overlapUntil < replaced.expiresAt ? data.overlapUntil : replaced.expiresAt;
      await tx.update(apiKeys).set({ expiresAt: until }).where(eq(apiKeys.id, replaced.id));
      cx.audit({
        action: "credential.key.rotated",
        entityType: "api_client",
        entityId: client.id,
        participantId: client.participantId,
        changes: { [`key ${replaced.kid}`]: { before: replaced.expiresAt.toISOString(), after: until.toISOString() } },
        metadata: { clientId: client.clientId, oldKid: replaced.kid, newKid: key!.kid },
      });
    }
    return key!;
  },
});

/** Ends a key at once, with a reason: it leaves the JWKS and fails every check from now on. */
export const revokeKey = defineCommand({
  name: "credentials.revokeKey",
  permission: "credential:manage",
  input: z.object({ keyId: clientRef, reason: requiredText(1000).refine((v) => v.length >= 5, { error: "validation.reasonTooShort" }) }),
  events: ["credential.key.revoked", ...FREEZE_GUARD_EVENTS],
  async tenant(tx, input) {
    const [key] = await tx.select({ apiClientId: apiKeys.apiClientId }).from(apiKeys).where(eq(apiKeys.id, input.keyId));
    if (!key) throw notFound();
    return participantOfClient(tx, key.apiClientId);
  },
  async run(cx): Promise<ApiKey> {
    const { tx, input: { keyId, reason }, now } = cx;
    const [key] = await tx.select().from(apiKeys).where(eq(apiKeys.id, keyId)).for("update");
    if (!key) throw notFound();
    const client = await lockedClient(cx, key.apiClientId);
    if (key.status !== "active") throw new AppError(409, "access.refused.alreadyRevoked");
    await guardFrozenClient(cx, client);
    const [after] = await tx.update(apiKeys).set({ status: "revoked", revokedAt: now, revokeReason: reason }).where(eq(apiKeys.id, keyId)).returning();
    cx.audit({
      action: "credential.key.revoked",
      entityType: "api_client",
      entityId: client.id,
      participantId: client.participantId,
      reason,
      changes: { [`key ${key.kid}`]: { before: "active", after: "revoked" } },
      metadata: { clientId: client.clientId, kid: key.kid },
    });
    return after!;
  },
});

/** A key as a confirmation names it: its kid, shortened as people read it, and its client. */
export async function describeKey(ctx: ServiceContext, keyId: string) {
  const [row] = await ctx.db
    .select({ kid: apiKeys.kid, clientId: apiClients.clientId, clientName: apiClients.name, participantId: apiClients.participantId })
    .from(apiKeys)
    .innerJoin(apiClients, eq(apiClients.id, apiKeys.apiClientId))
    .where(eq(apiKeys.id, keyId));
  if (!row) throw notFound();
  assertTenant(ctx.actor, "credential:manage", row.participantId);
  return { kid: `${row.kid.slice(0, 4)}…${row.kid.slice(-4)}`, clientId: row.clientId, clientName: row.clientName };
}

/** Checks a pasted JWT against this client's registered keys and its environment's claim rules. */
export async function checkToken(ctx: ServiceContext, id: string, token: string): Promise<JwtCheckResult> {
  const client = await clientInScope(ctx.db, ctx, id);
  if (token.length > 20_000) throw new AppError(400, "error.badRequest", { token: "validation.tooLong" });
  const keys = await ctx.db.select().from(apiKeys).where(eq(apiKeys.apiClientId, client.id));
  const result = await checkJwt(token, client.clientId, client.environment, keys.map((k) => ({ ...k, jwk: k.publicJwk })), new Date());
  // A suspended participant's keys are out of the JWKS: the gateway would refuse the token whatever it says.
  const [participant] = await ctx.db.select({ suspendedAt: participants.suspendedAt }).from(participants).where(eq(participants.id, client.participantId));
  if (!participant?.suspendedAt) return result;
  return { ...result, ok: false, findings: [{ check: "participant", ok: false, messageKey: "jwt.participantSuspended" }, ...result.findings] };
}

/** The JWKS of an environment: every key valid now of every active client, for the gateway. */
export async function jwks(db: Database, environment: ApiEnvironment) {
  const now = new Date();
  const rows = await db
    .select({ key: apiKeys, clientId: apiClients.clientId })
    .from(apiKeys)
    .innerJoin(apiClients, eq(apiClients.id, apiKeys.apiClientId))
    .innerJoin(participants, eq(participants.id, apiClients.participantId))
    .where(
      and(
        // A suspended participant's keys stop working at once, and come back as they were when it is reinstated.
        isNull(participants.suspendedAt),
        eq(apiClients.environment, environment),
        eq(apiClients.status, "active"),
        eq(apiKeys.status, "active"),
        lte(apiKeys.validFrom, now),
        gt(apiKeys.expiresAt, now),
        isNull(apiKeys.revokedAt),
      ),
    )
    .orderBy(asc(apiKeys.createdAt));
  return { keys: rows.map((r) => ({ ...r.key.publicJwk, kid: r.key.kid, alg: r.key.alg, use: "sig" })) };
}

/** The keys due a notice now, with the thresholds (30, 7, 1 days before expiry) they have reached. */
async function keysDueNotice(db: DbOrTx, now: Date) {
  const horizon = new Date(now.getTime() + Math.max(...EXPIRY_NOTICE_DAYS) * DAY);
  return db
    .select({ key: apiKeys, client: apiClients })
    .from(apiKeys)
    .innerJoin(apiClients, eq(apiClients.id, apiKeys.apiClientId))
    .where(and(eq(apiKeys.status, "active"), eq(apiClients.status, "active"), gt(apiKeys.expiresAt, now), lte(apiKeys.expiresAt, horizon)));
}

/**
 * One key's expiry notice, to the participant's active administrators, through the outbox. The (key, days)
 * primary key makes a second notice for the same threshold impossible, even from two processes at once.
 */
export const sendExpiryNotice = defineCommand({
  name: "credentials.sendExpiryNotice",
  permission: "credential:notify",
  input: z.object({ keyId: z.string(), at: z.date() }),
  events: ["credential.key.expiry_notice"],
  async tenant(tx, input) {
    const [key] = await tx.select({ apiClientId: apiKeys.apiClientId }).from(apiKeys).where(eq(apiKeys.id, input.keyId));
    if (!key) throw notFound();
    return participantOfClient(tx, key.apiClientId);
  },
  lockParticipant: false,
  async run(cx): Promise<boolean> {
    const { tx, input } = cx;
    const now = input.at;
    const [due] = await keysDueNotice(tx, now).then((rows) => rows.filter((r) => r.key.id === input.keyId));
    if (!due) return false;
    const { key, client } = due;
    const daysLeft = (key.expiresAt.getTime() - now.getTime()) / DAY;
    const thresholds = EXPIRY_NOTICE_DAYS.filter((d) => daysLeft <= d);
    if (thresholds.length === 0) return false;
    const inserted = await tx
      .insert(keyExpiryNotices)
      .values(thresholds.map((daysBefore) => ({ keyId: key.id, daysBefore, sentAt: now })))
      .onConflictDoNothing()
      .returning();
    if (inserted.length === 0) return false;
    const admins = await tx
      .selectDistinct({ email: users.email, locale: users.locale })
      .from(roleGrants)
      .innerJoin(users, eq(users.id, roleGrants.userId))
      .where(and(eq(roleGrants.participantId, client.participantId), inArray(roleGrants.roleCode, ["da_maker", "da_checker"]), eq(users.status, "active"), grantCountsNow(now)));
    const days = Math.ceil(daysLeft);
    await queueMail(
      tx,
      admins.map((admin) => {
        // Each administrator reads it in their own language.
        const mail = composeMail(admin.locale, "mail.keyExpiry.subject", "mail.keyExpiry.body", {
          days,
          client: client.clientId,
          kid: key.kid,
          environment: client.environment,
          expires: formatHongKongTime(key.expiresAt, admin.locale),
        });
        return {
          toAddress: admin.email,
          subject: mail.subject,
          body: mail.body,
          kind: "key_expiry_notice",
          participantId: client.participantId,
          createdAt: now,
          metadata: { kid: key.kid, clientId: client.clientId, days, locale: mail.locale },
        };
      }),
    );
    cx.audit({
      action: "credential.key.expiry_notice",
      entityType: "api_client",
      entityId: client.id,
      participantId: client.participantId,
      metadata: { kid: key.kid, days, recipients: admins.length, thresholds: inserted.map((i) => i.daysBefore) },
    });
    return true;
  },
});

/** Expiry notices for every key that has reached a threshold (the jobs runner): answers how many were sent. */
export async function sendExpiryNotices(ctx: ServiceContext, now = new Date()): Promise<number> {
  let sent = 0;
  for (const { key } of await keysDueNotice(ctx.db, now)) {
    if (await sendExpiryNotice(ctx, { keyId: key.id, at: now })) sent++;
  }
  return sent;
}

export const REVOKE_CLIENT_EVENTS = ["credential.client.revoked"] as const;

/**
 * Ends an API client at once, with a reason (an access review's decision): the client and every key of it are
 * revoked, so it leaves the JWKS. Inside the caller's command.
 */
export async function revokeClientIn(cx: CommandContext, apiClientId: string, reason: string): Promise<"revoked" | "already_ended"> {
  const { tx, now } = cx;
  const client = await lockedClient(cx, apiClientId);
  if (client.status === "revoked" || client.status === "rejected") return "already_ended";
  await tx.update(apiClients).set({ status: "revoked", revokedAt: now, revokeReason: reason, version: client.version + 1 }).where(eq(apiClients.id, client.id));
  const keys = await tx
    .update(apiKeys)
    .set({ status: "revoked", revokedAt: now, revokeReason: reason })
    .where(and(eq(apiKeys.apiClientId, client.id), eq(apiKeys.status, "active")))
    .returning({ kid: apiKeys.kid });
  cx.audit({
    action: "credential.client.revoked",
    entityType: "api_client",
    entityId: client.id,
    participantId: client.participantId,
    reason,
    changes: { status: { before: client.status, after: "revoked" } },
    metadata: { clientId: client.clientId, keysRevoked: keys.map((k) => k.kid) },
  });
  return "revoked";
}
