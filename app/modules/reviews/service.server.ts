import { randomUUID } from "node:crypto";
import { and, asc, count, desc, eq, inArray, isNull, lte, ne } from "drizzle-orm";
import { z } from "zod";
import type { DbOrTx } from "../../../db/client.server";
import { apiClients, reviewCampaigns, reviewItems, roleGrants, roles, users, type ReviewCampaign, type ReviewItem } from "../../../db/schema";
import { AppError, notFound } from "~/lib/errors";
import { endOfDaySchema } from "~/lib/hong-kong-time";
import { defineCommand, platformWide, type CommandContext } from "../command.server";
import { SYSTEM_ACTOR, type ServiceContext } from "../context.server";
import { REVOKE_CLIENT_EVENTS, revokeClientIn } from "../credentials/service.server";
import { optionalText, requiredText } from "../participants/schemas";
import { isMessageKey, translator, type Locale } from "~/i18n/messages";
import { grantCountsNow } from "../roles/facts.server";
import { revokeGrants } from "../roles/grants.server";
import { FREEZE_GUARD_EVENTS } from "../rollouts/freeze.server";
import { mayOn, whereTenant } from "../tenancy.server";

const campaignSchema = z.object({
  name: requiredText(200),
  participantIds: z.array(z.string().regex(/^[A-Z][0-9]{5}$/, { error: "participant.error.idFormat" })).max(500).default([]),
  roleCodes: z.array(z.string().regex(/^[a-z_]{1,60}$/, { error: "access.error.role" })).max(100).default([]),
  deadline: endOfDaySchema(),
  deadlinePolicy: z.enum(["revoke", "flag"], { error: "validation.invalid" }),
  includeApiClients: z.boolean().default(false),
});
export interface CampaignInput {
  name: string;
  participantIds?: string[];
  roleCodes?: string[];
  /** The last day of the review (Hong Kong), YYYY-MM-DD; the campaign closes at its end. */
  deadline: string;
  deadlinePolicy: string;
  /** Also review every active API client of the participants in scope, with its owner. */
  includeApiClients?: boolean;
}

/**
 * Compliance opens a campaign: every participant grant active now, in the chosen participants and roles (all when
 * none are chosen), becomes an item for the participant's administrators to keep or revoke.
 */
export const openCampaign = defineCommand({
  name: "reviews.openCampaign",
  permission: "review:manage",
  input: campaignSchema,
  events: ["review.campaign.opened"],
  tenant: platformWide,
  async run(cx): Promise<ReviewCampaign> {
    const { tx, input: data, now } = cx;
    if (data.deadline.getTime() <= now.getTime()) throw new AppError(400, "error.badRequest", { deadline: "review.error.deadlinePast" });
    const [campaign] = await tx
      .insert(reviewCampaigns)
      .values({
        id: randomUUID(),
        name: data.name,
        participantIds: data.participantIds.length ? data.participantIds : null,
        roleCodes: data.roleCodes.length ? data.roleCodes : null,
        deadline: data.deadline,
        deadlinePolicy: data.deadlinePolicy,
        includeApiClients: data.includeApiClients,
        createdBy: cx.actor.userId,
        createdAt: now,
      })
      .returning();
    const grants = await tx
      .select({ id: roleGrants.id, participantId: roleGrants.participantId, userId: roleGrants.userId, roleCode: roleGrants.roleCode })
      .from(roleGrants)
      .innerJoin(users, eq(users.id, roleGrants.userId))
      .where(
        and(
          grantCountsNow(now),
          ne(users.status, "deactivated"),
          data.participantIds.length ? inArray(roleGrants.participantId, data.participantIds) : undefined,
          data.roleCodes.length ? inArray(roleGrants.roleCode, data.roleCodes) : undefined,
        ),
      );
    const items = grants
      .filter((g) => g.participantId !== null)
      .map((g) => ({ id: randomUUID(), campaignId: campaign!.id, participantId: g.participantId!, kind: "grant" as "grant" | "api_client", grantId: g.id as string | null, apiClientId: null as string | null, userId: g.userId, roleCode: g.roleCode as string | null }));
    if (data.includeApiClients) {
      const clients = await tx
        .select({ id: apiClients.id, participantId: apiClients.participantId, ownerUserId: apiClients.ownerUserId })
        .from(apiClients)
        .where(and(eq(apiClients.status, "active"), data.participantIds.length ? inArray(apiClients.participantId, data.participantIds) : undefined));
      items.push(...clients.map((c) => ({ id: randomUUID(), campaignId: campaign!.id, participantId: c.participantId, kind: "api_client" as const, grantId: null, apiClientId: c.id, userId: c.ownerUserId, roleCode: null })));
    }
    for (let i = 0; i < items.length; i += 1000) await tx.insert(reviewItems).values(items.slice(i, i + 1000));
    cx.audit({
      action: "review.campaign.opened",
      entityType: "review_campaign",
      entityId: campaign!.id,
      metadata: { name: data.name, items: items.length, participantIds: data.participantIds, roleCodes: data.roleCodes, includeApiClients: data.includeApiClients, deadline: data.deadline.toISOString(), deadlinePolicy: data.deadlinePolicy },
    });
    return campaign!;
  },
});

