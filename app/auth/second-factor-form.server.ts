import { json, redirect, type ActionFunctionArgs } from "@remix-run/node";
import type { MessageKey } from "~/i18n/messages";
import { AppError } from "~/lib/errors";
import type { Submission } from "~/lib/forms";
import type { FailureData } from "./guard.server";
import { luciaFor } from "./lucia.server";
import { safeRedirectPath, withComeBack } from "./rules";
import { verifySecondFactor } from "./second-factor.server";
import { signInEnvOf } from "./sign-in.server";
import type { Authenticated } from "./session.server";
import { codeDigits } from "./totp.server";

/** Where a session at the second factor belongs, or null if it is on the right page already. */
export function secondFactorPageRedirect(request: Request, auth: Authenticated, page: "verify" | "enrol"): Response | null {
  const redirectTo = new URL(request.url).searchParams.get("redirectTo");
  if (auth.secondFactor === "verified") return redirect(safeRedirectPath(redirectTo));
  if (auth.secondFactor !== page) return redirect(withComeBack(`/mfa/${auth.secondFactor}`, redirectTo));
  return null;
}

/**
 * The code form of both second-factor pages. A code that is not six digits is bad input (a field message, nothing
 * counted); a wrong or reused code counts against the sign-in; too many, and it starts again at the password.
 */
export async function submitSecondFactor(
  { context, form }: ActionFunctionArgs & { form: Submission },
  auth: Authenticated,
): Promise<Response> {
  const redirectTo = safeRedirectPath(form.value("redirectTo"));
  if (auth.secondFactor === "verified") return redirect(redirectTo);
  const typed = form.value("code") ?? "";
  if (typed.trim() === "") throw new AppError(400, "error.badRequest", { code: "validation.required" });
  const code = codeDigits(typed);
  if (!code) throw new AppError(400, "error.badRequest", { code: "mfa.codeFormat" });

  const result = await verifySecondFactor(
    signInEnvOf(context),
    auth.sessionId,
    code,
  );
  if (result.ok) return redirect(redirectTo, { headers: { "Set-Cookie": result.setCookie } });
  if (result.reason === "start-again") {
    const blank = luciaFor(context.db, context.config.cookieSecure).createBlankSessionCookie().serialize();
    return redirect("/login?secondFactorFailed=1", { headers: { "Set-Cookie": blank } });
  }
  if (result.reason === "throttled") {
    const body: FailureData = { ok: false, messageKey: "signIn.throttled", fieldErrors: {}, params: { seconds: result.retryAfterSeconds }, values: {} };
    return json(body, { status: 429, headers: { "Retry-After": String(result.retryAfterSeconds) } });
  }
  const fieldKey: MessageKey = result.reason === "code-already-used" ? "mfa.codeUsed" : "mfa.wrongCode";
  const body: FailureData = {
    ok: false,
    messageKey: "error.badRequest",
    fieldErrors: { code: fieldKey },
    params: { attemptsLeft: result.attemptsLeft },
    values: {},
  };
  return json(body, { status: 400 });
}
