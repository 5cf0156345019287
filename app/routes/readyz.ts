import { json } from "@remix-run/node";
import { publicLoader } from "~/auth/guard.server";
import { checkReadiness } from "~/modules/health/service.server";

/** Readiness: the database answers and is migrated. */
export const loader = /* @__PURE__ */ publicLoader(async ({ context }) => {
  const result = await checkReadiness(context.db);
  return json(
    result.ready ? { status: "ready" } : { status: "not-ready" },
    { status: result.ready ? 200 : 503, headers: { "Cache-Control": "no-store" } },
  );
});