export interface CampaignSummary extends ReviewCampaign {
  total: number;
  decided: number;
  kept: number;
  revoked: number;
  flagged: number;
  /** Undecided at the deadline, but the grant had already ended: nothing to revoke or flag. */
  ended: number;
}

function itemScope(ctx: ServiceContext) {
  return whereTenant(ctx.actor, "review:read", reviewItems.participantId);
}

async function summaries(ctx: ServiceContext, campaigns: ReviewCampaign[]): Promise<CampaignSummary[]> {
  if (campaigns.length === 0) return [];
  const rows = await ctx.db
    .select({ campaignId: reviewItems.campaignId, decision: reviewItems.decision, outcome: reviewItems.outcome, n: count() })
    .from(reviewItems)
    .where(and(inArray(reviewItems.campaignId, campaigns.map((c) => c.id)), itemScope(ctx)))
    .groupBy(reviewItems.campaignId, reviewItems.decision, reviewItems.outcome);
  return campaigns.map((c) => {
    const mine = rows.filter((r) => r.campaignId === c.id);
    const sum = (f: (r: (typeof mine)[number]) => boolean) => mine.filter(f).reduce((n, r) => n + Number(r.n), 0);
    return {
      ...c,
      total: sum(() => true),
      decided: sum((r) => r.decision !== null),
      kept: sum((r) => r.outcome === "kept" || (r.outcome === null && r.decision === "keep")),
      revoked: sum((r) => r.outcome === "revoked" || r.outcome === "auto_revoked" || (r.outcome === null && r.decision === "revoke")),
      flagged: sum((r) => r.outcome === "flagged"),
      ended: sum((r) => r.outcome === "already_ended"),
    };
  });
}

export async function listCampaigns(ctx: ServiceContext): Promise<CampaignSummary[]> {
  itemScope(ctx);
  // Every campaign (a few a quarter): the page shows them a page at a time with the total, none silently left out.
  const campaigns = await ctx.db.select().from(reviewCampaigns).orderBy(desc(reviewCampaigns.createdAt), desc(reviewCampaigns.id));
  const all = await summaries(ctx, campaigns);
  // A participant administrator sees the campaigns that have items of their participant.
  return mayOn(ctx.actor, "review:read", null) ? all : all.filter((c) => c.total > 0);
}

export interface ItemView extends ReviewItem {
  userName: string;
  userEmail: string;
  roleName: string;
  roleNameZh: string;
  decidedByName: string | null;
}

/** An API client under review, named in a language: its name, environment and client id. */
function clientItem(locale: Locale, client: { name: string; environment: string; clientId: string }): string {
  const t = translator(locale);
  const env = `credentials.env.${client.environment}`;
  return t("reviews.clientItem", { name: client.name, environment: isMessageKey(env) ? t(env) : client.environment, clientId: client.clientId });
}

export async function getCampaign(ctx: ServiceContext, campaignId: string): Promise<{ campaign: CampaignSummary; items: ItemView[] }> {
  const [campaign] = await ctx.db.select().from(reviewCampaigns).where(eq(reviewCampaigns.id, campaignId));
  if (!campaign) throw notFound();
  const [summary] = await summaries(ctx, [campaign]);
  if (!mayOn(ctx.actor, "review:read", null) && summary!.total === 0) throw notFound();
  const rows = await ctx.db
    .select({ item: reviewItems, userName: users.displayName, userEmail: users.email, roleName: roles.nameEn, roleNameZh: roles.nameZh, client: apiClients })
    .from(reviewItems)
    .innerJoin(users, eq(users.id, reviewItems.userId))
    .leftJoin(roles, eq(roles.code, reviewItems.roleCode))
    .leftJoin(apiClients, eq(apiClients.id, reviewItems.apiClientId))
    .where(and(eq(reviewItems.campaignId, campaignId), itemScope(ctx)))
    .orderBy(asc(reviewItems.participantId), asc(users.displayName), asc(reviewItems.roleCode));
  const deciders = [...new Set(rows.map((r) => r.item.decidedBy).filter((v): v is string => Boolean(v)))];
  const names = deciders.length ? await ctx.db.select({ id: users.id, name: users.displayName }).from(users).where(inArray(users.id, deciders)) : [];
  return {
    campaign: summary!,
    items: rows.map((r) => ({
      ...r.item,
      userName: r.userName,
      userEmail: r.userEmail,
      // An API client item names the client; its user is the client's owner.
      roleName: r.client ? clientItem("en", r.client) : (r.roleName ?? r.item.roleCode ?? ""),
      roleNameZh: r.client ? clientItem("zh-HK", r.client) : (r.roleNameZh ?? r.item.roleCode ?? ""),
      decidedByName: names.find((n) => n.id === r.item.decidedBy)?.name ?? null,
    })),
  };
}

