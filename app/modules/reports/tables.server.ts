import { stringify } from "csv-stringify/sync";
import { asc, eq, inArray } from "drizzle-orm";
import { participants, roles, sodRules } from "../../../db/schema";
import { parseInstant } from "~/lib/hong-kong-time";
import { formatHongKongTime, isMessageKey, translator, type Locale, type MessageKey } from "~/i18n/messages";
import type { ServiceContext } from "../context.server";
import { tenantOf } from "../tenancy.server";
import { REPORTS, type ReportName } from "./names";
import { accessAt, accessBatchesAt, accessCountAt, accessDiff, accessNeedsFilter, dormantReport, expiringReport, noMfaReport, pendingTooLongReport, sodReport, type AccessRow } from "./service.server";

/**
 * Each report as the table a reader sees: headers and cells already in the reader's language, times in Hong Kong
 * time. The page and its CSV download are built from this one table, so a download is exactly what was on screen.
 */

export { REPORTS, type ReportName } from "./names";

export interface ReportQuery {
  report: ReportName;
  participantId?: string;
  /** The access report only: the role whose holders it lists. */
  roleCode?: string;
  at: Date;
  from: Date;
  to: Date;
  /** Filters that could not be read, each with the message its field shows; the report is not run with them. */
  invalid: Partial<Record<"participantId" | "roleCode", MessageKey>>;
}

export interface ReportRow {
  key: string;
  /** Where the row's name (the column `linkColumn`) leads. */
  link: string | null;
  cells: string[];
}

export interface ReportTable {
  headers: string[];
  linkColumn: number;
  rows: ReportRow[];
  /** Set when `rows` is only the window asked for: the number of rows of the whole report. */
  total?: number;
  /**
   * Set instead of rows when a page of the access report was asked for market-wide without a participant or a
   * role: nothing is read or counted until the reader narrows it (the whole market is the CSV).
   */
  needsFilter?: true;
}

/** Rows per chunk of a CSV download. */
const BATCH = 500;
const PARTICIPANT_ID = /^[A-Z][0-9]{5}$/;
const ROLE_CODE = /^[a-z][a-z0-9_]{0,63}$/;

/**
 * The report, its filters and its instants from the query string. A participant id or a role code that cannot be
 * one is kept out of the query and named in `invalid` (the page says so by the field); unreadable instants fall back
 * to now and the last 30 days.
 */
export function parseReportQuery(params: URLSearchParams, now = new Date()): ReportQuery {
  const report = (REPORTS as readonly string[]).includes(params.get("report") ?? "") ? (params.get("report") as ReportName) : "access";
  const requested = params.get("participantId")?.trim().toUpperCase() ?? "";
  const role = report === "access" ? (params.get("role")?.trim() ?? "") : "";
  const invalid: ReportQuery["invalid"] = {};
  if (requested && !PARTICIPANT_ID.test(requested)) invalid.participantId = "reports.error.participantId";
  if (role && !ROLE_CODE.test(role)) invalid.roleCode = "reports.error.role";
  return {
    report,
    participantId: PARTICIPANT_ID.test(requested) ? requested : undefined,
    roleCode: ROLE_CODE.test(role) ? role : undefined,
    at: parseInstant(params.get("at")) ?? now,
    from: parseInstant(params.get("from")) ?? new Date(now.getTime() - 30 * 24 * 3600 * 1000),
    to: parseInstant(params.get("to")) ?? now,
    invalid,
  };
}

/** The roles the access report can be narrowed to: the catalogue, retired roles too (their grants stay on record). */
export async function reportRoleChoices(ctx: ServiceContext, locale: Locale): Promise<{ code: string; name: string }[]> {
  const rows = await ctx.db.select({ code: roles.code, en: roles.nameEn, zh: roles.nameZh }).from(roles).orderBy(asc(roles.code));
  return rows.map((r) => ({ code: r.code, name: locale === "zh-HK" ? r.zh : r.en })).sort((a, b) => a.name.localeCompare(b.name, locale));
}

/**
 * The query with what its filters name checked against the database (a participant that does not exist, a role not
 * in the catalogue): such a filter moves to `invalid`, for its field to say so. A participant's administrator sees
 * only their own participant whatever the query names, so a participant filter is not theirs to set: it is dropped.
 */
export async function checkedReportQuery(ctx: ServiceContext, q: ReportQuery, roleChoices: { code: string }[]): Promise<ReportQuery> {
  const invalid = { ...q.invalid };
  let { participantId, roleCode } = q;
  if (tenantOf(ctx.actor, "report:read") !== null) {
    participantId = undefined;
    delete invalid.participantId;
  } else if (participantId) {
    const [found] = await ctx.db.select({ id: participants.id }).from(participants).where(eq(participants.id, participantId));
    if (!found) {
      invalid.participantId = "reports.error.noParticipant";
      participantId = undefined;
    }
  }
  if (roleCode && !roleChoices.some((r) => r.code === roleCode)) {
    invalid.roleCode = "reports.error.role";
    roleCode = undefined;
  }
  return { ...q, participantId, roleCode, invalid };
}

