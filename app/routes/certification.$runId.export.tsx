import { protectedLoader } from "~/auth/guard.server";
import { runCsv } from "~/modules/certification/service.server";

/** A run as CSV, one row per attempt, for the officer's file (a UTF-8 byte order mark so spreadsheets read the Chinese titles). */
export const loader = /* @__PURE__ */ protectedLoader("certification:read", async ({ ctx, params }) => {
  const { filename, body } = await runCsv(ctx, params.runId ?? "");
  return new Response(`\uFEFF${body}`, {
    headers: {
      "Content-Type": "text/csv; charset=utf-8",
      "Content-Disposition": `attachment; filename="${filename.replace(/[^A-Za-z0-9._-]/g, "_")}"`,
      "Cache-Control": "no-store",
    },
  });
});
