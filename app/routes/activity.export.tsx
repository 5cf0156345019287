import { readerOf } from "~/context";
import { protectedLoader } from "~/auth/guard.server";
import { exportAudit, parseAuditFilters, type ExportFormat } from "~/modules/audit/explorer.server";

/** Streams the explorer's filtered view as CSV or JSON lines; the export is itself an audit event. */
export const loader = /* @__PURE__ */ protectedLoader("audit:export", async ({ ctx, request, context }) => {
  const params = new URL(request.url).searchParams;
  const format: ExportFormat = params.get("format") === "jsonl" ? "jsonl" : "csv";
  // The rows come from the read replica when one is configured (DATABASE_READ_URL); the export's event is written on the primary.
  // The next batch is made only once the client has taken the last (the response's backpressure): memory stays flat.
  const stream = await exportAudit(ctx, parseAuditFilters(params), format, 1000, readerOf(context), context.responseRoom);
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  return new Response(stream, {
    headers: {
      "Content-Type": format === "csv" ? "text/csv; charset=utf-8" : "application/x-ndjson; charset=utf-8",
      "Content-Disposition": `attachment; filename="audit-${stamp}.${format === "csv" ? "csv" : "jsonl"}"`,
      "Cache-Control": "no-store",
    },
  });
});
