import { protectedLoader } from "~/auth/guard.server";
import { getImportRun, importReportCsv } from "~/modules/users/import.server";

/** The import's report as CSV: one line per row of the file, with what happened to it. */
export const loader = /* @__PURE__ */ protectedLoader("user:read", async ({ ctx, params }) => {
  const run = await getImportRun(ctx, params.runId ?? "");
  const name = run.fileName.replace(/\.csv$/i, "").replace(/[^A-Za-z0-9._-]+/g, "_");
  return new Response(importReportCsv(run), {
    headers: {
      "Content-Type": "text/csv; charset=utf-8",
      "Content-Disposition": `attachment; filename="${name}-report.csv"`,
      "Cache-Control": "no-store",
    },
  });
});