/** The access report's columns and a row's cells in the reader's language (the page, the diff and the CSV). */
function accessFormat(locale: Locale): { headers: string[]; cells: (r: AccessRow) => string[] } {
  const t = translator(locale);
  const zh = locale === "zh-HK";
  const keys: MessageKey[] = ["users.participant", "users.displayName", "users.role", "users.requestedBy", "users.approvedBy", "users.since", "users.until", "users.source"];
  return {
    headers: keys.map((k) => t(k)),
    cells: (r) => [
      r.participantId ?? "HKEX",
      r.userName,
      zh ? r.roleNameZh : r.roleName,
      r.requestedByName ?? "—",
      r.approvedByName ?? "—",
      formatHongKongTime(r.validFrom, locale),
      r.validTo ? formatHongKongTime(r.validTo, locale) : t("users.noEnd"),
      isMessageKey(`source.${r.source}`) ? t(`source.${r.source}` as MessageKey) : r.source,
    ],
  };
}

/**
 * A report as the CSV download reads it: its headers, then its rows in parts. The access report is read a few
 * participants at a time (accessBatchesAt), so the whole market's 250,000 grants are never held at once; the
 * others are the page's table.
 */
export async function reportCsvParts(ctx: ServiceContext, q: ReportQuery, locale: Locale): Promise<{ headers: string[]; parts: AsyncIterable<string[][]> }> {
  if (q.report === "access") {
    const access = accessFormat(locale);
    const batches = accessBatchesAt(ctx, q.at, { participantId: q.participantId, roleCode: q.roleCode });
    return {
      headers: access.headers,
      parts: (async function* () {
        for await (const rows of batches) yield rows.map(access.cells);
      })(),
    };
  }
  const table = await reportTable(ctx, q, locale);
  return {
    headers: table.headers,
    parts: (async function* () {
      for (let i = 0; i < table.rows.length; i += BATCH) yield table.rows.slice(i, i + BATCH).map((r) => r.cells);
    })(),
  };
}

/**
 * With a window, a report that can be long at market scale (the access report: every grant of every participant)
 * reads only the window's rows and counts the rest in the database (`total`), and only once narrowed to a
 * participant or a role (`needsFilter` otherwise); the others are read whole. Without a window (the CSV) the access
 * report is the whole of what the reader may see.
 */
