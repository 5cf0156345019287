import { and, gte, lt, or, sql, type SQL } from "drizzle-orm";
import { rowsOf, type Database, type DbOrTx } from "../../../db/client.server";
import { auditDailyCounts, auditEvents } from "../../../db/schema";
import { calendarDayPlus, endOfHongKongDay, hongKongDay, isCalendarDay, parseInstant, startOfHongKongDay } from "~/lib/hong-kong-time";
import type { ServiceContext } from "../context.server";
import { tenantOf } from "../tenancy.server";
import { whereOf, type AuditFilters } from "./explorer.server";

const HOUR = 3600 * 1000;
const DAY = 24 * HOUR;
/** Hong Kong has kept UTC+08:00 without daylight saving since 1979: a bucket is the UTC time shifted by 8 hours. */
const HK_OFFSET = 8 * HOUR;

export interface ActivityBucket {
  /** Hong Kong local start of the bucket: YYYY-MM-DD for a day, YYYY-MM-DDTHH:00 for an hour. */
  label: string;
  count: number;
  /** The explorer filter values that narrow to this bucket. */
  from: string;
  to: string;
}

export interface ActivityChart {
  unit: "day" | "hour";
  buckets: ActivityBucket[];
  total: number;
}

/** The longest a chart runs: older days are left to a narrower filter. */
const MAX_DAYS = 92;

/** A Hong Kong day is rolled up once it has been over this long: a command that started before midnight has committed. */
const CLOSING_MARGIN = HOUR;
/** Days counted by one statement of the rollup. */
const DAYS_PER_STATEMENT = 7;

/**
 * Counts the events of closed Hong Kong days into audit_daily_counts (issue 16), oldest first from the day after the
 * last one rolled up (or the day of the first event), at most `maxDays` days a call: per day, per scope (each
 * participant, "platform" for events without one, "*" for all) and per action or per actor (each, and "*" for all),
 * with a ("*", "*", "*") row for every day, zero for a day without events. Run by the jobs runner; safe from several
 * processes at once (an advisory lock; and a day's rows are the same whoever counts them, a second insert of a row
 * does nothing). Answers the number of days rolled up.
 */
export async function rollUpAuditDays(db: Database, now = new Date(), maxDays = 31): Promise<number> {
  const lastClosed = calendarDayPlus(hongKongDay(new Date(now.getTime() - CLOSING_MARGIN)), -1);
  let done = 0;
  while (done < maxDays) {
    const days = await db.transaction((tx) => rollUpNextDays(tx, lastClosed, maxDays - done));
    if (days === 0) break;
    done += days;
  }
  return done;
}

/**
 * The next days to roll up, up to `lastClosed`, in one statement: under a transaction-scoped advisory lock, so that
 * runners in several processes do not count the same days at once (one that finds the lock taken stops).
 */
