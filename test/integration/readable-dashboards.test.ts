import { and, count, eq, gt, lte } from "drizzle-orm";
import { expect, it } from "vitest";
import { apiClients, apiKeys, users } from "../../db/schema";
import { contextFor } from "../factories";
import { keysExpiring, onboardingFunnel, recentActivity, usersByStatus, openReviews } from "../../app/modules/reports/dashboard.server";
import { pipelineBoard } from "../../app/modules/onboarding/service.server";
import { describeEachDatabase } from "../support/databases";

/** The home dashboards' figures (issue 14) against plain readings of the tables, each within its reader's scope. */
describeEachDatabase("home dashboards (issue 14)", { demo: true }, (use) => {
  it("counts participants at each step as the pipeline board lists them", async () => {
    const officer = await contextFor(use().db, "officer@hkex.demo");
    const funnel = await onboardingFunnel(officer);
    const board = await pipelineBoard(officer);
    expect(funnel.steps.map((s) => [s.stepKey, s.participants, s.overdue])).toEqual(board.columns.map((c) => [c.stepKey, c.cards.length, c.cards.filter((x) => x.overdue).length]));
    expect(funnel.live).toBe(board.live.length);
    expect(funnel.steps.reduce((n, s) => n + s.participants, 0) + funnel.live).toBeGreaterThan(0);
  });

  it("counts a participant administrator's own users by status, and every user for HKEX staff", async () => {
    const { db } = use();
    const da = await usersByStatus(await contextFor(db, "checker@b01234.demo"));
    const own = await db.select({ status: users.status, n: count() }).from(users).where(eq(users.participantId, "B01234")).groupBy(users.status);
    for (const row of own) expect(da.find((s) => s.status === row.status)?.users, row.status).toBe(Number(row.n));
    expect(da.reduce((n, s) => n + s.users, 0)).toBe(own.reduce((n, r) => n + Number(r.n), 0));
    const all = await usersByStatus(await contextFor(db, "compliance@hkex.demo"));
    const [{ n }] = (await db.select({ n: count() }).from(users)) as [{ n: number }];
    expect(all.reduce((sum, s) => sum + s.users, 0)).toBe(Number(n));
  });

  it("lists only the reader's own participant's keys expiring within 30 days", async () => {
    const { db } = use();
    const now = new Date();
    const until = new Date(now.getTime() + 30 * 24 * 3600 * 1000);
    for (const [email, participantId] of [["checker@b01234.demo", "B01234"], ["checker@c00123.demo", "C00123"]] as const) {
      const keys = await keysExpiring(await contextFor(db, email), 30, now);
      const [{ expected }] = (await db
        .select({ expected: count() })
        .from(apiKeys)
        .innerJoin(apiClients, eq(apiClients.id, apiKeys.apiClientId))
        .where(and(eq(apiClients.participantId, participantId), eq(apiKeys.status, "active"), eq(apiClients.status, "active"), gt(apiKeys.expiresAt, now), lte(apiKeys.expiresAt, until)))) as [{ expected: number }];
      expect(keys!.length, email).toBe(Math.min(20, Number(expected)));
      for (const k of keys!) expect(k.expiresAt.getTime()).toBeLessThanOrEqual(until.getTime());
    }
  });

  it("charts 14 days of activity and lists the open reviews for compliance", async () => {
    const compliance = await contextFor(use().db, "compliance@hkex.demo");
    const activity = await recentActivity(compliance);
    expect(activity.unit).toBe("day");
    expect(activity.buckets).toHaveLength(14);
    expect(activity.total).toBeGreaterThan(0);
    const reviews = await openReviews(compliance);
    for (const r of reviews) expect(r.decided).toBeLessThanOrEqual(r.total);
  });
});
