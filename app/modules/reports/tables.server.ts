import { stringify } from "csv-stringify/sync";
import { inArray } from "drizzle-orm";
import { roles, sodRules } from "../../../db/schema";
import { parseInstant } from "~/lib/hong-kong-time";
import { formatHongKongTime, isMessageKey, translator, type Locale, type MessageKey } from "~/i18n/messages";
import type { ServiceContext } from "../context.server";
import { REPORTS, type ReportName } from "./names";
import { accessAt, accessCountAt, accessDiff, dormantReport, expiringReport, noMfaReport, pendingTooLongReport, sodReport, type AccessRow } from "./service.server";

/**
 * Each report as the table a reader sees: headers and cells already in the reader's language, times in Hong Kong
 * time. The page and its CSV download are built from this one table, so a download is exactly what was on screen.
 */

export { REPORTS, type ReportName } from "./names";

export interface ReportQuery {
  report: ReportName;
  participantId?: string;
  at: Date;
  from: Date;
  to: Date;
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
}

export function parseReportQuery(params: URLSearchParams, now = new Date()): ReportQuery {
  const report = (REPORTS as readonly string[]).includes(params.get("report") ?? "") ? (params.get("report") as ReportName) : "access";
  const requested = params.get("participantId")?.trim().toUpperCase() ?? "";
  return {
    report,
    participantId: /^[A-Z][0-9]{5}$/.test(requested) ? requested : undefined,
    at: parseInstant(params.get("at")) ?? now,
    from: parseInstant(params.get("from")) ?? new Date(now.getTime() - 30 * 24 * 3600 * 1000),
    to: parseInstant(params.get("to")) ?? now,
  };
}

/**
 * With a window, a report that can be long at market scale (the access report: every grant of every participant)
 * reads only the window's rows and counts the rest in the database (`total`); the others are read whole.
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
  const accessCells = (r: AccessRow) => [
    who(r.participantId),
    r.userName,
    zh ? r.roleNameZh : r.roleName,
    r.requestedByName ?? "—",
    r.approvedByName ?? "—",
    time(r.validFrom),
    r.validTo ? time(r.validTo) : t("users.noEnd"),
    word(`source.${r.source}`, r.source),
  ];
  const accessHeaders: MessageKey[] = ["users.participant", "users.displayName", "users.role", "users.requestedBy", "users.approvedBy", "users.since", "users.until", "users.source"];

  switch (q.report) {
    case "access": {
      const [rows, total] = await Promise.all([accessAt(ctx, q.at, q.participantId, window), window ? accessCountAt(ctx, q.at, q.participantId) : undefined]);
      return { headers: headers(accessHeaders), linkColumn: 1, rows: rows.map((r) => ({ key: r.grantId, link: `/users/${r.userId}`, cells: accessCells(r) })), total };
    }
    case "diff": {
      const diff = await accessDiff(ctx, q.from, q.to, q.participantId);
      const side = (rows: AccessRow[], label: MessageKey) => rows.map((r) => ({ key: `${label}-${r.grantId}`, link: `/users/${r.userId}`, cells: [t(label), ...accessCells(r)] }));
      return { headers: [t("export.col.change"), ...headers(accessHeaders)], linkColumn: 2, rows: [...side(diff.added, "reports.added"), ...side(diff.removed, "reports.removed")] };
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

const BATCH = 500;

/**
 * A table as CSV (RFC 4180, CRLF, a UTF-8 byte-order mark so that spreadsheets read the Chinese right), in batches of
 * rows so that no one string holds a whole large report.
 */
export function tableCsv(headers: string[], rows: string[][]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const line = (cells: string[]) => stringify([cells.map(inertCell)], { record_delimiter: "\r\n", quoted_match: /[\r\n]/ });
  let next = -1;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (next === -1) {
        controller.enqueue(encoder.encode(`\uFEFF${line(headers)}`));
        next = 0;
        return;
      }
      if (next >= rows.length) {
        controller.close();
        return;
      }
      controller.enqueue(encoder.encode(rows.slice(next, next + BATCH).map(line).join("")));
      next += BATCH;
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
