import { protectedLoader } from "~/auth/guard.server";
import { localeOf } from "~/i18n/locale.server";
import { campaignOutcomeTable } from "~/modules/reviews/outcome.server";
import { csvResponse, tableCsv } from "~/modules/reports/tables.server";

/** An access-review campaign's outcome as CSV, the items the reader may see, in the reader's language. */
export const loader = /* @__PURE__ */ protectedLoader("review:read", async ({ ctx, params, request }) => {
  const table = await campaignOutcomeTable(ctx, params.campaignId ?? "", await localeOf(request));
  return csvResponse(tableCsv(table.headers, table.rows), `access-review-${params.campaignId ?? ""}`);
});
