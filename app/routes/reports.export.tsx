import { readerOf } from "~/context";
import { protectedLoader } from "~/auth/guard.server";
import { localeOf } from "~/i18n/locale.server";
import { csvResponse, parseReportQuery, reportTable, tableCsv } from "~/modules/reports/tables.server";

/** A report as CSV: the same rows, headers and language as the page (app/routes/reports.tsx) shows. */
export const loader = /* @__PURE__ */ protectedLoader("report:read", async ({ ctx, request, context }) => {
  const query = parseReportQuery(new URL(request.url).searchParams);
  // Read from the read replica when one is configured (DATABASE_READ_URL).
  const table = await reportTable({ ...ctx, db: readerOf(context) }, query, await localeOf(request));
  return csvResponse(tableCsv(table.headers, table.rows.map((r) => r.cells)), `report-${query.report}${query.participantId ? `-${query.participantId}` : ""}`);
});
