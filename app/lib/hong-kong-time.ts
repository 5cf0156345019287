import { z } from "zod";

/**
 * Hong Kong time, in one place (SPEC §9: times shown and entered in Hong Kong time). Hong Kong has no daylight
 * saving, so a Hong Kong calendar day runs from 00:00 to 23:59:59.999 at UTC+08:00. Dates a person types are
 * checked against the real calendar (no 13th month, no 30 February), and instants are kept inside the years
 * PostgreSQL and people both mean (1900–9999).
 */
export const HONG_KONG_TIME_ZONE = "Asia/Hong_Kong";
const OFFSET = "+08:00";
export const EARLIEST_YEAR = 1900;
export const LATEST_YEAR = 9999;

const DAY_FORMAT = new Intl.DateTimeFormat("en-CA", { timeZone: HONG_KONG_TIME_ZONE, year: "numeric", month: "2-digit", day: "2-digit" });

/** The Hong Kong calendar day an instant falls on, as YYYY-MM-DD. */
export function hongKongDay(at: Date): string {
  return DAY_FORMAT.format(at);
}

/** Whether a YYYY-MM-DD text is a day of the real calendar, within the years the console accepts. */
export function isCalendarDay(text: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!m) return false;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (year < EARLIEST_YEAR || year > LATEST_YEAR || month < 1 || month > 12 || day < 1) return false;
  return day <= new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** The first millisecond of a Hong Kong calendar day. */
export function startOfHongKongDay(day: string): Date {
  return new Date(`${day}T00:00:00.000${OFFSET}`);
}

/** The last millisecond of a Hong Kong calendar day: a date "valid to" or "until" means the whole of that day. */
export function endOfHongKongDay(day: string): Date {
  return new Date(`${day}T23:59:59.999${OFFSET}`);
}

/** The last millisecond of the Hong Kong day an instant falls on. */
export function endOfHongKongDayOf(at: Date): Date {
  return endOfHongKongDay(hongKongDay(at));
}

/** A calendar day (YYYY-MM-DD) a number of days after another (before it, when negative). */
export function calendarDayPlus(day: string, days: number): string {
  const d = new Date(`${day}T00:00:00.000Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

/** A day a number of days after the Hong Kong day of `at`, as YYYY-MM-DD. */
export function hongKongDayPlus(at: Date, days: number): string {
  return calendarDayPlus(hongKongDay(at), days);
}

/**
 * An instant a person or a query string gives: an ISO date-time with an offset, or a Hong Kong local date-time or
 * date without one. Null when it is not one, or lies outside 1900–9999.
 */
export function parseInstant(text: string | null | undefined): Date | null {
  if (!text || text.length > 40) return null;
  const local = /^\d{4}-\d{2}-\d{2}$/.test(text) ? `${text}T00:00:00` : text;
  if (/^\d{4}-\d{2}-\d{2}/.test(local) && !isCalendarDay(local.slice(0, 10))) return null;
  const date = new Date(/[zZ]|[+-]\d{2}:\d{2}$/.test(local) ? local : `${local}${OFFSET}`);
  if (Number.isNaN(date.getTime())) return null;
  const year = date.getUTCFullYear();
  return year >= EARLIEST_YEAR && year <= LATEST_YEAR ? date : null;
}

/** A required Hong Kong calendar day (YYYY-MM-DD) that exists, answered as its text. */
export const calendarDay = (message: "access.error.date" | "case.error.dueDate" = "access.error.date") =>
  z.string({ error: "validation.required" }).trim().refine(isCalendarDay, { error: message });

/** A day that ends something ("valid to", "expires on", a deadline): the end of that Hong Kong day. */
export const endOfDaySchema = (message?: "access.error.date") => calendarDay(message).transform(endOfHongKongDay);
