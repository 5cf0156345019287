import { protectedLoader } from "~/auth/guard.server";
import { dashboardCsv, getDashboard, STATE_FILTERS, type StateFilter } from "~/modules/rollouts/views.server";

/** The rollout's dashboard as CSV: one line per participant (of the filter), its state and why. */
export const loader = /* @__PURE__ */ protectedLoader("rollout:read", async ({ ctx, params, request }) => {
  const value = new URL(request.url).searchParams.get("state") ?? "all";
  const filter = (STATE_FILTERS as readonly string[]).includes(value) ? (value as StateFilter) : "all";
  const dashboard = await getDashboard(ctx, params.rolloutId ?? "", filter);
  return new Response(dashboardCsv(dashboard), {
    headers: {
      "Content-Type": "text/csv; charset=utf-8",
      "Content-Disposition": `attachment; filename="rollout-${dashboard.rollout.id}-readiness.csv"`,
      "Cache-Control": "no-store",
    },
  });
});
