import { and, gte, lt, sql } from "drizzle-orm";
import { auditEvents } from "../../../db/schema";
import { endOfHongKongDay, hongKongDay, isCalendarDay, parseInstant, startOfHongKongDay } from "~/lib/hong-kong-time";
import type { ServiceContext } from "../context.server";
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

/**
 * Events per Hong Kong day (or hour when the range is two days or less) for the explorer's current filter, with the
 * reader's scope applied as the list applies it: one aggregate query. The range is the filter's own, or the last 30
 * days; empty buckets are kept so the time axis is even.
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

  const truncated = sql<string>`date_trunc(${sql.raw(`'${unit}'`)}, ${auditEvents.occurredAt} at time zone 'UTC' + interval '8 hours')`;
  const rows = await ctx.db
    .select({ bucket: sql<string>`to_char(${truncated}, 'YYYY-MM-DD"T"HH24:MI')`, count: sql<number>`count(*)::int` })
    .from(auditEvents)
    .where(and(whereOf(ctx, "audit:read", filters), gte(auditEvents.occurredAt, from), lt(auditEvents.occurredAt, new Date(to.getTime() + 1))))
    .groupBy(sql`1`)
    .orderBy(sql`1`);
  const counts = new Map(rows.map((r) => [r.bucket, Number(r.count)]));

  const buckets: ActivityBucket[] = [];
  for (let t = bucketOf(from.getTime()); t <= to.getTime(); t += size) {
    const local = new Date(t + HK_OFFSET).toISOString().slice(0, 16);
    const endLocal = new Date(t + size - 1 + HK_OFFSET).toISOString().slice(0, 23);
    buckets.push({
      label: unit === "day" ? local.slice(0, 10) : local,
      count: counts.get(local) ?? 0,
      from: unit === "day" ? local.slice(0, 10) : local,
      to: unit === "day" ? local.slice(0, 10) : endLocal,
    });
  }
  return { unit, buckets, total: buckets.reduce((n, b) => n + b.count, 0) };
}