const decisionSchema = z
  .object({
    decision: z.enum(["keep", "revoke"], { error: "validation.invalid" }),
    comment: optionalText(2000),
  })
  .refine((v) => v.decision === "keep" || (v.comment ?? "").length >= 5, { error: "review.error.commentRequired", path: ["comment"] });

async function participantOfItem(tx: DbOrTx, itemId: string): Promise<string> {
  const [item] = await tx.select({ participantId: reviewItems.participantId }).from(reviewItems).where(eq(reviewItems.id, itemId));
  if (!item) throw notFound();
  return item.participantId;
}

/** What revoking an item's subject (a grant, or an API client) records. */
const REVOKE_SUBJECT_EVENTS = ["role.grant.revoked", ...REVOKE_CLIENT_EVENTS, ...FREEZE_GUARD_EVENTS] as const;

async function revokeSubject(cx: CommandContext, item: ReviewItem, reason: string): Promise<void> {
  if (item.kind === "api_client" && item.apiClientId) await revokeClientIn(cx, item.apiClientId, reason);
  else if (item.grantId) {
    const [grant] = await cx.tx.select({ status: roleGrants.status }).from(roleGrants).where(eq(roleGrants.id, item.grantId));
    if (grant?.status === "active") await revokeGrants(cx, [item.grantId], { reason });
  }
}

/**
 * A participant administrator decides an item of their participant: keep, or revoke with a comment. A revocation
 * goes through the normal revoke path (last-administrator rule and all) in the same transaction. Nobody reviews
 * their own access.
 */
export const decideItem = defineCommand({
  name: "reviews.decideItem",
  permission: "review:decide",
  refusal: "review.error.reviewersOnly",
  input: decisionSchema.and(z.object({ itemId: z.string().min(1).max(100) })),
  events: ["review.item.kept", "review.item.revoked", ...REVOKE_SUBJECT_EVENTS],
  tenant: (tx, input) => participantOfItem(tx, input.itemId),
  async run(cx): Promise<ReviewItem> {
    const { tx, input: data, now } = cx;
    const [item] = await tx.select().from(reviewItems).where(eq(reviewItems.id, data.itemId)).for("update");
    if (!item) throw notFound();
    if (item.userId === cx.actor.userId) throw new AppError(403, "review.error.ownAccess");
    const [campaign] = await tx.select().from(reviewCampaigns).where(eq(reviewCampaigns.id, item.campaignId));
    if (!campaign || campaign.status !== "open") throw new AppError(409, "review.error.closed");
    if (item.decision) throw new AppError(409, "review.error.alreadyDecided");
    if (data.decision === "revoke") await revokeSubject(cx, item, `Access review "${campaign.name}": ${data.comment}`);
    const [after] = await tx
      .update(reviewItems)
      .set({ decision: data.decision, comment: data.comment, decidedBy: cx.actor.userId, decidedAt: now, version: item.version + 1 })
      .where(eq(reviewItems.id, item.id))
      .returning();
    cx.audit({
      action: data.decision === "keep" ? "review.item.kept" : "review.item.revoked",
      entityType: "review_item",
      entityId: item.id,
      participantId: item.participantId,
      reason: data.comment,
      changes: { decision: { before: null, after: data.decision } },
      metadata: { campaignId: campaign.id, grantId: item.grantId, apiClientId: item.apiClientId, userId: item.userId, roleCode: item.roleCode },
    });
    return after!;
  },
});

/**
 * Closes a campaign whose deadline has passed (compliance, or the jobs runner): decided items keep their outcome;
 * undecided ones are revoked or flagged as the campaign says. A revocation the last-administrator rule refuses is
 * flagged instead. Under a row lock, so a campaign closes once however many runners try.
 */