export async function reportTable(ctx: ServiceContext, q: ReportQuery, locale: Locale, window?: { offset: number; limit: number }): Promise<ReportTable> {
  const t = translator(locale);
  const zh = locale === "zh-HK";
  const time = (d: Date) => formatHongKongTime(d, locale);
  const word = (key: string, fallback: string) => (isMessageKey(key) ? t(key) : fallback);
  const who = (participantId: string | null) => participantId ?? "HKEX";
  const headers = (keys: MessageKey[]) => keys.map((k) => t(k));
  /** Role names in the reader's language, for reports that carry only the code. */
  const roleNames = async (codes: string[]) => {
    const unique = [...new Set(codes.filter(Boolean))];
    const rows = unique.length ? await ctx.db.select({ code: roles.code, en: roles.nameEn, zh: roles.nameZh }).from(roles).where(inArray(roles.code, unique)) : [];
    const byCode = new Map(rows.map((r) => [r.code, zh ? r.zh : r.en]));
    return (code: string) => byCode.get(code) ?? code;
  };
  const access = accessFormat(locale);
  const accessCells = access.cells;
  const accessHeaders = access.headers;

  switch (q.report) {
    case "access": {
      const filter = { participantId: q.participantId, roleCode: q.roleCode };
      if (window && accessNeedsFilter(ctx, filter)) return { headers: accessHeaders, linkColumn: 1, rows: [], total: 0, needsFilter: true };
      const [rows, total] = await Promise.all([accessAt(ctx, q.at, filter, window), window ? accessCountAt(ctx, q.at, filter) : undefined]);
      return { headers: accessHeaders, linkColumn: 1, rows: rows.map((r) => ({ key: r.grantId, link: `/users/${r.userId}`, cells: accessCells(r) })), total };
    }
    case "diff": {
      const diff = await accessDiff(ctx, q.from, q.to, q.participantId);
      const side = (rows: AccessRow[], label: MessageKey) => rows.map((r) => ({ key: `${label}-${r.grantId}`, link: `/users/${r.userId}`, cells: [t(label), ...accessCells(r)] }));
      return { headers: [t("export.col.change"), ...accessHeaders], linkColumn: 2, rows: [...side(diff.added, "reports.added"), ...side(diff.removed, "reports.removed")] };
    }
    case "sod": {
      const findings = await sodReport(ctx, q.participantId);
      const role = await roleNames(findings.flatMap((f) => [f.roleA, f.roleB]));
      return {
        headers: headers(["users.participant", "users.displayName", "users.role", "catalogue.kind", "users.justification"]),
        linkColumn: 1,
        rows: findings.map((f) => ({
          key: `${f.userId}-${f.ruleId}`,
          link: `/users/${f.userId}`,
          cells: [who(f.participantId), f.userName, `${role(f.roleA)} + ${role(f.roleB)}`, f.waived ? t("explorer.value.approved") : word(`catalogue.kind.${f.kind}`, f.kind), f.justification ?? ""],
        })),
      };
    }
    case "dormant":
    case "mfa": {
      const found = await (q.report === "dormant" ? dormantReport : noMfaReport)(ctx, q.participantId);
      return {
        headers: headers(["users.participant", "users.displayName", "users.email", "users.lastSignIn"]),
        linkColumn: 1,
        rows: found.map((u) => ({ key: u.userId, link: `/users/${u.userId}`, cells: [who(u.participantId), u.userName, u.email, u.lastSignInAt ? time(u.lastSignInAt) : "—"] })),
      };
    }
    case "expiring": {
      const items = await expiringReport(ctx, q.participantId);
      const role = await roleNames(items.map((e) => e.what));
      return {
        headers: headers(["users.participant", "users.displayName", "users.role", "reports.expires"]),
        linkColumn: 1,
        rows: items.map((e) => ({
          key: e.id,
          link: null,
          cells: [who(e.participantId), e.userName, e.environment ? `${e.what} (${word(`credentials.env.${e.environment}`, e.environment)})` : role(e.what), time(e.expiresAt)],
        })),
      };
    }
    case "pending": {
      const items = await pendingTooLongReport(ctx, q.participantId);
      const role = await roleNames(items.filter((p) => p.kind === "grant_request").map((p) => p.what));
      // A waiver by the rule's own description, in the reader's language, not its id.
      const waiverRules = items.some((p) => p.kind === "waiver") ? await ctx.db.select({ id: sodRules.id, en: sodRules.descriptionEn, zh: sodRules.descriptionZh }).from(sodRules) : [];
      const rule = (id: string) => {
        const found = waiverRules.find((r) => r.id === id);
        return found ? (zh ? found.zh : found.en) : id;
      };
      const what = (p: (typeof items)[number]) => (p.kind === "grant_request" ? role(p.what) : p.kind === "onboarding_step" ? word(`step.${p.what}.title`, p.what) : rule(p.what));
      return {
        headers: headers(["users.participant", "catalogue.kind", "users.role", "reports.since"]),
        linkColumn: 1,
        rows: items.map((p) => ({ key: `${p.kind}-${p.id}`, link: p.link, cells: [p.participantId, word(`reports.kind.${p.kind}`, p.kind), what(p), time(p.since)] })),
      };
    }
  }
}

/**
 * A cell a spreadsheet would run as a formula (=, +, -, @, tab, carriage return first) is made inert with a leading
 * apostrophe, as the audit export does (OWASP's advice).
 */
export function inertCell(value: string): string {
  return /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
}


/**
 * A table as CSV (RFC 4180, CRLF, a UTF-8 byte-order mark so that spreadsheets read the Chinese right), in batches of
 * rows so that no one string holds a whole large report: from the rows, or from parts read as the download is sent.
 */
export function tableCsv(headers: string[], rows: string[][] | AsyncIterable<string[][]>): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const line = (cells: string[]) => stringify([cells.map(inertCell)], { record_delimiter: "\r\n", quoted_match: /[\r\n]/ });
  const parts = Array.isArray(rows)
    ? (function* () {
        for (let i = 0; i < rows.length; i += BATCH) yield rows.slice(i, i + BATCH);
      })()
    : rows[Symbol.asyncIterator]();
  let started = false;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (!started) {
        controller.enqueue(encoder.encode(`\uFEFF${line(headers)}`));
        started = true;
        return;
      }
      const next = await parts.next();
      if (next.done) {
        controller.close();
        return;
      }
      controller.enqueue(encoder.encode(next.value.map(line).join("")));
    },
    async cancel() {
      await parts.return?.(undefined);
    },
  });
}

/** The response that downloads a CSV: never cached, named for what it holds. */
export function csvResponse(stream: ReadableStream<Uint8Array>, name: string): Response {
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  return new Response(stream, {
    headers: {
      "Content-Type": "text/csv; charset=utf-8",
      "Content-Disposition": `attachment; filename="${name}-${stamp}.csv"`,
      "Cache-Control": "no-store",
    },
  });
}
