import { and, eq, sql } from "drizzle-orm";
import { beforeAll, expect, it, vi } from "vitest";
import { auditDailyCounts, auditEvents } from "../../db/schema";
import { activityOverTime, rollUpAuditDays, type ActivityChart } from "../../app/modules/audit/activity.server";
import type { AuditFilters } from "../../app/modules/audit/explorer.server";
import { appendAuditEvents, type AuditEventInput } from "../../app/modules/audit/service.server";
import { systemContext, type ServiceContext } from "../../app/modules/context.server";
import { runJobs } from "../../app/modules/jobs/service.server";
import { hongKongDay, hongKongDayPlus, startOfHongKongDay } from "../../app/lib/hong-kong-time";
import { contextFor, createConsoleUser } from "../factories";
import { createFirm, type Firm } from "../support/access";
import { HOUR, MINUTE } from "../support/clock";
import { describeEachDatabase } from "../support/databases";

/**
 * The explorer chart's rollup (issue 16): closed Hong Kong days are counted once into audit_daily_counts and the
 * chart reads them from there, showing the same numbers as counting the events; today, part-days and filters the
 * rollup does not serve are counted from the events; a participant administrator's chart counts only their own.
 */
describeEachDatabase("the explorer chart's per-day rollup", { compatibility: true }, (use) => {
  let a: Firm;
  let b: Firm;
  let compliance: ServiceContext;
  const DAY = 24 * HOUR;

  beforeAll(async () => {
    const { db } = use();
    await createConsoleUser(db, { email: "compliance@rollup.test", displayName: "Rollup Reviewer", roleCodes: ["compliance_reviewer"] });
    compliance = await contextFor(db, "compliance@rollup.test");
    a = await createFirm(db);
    b = await createFirm(db);
    // Nine days ago to three days ago, at odd hours (the first and last minutes of a Hong Kong day among them): both
    // firms, the platform, several actions, and a day without any event.
    const now = new Date();
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      for (let day = 0; day < 7; day++) {
        if (day === 3) continue;
        const start = startOfHongKongDay(hongKongDayPlus(now, -9 + day)).getTime();
        const times = [0, 7 * MINUTE, 5 * HOUR + day * 13 * MINUTE, 16 * HOUR - 1, DAY - 30_000, DAY - 1].slice(0, 3 + (day % 4));
        for (const [i, at] of times.entries()) {
          vi.setSystemTime(start + at);
          const inputs: AuditEventInput[] = [0, 1, 2].map((k) => ({
            action: (["review.item.kept", "review.item.flagged", "role.grant.revoked"] as const)[(i + k + day) % 3]!,
            entityType: "widget",
            entityId: `w-${i}`,
            participantId: (i + k) % 4 === 0 ? null : (i + k) % 2 === 0 ? a.participant.id : b.participant.id,
          }));
          // The actors: a firm's maker, the other firm's checker, and the system (no user).
          const actor = [a.maker.actor, b.checker.actor, systemContext(db).actor][(i + day) % 3]!;
          await db.transaction((tx) => appendAuditEvents(tx, { actor, requestId: `rollup-${day}-${i}`, ip: null, userAgent: null }, inputs));
        }
      }
    } finally {
      vi.useRealTimers();
    }
  });

  const views = (): [string, () => ServiceContext, AuditFilters][] => [
    ["compliance, everything", () => compliance, {}],
    ["compliance, one participant", () => compliance, { participantId: a.participant.id }],
    ["compliance, the platform's", () => compliance, { participantId: "platform" }],
    ["compliance, one action", () => compliance, { action: "review.item.kept" }],
    ["compliance, an area of actions", () => compliance, { action: "review.*" }],
    ["compliance, a prefix ending in a dot, with a participant", () => compliance, { action: "review.item.", participantId: b.participant.id }],
    ["compliance, from part of a day to a day", () => compliance, { from: `${hongKongDayPlus(new Date(), -8)}T10:30`, to: hongKongDayPlus(new Date(), -3) }],
    ["compliance, one actor", () => compliance, { actorUserId: b.checker.actor.userId! }],
    ["a participant administrator, everything", () => a.checker, {}],
    ["a participant administrator, one action", () => a.checker, { action: "role.grant.revoked" }],
    ["a participant administrator asking for another participant", () => a.checker, { participantId: b.participant.id }],
    ["a participant administrator asking for the platform's", () => a.checker, { participantId: "platform" }],
    ["compliance, one actor in one participant", () => compliance, { actorUserId: a.maker.actor.userId!, participantId: b.participant.id }],
    ["compliance, an actor and an action (not in the rollup)", () => compliance, { actorUserId: a.maker.actor.userId!, action: "review.*" }],
    ["compliance, an actor nobody is", () => compliance, { actorUserId: "-" }],
    ["a participant administrator, one actor", () => a.checker, { actorUserId: b.checker.actor.userId! }],
    ["compliance, about one object (not in the rollup)", () => compliance, { entityType: "widget", entityId: "w-1" }],
  ];

  /** The chart's numbers counted straight from the events, per Hong Kong day. */
  async function counted(participantId: string | null | undefined, sinceDay: string): Promise<Map<string, number>> {
    const { db } = use();
    const rows = await db
      .select({ day: sql<string>`to_char(${auditEvents.occurredAt} at time zone 'UTC' + interval '8 hours', 'YYYY-MM-DD')`, n: sql<number>`count(*)::int` })
      .from(auditEvents)
      .where(and(sql`${auditEvents.occurredAt} >= ${startOfHongKongDay(sinceDay).toISOString()}::timestamptz`, participantId === undefined ? undefined : eq(auditEvents.participantId, participantId!)))
      .groupBy(sql`1`);
    return new Map(rows.map((r) => [r.day, Number(r.n)]));
  }

  const perDay = (chart: ActivityChart) => chart.buckets.map((x) => `${x.label}:${x.count}`);

  it("shows the same numbers from the rollup as from the events, for every filter it serves and those it does not", async () => {
    const { db } = use();
    const before = await Promise.all(views().map(([, who, f]) => activityOverTime(who(), f)));
    expect(before[0]!.total).toBeGreaterThan(50);
    expect(await rollUpAuditDays(db)).toBeGreaterThanOrEqual(8);
    // Every closed day has its row; yesterday and the days before are closed (an hour after midnight).
    const [{ n }] = (await db.select({ n: sql<number>`count(*)::int` }).from(auditDailyCounts).where(and(eq(auditDailyCounts.scope, "*"), eq(auditDailyCounts.action, "*"), eq(auditDailyCounts.actor, "*")))) as [{ n: number }];
    expect(Number(n)).toBeGreaterThanOrEqual(8);
    const after = await Promise.all(views().map(([, who, f]) => activityOverTime(who(), f)));
    views().forEach(([label], i) => expect({ label, days: perDay(after[i]!) }).toEqual({ label, days: perDay(before[i]!) }));

    // And both are what the events say, day by day: everything, and one participant's (the administrator's view).
    const since = after[0]!.buckets[0]!.label;
    const all = await counted(undefined, since);
    for (const bucket of after[0]!.buckets) expect(`${bucket.label}:${bucket.count}`).toBe(`${bucket.label}:${all.get(bucket.label) ?? 0}`);
    const own = await counted(a.participant.id, since);
    for (const bucket of after[8]!.buckets) expect(`${bucket.label}:${bucket.count}`).toBe(`${bucket.label}:${own.get(bucket.label) ?? 0}`);
    expect(after[8]!.total).toBeLessThan(after[0]!.total);
    expect(after[10]!.total).toBe(0);
    expect(after[11]!.total).toBe(0);
    expect(after[7]!.total).toBeGreaterThan(0);
    expect(after[12]!.total).toBeGreaterThan(0);
    expect(after[14]!.total).toBe(0);
    expect(after[15]!.total).toBeGreaterThan(0);
  });

  it("reads whole closed days from the rollup, and rolls each day up once", async () => {
    const { db } = use();
    await rollUpAuditDays(db);
    const day = hongKongDayPlus(new Date(), -5);
    const chart = () => activityOverTime(compliance, { participantId: a.participant.id });
    const before = (await chart()).buckets.find((x) => x.label === day)!.count;
    expect(before).toBeGreaterThan(0);
    // The rollup's row is what the chart shows for that day (rows are never changed by the console; here, to see).
    await db.execute(sql`update audit_daily_counts set events = events + 1000 where day = ${day}::date and scope = ${a.participant.id} and action = '*' and actor = '*'`);
    try {
      expect((await chart()).buckets.find((x) => x.label === day)!.count).toBe(before + 1000);
      // A chart read before that day had closed (by its reader's clock) counts it from the events all the same.
      const early = new Date(startOfHongKongDay(hongKongDayPlus(new Date(), -4)).getTime() + 30 * MINUTE);
      expect((await activityOverTime(compliance, { participantId: a.participant.id }, early)).buckets.find((x) => x.label === day)!.count).toBe(before);
    } finally {
      await db.execute(sql`update audit_daily_counts set events = events - 1000 where day = ${day}::date and scope = ${a.participant.id} and action = '*' and actor = '*'`);
    }
    // Nothing left to roll up: a second run (or another process's) adds nothing, and so does the jobs runner.
    const rows = async () => ((await db.select({ n: sql<number>`count(*)::int` }).from(auditDailyCounts)) as [{ n: number }])[0].n;
    const count = await rows();
    expect(await rollUpAuditDays(db)).toBe(0);
    expect((await runJobs(db, undefined, { integrityWalkMinutes: 0 })).auditDaysRolledUp).toBe(0);
    expect(await rows()).toBe(count);
  });

  it("leaves today, and yesterday until an hour after midnight, to the events", async () => {
    const { db } = use();
    const today = hongKongDay(new Date());
    const yesterday = hongKongDayPlus(new Date(), -1);
    const rolled = async (day: string) =>
      (await db.select().from(auditDailyCounts).where(and(eq(auditDailyCounts.day, day), eq(auditDailyCounts.scope, "*"), eq(auditDailyCounts.action, "*"), eq(auditDailyCounts.actor, "*")))).length;
    // Just after midnight, yesterday is not closed yet: a rollup then stops the day before; an hour later it is.
    expect(await rollUpAuditDays(db, new Date(startOfHongKongDay(today).getTime() + 30 * MINUTE))).toBe(0);
    await rollUpAuditDays(db, new Date(startOfHongKongDay(today).getTime() + 61 * MINUTE));
    expect(await rolled(yesterday)).toBe(1);
    expect(await rolled(today)).toBe(0);

    // A new event today shows at once, in compliance's chart and in its participant's administrator's, not the other's.
    const chartOf = async (who: ServiceContext) => (await activityOverTime(who, {})).buckets.find((x) => x.label === today)!.count;
    const [all, ofA, ofB] = await Promise.all([chartOf(compliance), chartOf(a.checker), chartOf(b.checker)]);
    await db.transaction((tx) =>
      appendAuditEvents(tx, { actor: a.maker.actor, requestId: "rollup-today", ip: null, userAgent: null }, [{ action: "review.item.kept", entityType: "widget", entityId: "w-today", participantId: a.participant.id }]),
    );
    expect(await Promise.all([chartOf(compliance), chartOf(a.checker), chartOf(b.checker)])).toEqual([all + 1, ofA + 1, ofB]);
  });
});
