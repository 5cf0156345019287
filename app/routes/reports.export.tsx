import { protectedLoader } from "~/auth/guard.server";
import { localeOf } from "~/i18n/locale.server";
import { csvResponse, parseReportQuery, reportTable, tableCsv } from "~/modules/reports/tables.server";

/** A report as CSV: the same rows, headers and language as the page (app/routes/reports.tsx) shows. */
export const loader = /* @__PURE__ */ protectedLoader("report:read", async ({ ctx, request }) => {
  const query = parseReportQuery(new URL(request.url).searchParams);
  const table = await reportTable(ctx, query, await localeOf(request));
  return csvResponse(tableCsv(table.headers, table.rows.map((r) => r.cells)), `report-${query.report}${query.participantId ? `-${query.participantId}` : ""}`);
});
