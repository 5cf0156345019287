import { json } from "@remix-run/node";
import { publicLoader } from "~/auth/guard.server";

/** Liveness: the process answers. */
export const loader = /* @__PURE__ */ publicLoader(async () => json({ status: "ok" }, { headers: { "Cache-Control": "no-store" } }));