async function rollUpNextDays(tx: DbOrTx, lastClosed: string, maxDays: number): Promise<number> {
  const [lock] = rowsOf<{ locked: boolean }>(await tx.execute(sql`select pg_try_advisory_xact_lock(hashtext('audit_daily_counts_rollup')) as locked`));
  if (!lock?.locked) return 0;
  const [last] = await tx
    .select({ day: sql<string | null>`max(${auditDailyCounts.day})::text` })
    .from(auditDailyCounts)
    .where(and(sql`${auditDailyCounts.scope} = '*'`, sql`${auditDailyCounts.action} = '*'`, sql`${auditDailyCounts.actor} = '*'`));
  let next: string;
  if (last?.day) next = calendarDayPlus(last.day, 1);
  else {
    const [first] = await tx.select({ at: auditEvents.occurredAt }).from(auditEvents).orderBy(auditEvents.occurredAt).limit(1);
    if (!first) return 0;
    next = hongKongDay(first.at);
  }
  if (next > lastClosed) return 0;
  const days = Math.min(DAYS_PER_STATEMENT, maxDays, Math.round((Date.parse(lastClosed) - Date.parse(next)) / DAY) + 1);
  const start = startOfHongKongDay(next).toISOString();
  const end = startOfHongKongDay(calendarDayPlus(next, days)).toISOString();
  // grouping() tells a rolled-up column (every participant, action or actor) from a null one (the platform's events,
  // the system's); the system is not an actor one can filter on, so it has no rows of its own.
  await tx.execute(sql`with counted as (
      select day, case when grouping(participant_id) = 1 then '*' else coalesce(participant_id, 'platform') end as scope,
             case when grouping(action) = 1 then '*' else action end as action,
             case when grouping(actor_user_id) = 1 then '*' else actor_user_id end as actor, count(*)::int as events
      from (select (occurred_at at time zone 'UTC' + interval '8 hours')::date as day, participant_id, action, actor_user_id
            from ${auditEvents} where occurred_at >= ${start}::timestamptz and occurred_at < ${end}::timestamptz) e
      group by grouping sets ((day, participant_id, action), (day, participant_id), (day, action), (day),
                              (day, participant_id, actor_user_id), (day, actor_user_id))
      having grouping(actor_user_id) = 1 or actor_user_id is not null)
    insert into ${auditDailyCounts} (day, scope, action, actor, events)
    select day, scope, action, actor, events from counted
    union all
    select ${next}::date + i, '*', '*', '*', 0 from generate_series(0, ${days - 1}::int) as i
    where not exists (select 1 from counted c where c.day = ${next}::date + i and c.scope = '*' and c.action = '*' and c.actor = '*')
    on conflict do nothing`);
  return days;
}

/** The explorer's filters the rollup serves: the participant, the action or the actor, and the period (the reader's scope too). */
function rollupServes(filters: AuditFilters): boolean {
  return !filters.userId && !filters.entityType && !filters.entityId && !(filters.actorUserId && filters.action);
}

/**
 * The counts per day that audit_daily_counts holds for the filter, for the whole days from `firstDay` to `lastDay`:
 * only the days rolled up are in the map (a day missing from it is counted from the events). One index range read of
 * a few rows a day, whatever the number of events.
 */
async function rolledUpCounts(ctx: ServiceContext, filters: AuditFilters, firstDay: string, lastDay: string): Promise<Map<string, number>> {
  const tenant = tenantOf(ctx.actor, "audit:read");
  const asked = filters.participantId;
  // A participant administrator who asks for another participant (or the platform) sees nothing, as in the list.
  const scope = tenant && asked ? (asked === tenant ? tenant : null) : (tenant ?? asked ?? "*");
  const c = auditDailyCounts;
  let action: SQL;
  if (!filters.action) action = sql`${c.action} = '*'`;
  else if (filters.action.endsWith("*") || filters.action.endsWith(".")) action = sql`${c.action} <> '*' and ${c.action} like ${`${filters.action.replace(/\*$/, "")}%`}`;
  else action = sql`${c.action} = ${filters.action}`;
  const actor = filters.actorUserId ? sql`${c.actor} = ${filters.actorUserId}` : sql`${c.actor} = '*'`;
  const counted = scope === null ? sql`false` : sql`${c.scope} = ${scope} and ${action} and ${actor}`;
  const marker = sql`${c.scope} = '*' and ${c.action} = '*' and ${c.actor} = '*'`;
  const rows = rowsOf<{ day: string; events: number; counted: boolean; marker: boolean }>(
    await ctx.db.execute(sql`select ${c.day}::text as day, ${c.events} as events, (${counted}) as counted, (${marker}) as marker
      from ${c} where ${c.day} >= ${firstDay}::date and ${c.day} <= ${lastDay}::date and ((${marker}) or (${counted}))`),
  );
  const counts = new Map<string, number>();
  for (const r of rows) if (r.marker && !counts.has(r.day)) counts.set(r.day, 0);
  for (const r of rows) if (r.counted) counts.set(r.day, (counts.get(r.day) ?? 0) + Number(r.events));
  return counts;
}

/**
 * Events per Hong Kong day (or hour when the range is two days or less) for the explorer's current filter, with the
 * reader's scope applied as the list applies it. The range is the filter's own, or the last 30 days; empty buckets
 * are kept so the time axis is even. Whole days already rolled up (audit_daily_counts: closed days) are read from
 * the rollup when the filter is one it serves (participant, action or actor, period); the rest (today, a part-day
 * at either end, days not yet rolled up, and every day under a user or object filter or an actor and an action
 * together) is counted from the events in one aggregate over index ranges.
 */
