import { json } from "@remix-run/node";
import { publicLoader } from "~/auth/guard.server";
import { jwks } from "~/modules/credentials/service.server";

const ENVIRONMENTS = ["simulator", "test", "production"] as const;

/**
 * The JWKS of an environment, for the OCP API gateway: public keys only, those valid now. Public by design — a JWKS
 * holds nothing secret — and cacheable for a minute, so a revocation reaches the gateway within that.
 */
export const loader = /* @__PURE__ */ publicLoader(async ({ context, params }) => {
  const environment = (params.environment ?? "").replace(/\.json$/, "");
  if (!(ENVIRONMENTS as readonly string[]).includes(environment)) {
    throw json({ error: "unknown environment" }, { status: 404 });
  }
  return json(await jwks(context.db, environment as (typeof ENVIRONMENTS)[number]), {
    headers: { "Cache-Control": "public, max-age=60", "Content-Type": "application/jwk-set+json; charset=utf-8" },
  });
});
