import { redirect } from "@remix-run/node";
import { protectedAction, publicLoader } from "~/auth/guard.server";
import { signOut } from "~/auth/sign-in.server";

/** Signing out is a POST (a link could be followed by anyone; a session still at the second factor may give up this way); a GET just goes home. */
export const loader = /* @__PURE__ */ publicLoader(async () => redirect("/"));

export const action = /* @__PURE__ */ protectedAction("session", async ({ context, auth }) => {
  const setCookie = await signOut(
    {
      db: context.db,
      secureCookie: context.config.cookieSecure,
      requestId: context.requestId,
      ip: context.clientIp,
      userAgent: context.userAgent,
    },
    auth.actor,
  );
  return redirect("/login?signedOut=1", { headers: { "Set-Cookie": setCookie } });
});