export async function activityOverTime(ctx: ServiceContext, filters: AuditFilters, now = new Date()): Promise<ActivityChart> {
  const toValue = filters.to;
  const fromValue = filters.from;
  const to = toValue ? (isCalendarDay(toValue) ? endOfHongKongDay(toValue) : (parseInstant(toValue) ?? now)) : now;
  let from = fromValue ? (parseInstant(fromValue) ?? new Date(to.getTime() - 29 * DAY)) : startOfHongKongDay(hongKongDay(new Date(to.getTime() - 29 * DAY)));
  if (to.getTime() - from.getTime() > MAX_DAYS * DAY) from = startOfHongKongDay(hongKongDay(new Date(to.getTime() - (MAX_DAYS - 1) * DAY)));
  if (from > to) return { unit: "day", buckets: [], total: 0 };
  const unit: "day" | "hour" = to.getTime() - from.getTime() <= 2 * DAY ? "hour" : "day";
  const size = unit === "day" ? DAY : HOUR;
  const bucketOf = (t: number) => Math.floor((t + HK_OFFSET) / size) * size - HK_OFFSET;
  const localOf = (t: number) => new Date(t + HK_OFFSET).toISOString().slice(0, 16);

  const starts: number[] = [];
  for (let t = bucketOf(from.getTime()); t <= to.getTime(); t += size) starts.push(t);
  // Whole closed days inside the range, from the rollup where it has them (a day it holds that is not closed by this
  // reader's clock is counted from the events all the same).
  const closed = (t: number) => t + DAY + CLOSING_MARGIN <= now.getTime();
  const whole = unit === "day" && rollupServes(filters) ? starts.filter((t) => t >= from.getTime() && t + DAY - 1 <= to.getTime() && closed(t)) : [];
  const rolled = whole.length ? await rolledUpCounts(ctx, filters, localOf(whole[0]!).slice(0, 10), localOf(whole[whole.length - 1]!).slice(0, 10)) : new Map<string, number>();
  const counts = new Map<string, number>();
  for (const [day, n] of rolled) counts.set(`${day}T00:00`, n);

  // Everything else from the events: each run of buckets not rolled up is one time range, clipped to the filter's.
  const ranges: [number, number][] = [];
  for (const t of starts) {
    if (counts.has(localOf(t))) continue;
    const last = ranges[ranges.length - 1];
    if (last && last[1] === t) last[1] = t + size;
    else ranges.push([t, t + size]);
  }
  if (ranges.length) {
    const inRange = or(
      ...ranges.map(([a, b]) => and(gte(auditEvents.occurredAt, new Date(Math.max(a, from.getTime()))), lt(auditEvents.occurredAt, new Date(Math.min(b, to.getTime() + 1))))),
    );
    const truncated = sql<string>`date_trunc(${sql.raw(`'${unit}'`)}, ${auditEvents.occurredAt} at time zone 'UTC' + interval '8 hours')`;
    const rows = await ctx.db
      .select({ bucket: sql<string>`to_char(${truncated}, 'YYYY-MM-DD"T"HH24:MI')`, count: sql<number>`count(*)::int` })
      .from(auditEvents)
      .where(and(whereOf(ctx, "audit:read", filters), inRange))
      .groupBy(sql`1`)
      .orderBy(sql`1`);
    for (const r of rows) counts.set(r.bucket, Number(r.count));
  }

  const buckets: ActivityBucket[] = starts.map((t) => {
    const local = localOf(t);
    const endLocal = new Date(t + size - 1 + HK_OFFSET).toISOString().slice(0, 23);
    return {
      label: unit === "day" ? local.slice(0, 10) : local,
      count: counts.get(local) ?? 0,
      from: unit === "day" ? local.slice(0, 10) : local,
      to: unit === "day" ? local.slice(0, 10) : endLocal,
    };
  });
  return { unit, buckets, total: buckets.reduce((n, b) => n + b.count, 0) };
}
