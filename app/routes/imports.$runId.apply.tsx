import { redirect } from "@remix-run/node";
import { protectedAction, publicLoader } from "~/auth/guard.server";
import { AppError } from "~/lib/errors";
import { applyImport } from "~/modules/users/import.server";

export const loader = /* @__PURE__ */ publicLoader(async ({ params }) => redirect(`/imports/${params.runId ?? ""}`));

/**
 * Applies a checked import. A browser running the page's script asks for NDJSON and gets progress lines as the
 * single transaction advances; without the script the post waits and comes back to the run's page.
 */
export const action = /* @__PURE__ */ protectedAction("user:import", async ({ ctx, params, request, context }) => {
  const runId = params.runId ?? "";
  if (!(request.headers.get("Accept") ?? "").includes("application/x-ndjson")) {
    await applyImport(ctx, { runId });
    return redirect(`/imports/${runId}`);
  }
  const encoder = new TextEncoder();
  const stream = new ReadableStream<Uint8Array>({
    async start(controller) {
      const send = (message: object) => controller.enqueue(encoder.encode(`${JSON.stringify(message)}\n`));
      let last = 0;
      try {
        const run = await applyImport(ctx, { runId, progress: (phase, done, total) => {
          // Checking is the first half of the bar, writing the second.
          const value = phase === "checking" ? done / 2 : phase === "writing" ? total / 2 + done / 2 : total;
          if (phase === "done" || value - last >= total / 50) {
            last = value;
            send({ phase, done: Math.round(value), total });
          }
        } });
        send({ phase: "done", done: run.rowCount, total: run.rowCount });
      } catch (error) {
        if (error instanceof AppError) {
          send({ phase: "error", done: 0, total: 0, messageKey: error.messageKey, params: error.params });
        } else {
          context.logger.error({ err: error }, "import failed");
          send({ phase: "error", done: 0, total: 0, messageKey: "error.generic", params: { requestId: context.requestId } });
        }
      }
      controller.close();
    },
  });
  return new Response(stream, { headers: { "Content-Type": "application/x-ndjson; charset=utf-8", "Cache-Control": "no-store" } });
});