export const closeCampaign = defineCommand({
  name: "reviews.closeCampaign",
  permission: "review:manage",
  input: z.object({ campaignId: z.string().min(1).max(100) }),
  events: ["review.campaign.closed", "review.item.auto_revoked", "review.item.flagged", "review.item.already_ended", "review.item.kept", "review.item.revoked", ...REVOKE_SUBJECT_EVENTS],
  tenant: platformWide,
  async run(cx): Promise<ReviewCampaign> {
    const { tx, input: { campaignId }, now } = cx;
    const [campaign] = await tx.select().from(reviewCampaigns).where(eq(reviewCampaigns.id, campaignId)).for("update");
    if (!campaign) throw notFound();
    if (campaign.status !== "open") throw new AppError(409, "review.error.closed");
    if (campaign.deadline.getTime() > now.getTime()) throw new AppError(400, "review.error.beforeDeadline");
    const items = await tx.select().from(reviewItems).where(eq(reviewItems.campaignId, campaignId));
    // What the deadline policy does is done by the console itself, whoever closes the campaign.
    const asSystem: CommandContext = { ...cx, actor: SYSTEM_ACTOR, audit: (event) => cx.audit({ ...event, actor: SYSTEM_ACTOR }) };
    for (const item of items) {
      let outcome: NonNullable<ReviewItem["outcome"]>;
      if (item.decision === "keep") outcome = "kept";
      else if (item.decision === "revoke") outcome = "revoked";
      else if (campaign.deadlinePolicy === "flag") outcome = (await subjectActive(tx, item)) ? "flagged" : "already_ended";
      else outcome = await autoRevoke(asSystem, item, campaign);
      await tx.update(reviewItems).set({ outcome, version: item.version + 1 }).where(eq(reviewItems.id, item.id));
      if (!item.decision) {
        cx.audit({ action: `review.item.${outcome}` as "review.item.flagged", entityType: "review_item", entityId: item.id, participantId: item.participantId, metadata: { campaignId, grantId: item.grantId, apiClientId: item.apiClientId, userId: item.userId, roleCode: item.roleCode } });
      }
    }
    const [after] = await tx.update(reviewCampaigns).set({ status: "closed", closedAt: now, version: campaign.version + 1 }).where(eq(reviewCampaigns.id, campaignId)).returning();
    cx.audit({ action: "review.campaign.closed", entityType: "review_campaign", entityId: campaignId, metadata: { items: items.length, undecided: items.filter((i) => !i.decision).length, policy: campaign.deadlinePolicy } });
    return after!;
  },
});

/** Whether what an item reviews (a grant, or an API client) is still in force. */
async function subjectActive(tx: DbOrTx, item: ReviewItem): Promise<boolean> {
  if (item.kind === "api_client" && item.apiClientId) {
    const [client] = await tx.select({ status: apiClients.status }).from(apiClients).where(eq(apiClients.id, item.apiClientId));
    return client?.status === "active";
  }
  if (!item.grantId) return false;
  const [grant] = await tx.select({ status: roleGrants.status }).from(roleGrants).where(eq(roleGrants.id, item.grantId));
  return grant?.status === "active";
}

async function autoRevoke(cx: CommandContext, item: ReviewItem, campaign: ReviewCampaign): Promise<"auto_revoked" | "flagged" | "already_ended"> {
  if (!(await subjectActive(cx.tx, item))) return "already_ended";
  const reason = `Access review "${campaign.name}" closed with no decision: revoked by its deadline policy`;
  try {
    await cx.savepoint((inner) => revokeSubject(inner, item, reason));
    return "auto_revoked";
  } catch (error) {
    if (error instanceof AppError) return "flagged";
    throw error;
  }
}

/** Campaigns past their deadline and still open (for the jobs runner). */
export async function dueCampaigns(db: ServiceContext["db"]): Promise<string[]> {
  const rows = await db
    .select({ id: reviewCampaigns.id })
    .from(reviewCampaigns)
    .where(and(eq(reviewCampaigns.status, "open"), lte(reviewCampaigns.deadline, new Date()), isNull(reviewCampaigns.closedAt)));
  return rows.map((r) => r.id);
}

/** The latest "keep" decision confirming each grant: shown with the user's effective access. */
export async function lastConfirmations(db: ServiceContext["db"], grantIds: string[]): Promise<Record<string, { campaignName: string; decidedAt: Date; decidedBy: string | null }>> {
  if (grantIds.length === 0) return {};
  const rows = await db
    .select({ grantId: reviewItems.grantId, decidedAt: reviewItems.decidedAt, decidedBy: users.displayName, campaignName: reviewCampaigns.name })
    .from(reviewItems)
    .innerJoin(reviewCampaigns, eq(reviewCampaigns.id, reviewItems.campaignId))
    .leftJoin(users, eq(users.id, reviewItems.decidedBy))
    .where(and(inArray(reviewItems.grantId, grantIds), eq(reviewItems.decision, "keep")))
    .orderBy(asc(reviewItems.decidedAt));
  const result: Record<string, { campaignName: string; decidedAt: Date; decidedBy: string | null }> = {};
  for (const r of rows) if (r.decidedAt && r.grantId) result[r.grantId] = { campaignName: r.campaignName, decidedAt: r.decidedAt, decidedBy: r.decidedBy };
  return result;
}
