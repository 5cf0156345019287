import { and, asc, count, eq, gt, lte } from "drizzle-orm";
import { apiClients, apiKeys, users } from "../../../db/schema";
import { hongKongDayPlus, hongKongDay } from "~/lib/hong-kong-time";
import type { ServiceContext } from "../context.server";
import { mayOn, whereTenant } from "../tenancy.server";
import { activityOverTime, type ActivityChart } from "../audit/activity.server";
import { latestCheckpoint, verifyCheckpoint } from "../audit/checkpoint.server";
import { pipelineSummary } from "../onboarding/service.server";
import { listCampaigns } from "../reviews/service.server";
import { searchTickets } from "../users/support.server";

/**
 * What each persona's home page summarises (issue 14), read with the same services and scopes as the pages they
 * link to: a dashboard never shows more than its reader may open.
 */

export interface FunnelStep {
  stepKey: string;
  titleKey: string;
  participants: number;
  overdue: number;
}

/** Officers: participants working on each step now, overdue among them, and those live. */
export async function onboardingFunnel(ctx: ServiceContext): Promise<{ steps: FunnelStep[]; live: number }> {
  // The pipeline's own aggregate (one query), not its board: the home page never reads every step of every case.
  const summary = await pipelineSummary(ctx);
  return {
    steps: summary.steps.map((s) => ({ stepKey: s.stepKey, titleKey: s.titleKey, participants: s.open, overdue: s.overdue })),
    live: summary.live,
  };
}

/** Audit events per Hong Kong day over the last `days` days, in the reader's scope. */
export async function recentActivity(ctx: ServiceContext, days = 14, now = new Date()): Promise<ActivityChart> {
  return activityOverTime(ctx, { from: hongKongDayPlus(now, -(days - 1)), to: hongKongDay(now) }, now);
}

export interface OpenReview {
  id: string;
  name: string;
  decided: number;
  total: number;
  deadline: Date;
}

export async function openReviews(ctx: ServiceContext): Promise<OpenReview[]> {
  const campaigns = await listCampaigns(ctx);
  return campaigns.filter((c) => c.status === "open").map((c) => ({ id: c.id, name: c.name, decided: c.decided, total: c.total, deadline: c.deadline }));
}

export type IntegrityStatus = { state: "none" } | { state: "ok" | "broken"; checkpointAt: Date };

/**
 * The latest signed checkpoint, checked against the chains (cheap: it reads the checkpointed heads, not every
 * event); the integrity page shows the latest recorded walk of every chain (app/modules/audit/walks.server.ts).
 */
export async function integrityStatus(ctx: ServiceContext, key: string | null): Promise<IntegrityStatus | null> {
  if (!mayOn(ctx.actor, "audit:manage", null)) return null;
  const latest = await latestCheckpoint(ctx.db);
  if (!latest) return { state: "none" };
  const report = await verifyCheckpoint(ctx.db, latest.signature, key);
  return { state: report.signatureValid && report.problems.length === 0 ? "ok" : "broken", checkpointAt: latest.createdAt };
}

/** A participant's (or, for HKEX staff, every) user counted by status. */
export async function usersByStatus(ctx: ServiceContext): Promise<{ status: string; users: number }[]> {
  const rows = await ctx.db
    .select({ status: users.status, n: count() })
    .from(users)
    .where(whereTenant(ctx.actor, "user:read", users.participantId))
    .groupBy(users.status);
  const order = ["active", "invited", "locked", "suspended", "deactivated"];
  return order.map((status) => ({ status, users: Number(rows.find((r) => r.status === status)?.n ?? 0) }));
}

export interface ExpiringKey {
  clientId: string;
  clientName: string;
  environment: string;
  kid: string;
  expiresAt: Date;
}

/** Active API keys of active clients that expire within `days` days, soonest first. */
export async function keysExpiring(ctx: ServiceContext, days = 30, now = new Date()): Promise<ExpiringKey[] | null> {
  if (!mayOn(ctx.actor, "credential:read", ctx.actor.participantId)) return null;
  const until = new Date(now.getTime() + days * 24 * 3600 * 1000);
  return ctx.db
    .select({ clientId: apiClients.id, clientName: apiClients.name, environment: apiClients.environment, kid: apiKeys.kid, expiresAt: apiKeys.expiresAt })
    .from(apiKeys)
    .innerJoin(apiClients, eq(apiClients.id, apiKeys.apiClientId))
    .where(and(whereTenant(ctx.actor, "credential:read", apiClients.participantId), eq(apiKeys.status, "active"), eq(apiClients.status, "active"), gt(apiKeys.expiresAt, now), lte(apiKeys.expiresAt, until)))
    .orderBy(asc(apiKeys.expiresAt))
    .limit(20);
}

/** The helpdesk's latest tickets: support actions, newest first, with the user each was for. */
export async function recentTickets(ctx: ServiceContext, limit = 10) {
  return (await searchTickets(ctx, "", limit)).rows;
}
