import { json } from "@remix-run/node";
import { publicLoader } from "~/auth/guard.server";
import { serveSimulator } from "~/modules/certification/simulator.server";

/**
 * The simulator environment's API (Developer Corner): open to the network like the gateway it stands for, and
 * authenticated by the participant's JWT signed with a registered simulator key — never a console session.
 */
export const loader = /* @__PURE__ */ publicLoader(async ({ context, params, request }) => {
  const url = new URL(request.url);
  const answer = await serveSimulator(context.db, {
    resource: params.resource ?? "",
    authorization: request.headers.get("Authorization"),
    requestId: context.requestId,
    after: url.searchParams.get("after"),
    limit: url.searchParams.get("limit"),
    ncp: url.searchParams.get("ncp"),
  });
  return json(answer.body, { status: answer.status, headers: answer.headers });
});
