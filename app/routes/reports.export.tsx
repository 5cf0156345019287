import { readerOf } from "~/context";
import { protectedLoader } from "~/auth/guard.server";
import { localeOf } from "~/i18n/locale.server";
import { AppError } from "~/lib/errors";
import { checkedReportQuery, csvResponse, parseReportQuery, reportCsvParts, reportRoleChoices, tableCsv } from "~/modules/reports/tables.server";

/**
 * A report as CSV: the same rows, headers and language as the page (app/routes/reports.tsx) shows. The access report
 * with no participant or role is the whole market (what the page asks to narrow before listing), streamed as it is
 * read.
 */
export const loader = /* @__PURE__ */ protectedLoader("report:read", async ({ ctx: primary, request, context }) => {
  // Read from the read replica when one is configured (DATABASE_READ_URL).
  const ctx = { ...primary, db: readerOf(context) };
  const locale = await localeOf(request);
  const parsed = parseReportQuery(new URL(request.url).searchParams);
  const query = await checkedReportQuery(ctx, parsed, parsed.report === "access" ? await reportRoleChoices(ctx, locale) : []);
  // A filter that cannot be read does not silently widen the download to everything.
  if (Object.keys(query.invalid).length > 0) throw new AppError(400, "error.badRequest", query.invalid);
  const { headers, parts } = await reportCsvParts(ctx, query, locale);
  const name = ["report", query.report, query.participantId, query.roleCode].filter(Boolean).join("-");
  return csvResponse(tableCsv(headers, parts), name);
});
