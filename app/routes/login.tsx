import { json, redirect } from "@remix-run/node";
import { useEffect, useRef } from "react";
import { Form, useActionData, useLoaderData, useNavigation, useSearchParams } from "@remix-run/react";
import { z } from "zod";
import { publicAction, publicLoader } from "~/auth/guard.server";
import { safeRedirectPath, withComeBack } from "~/auth/rules";
import { signIn, signInEnvOf } from "~/auth/sign-in.server";
import { DEMO_TOTP_SECRET } from "~/auth/totp.server";
import { TextField } from "~/components/field";
import { useI18n } from "~/i18n/use-i18n";
import type { MessageKey } from "~/i18n/messages";
import { parseForm } from "~/lib/forms";
import { DEMO_ACCOUNTS, DEMO_PASSWORD } from "~/modules/demo";
import { pageHeaders } from "~/lib/headers";
import { titled } from "~/lib/meta";

export const meta = titled("signIn.title");

// Not stored, and a throttled attempt's Retry-After kept for a document POST (no JavaScript).
export const headers = pageHeaders;

export const loader = /* @__PURE__ */ publicLoader(async ({ request, context, auth }) => {
  const url = new URL(request.url);
  if (auth) throw redirect(safeRedirectPath(url.searchParams.get("redirectTo")));
  return json({
    demoAccounts: context.config.demoMode ? DEMO_ACCOUNTS : [],
    demoPassword: context.config.demoMode ? DEMO_PASSWORD : null,
    demoKey: context.config.demoMode ? DEMO_TOTP_SECRET : null,
    signedOut: url.searchParams.get("signedOut") === "1",
    notice: url.searchParams.get("activated") === "1" ? ("signIn.activated" as const) : url.searchParams.get("passwordReset") === "1" ? ("signIn.passwordReset" as const) : null,
    secondFactorFailed: url.searchParams.get("secondFactorFailed") === "1",
  });
});

const SignInForm = z.object({
  email: z
    .string({ error: "validation.required" })
    .trim()
    .min(1, { error: "validation.required" })
    .max(254, { error: "validation.tooLong" }),
  password: z
    .string({ error: "validation.required" })
    .min(1, { error: "validation.required" })
    .max(1024, { error: "validation.tooLong" }),
  redirectTo: z.string().optional(),
});

export const action = /* @__PURE__ */ publicAction(async ({ context, form: submitted }) => {
  const form = parseForm(SignInForm, submitted);
  const result = await signIn(
    signInEnvOf(context),
    { email: form.email, password: form.password },
  );
  if (result.ok) {
    // The password is only the first step: the second factor (or its enrolment) comes next, then the page asked for.
    const next = withComeBack(`/mfa/${result.next}`, safeRedirectPath(form.redirectTo));
    return redirect(next, { headers: { "Set-Cookie": result.setCookie } });
  }
  if (result.reason === "throttled") {
    return json(
      {
        ok: false as const,
        messageKey: "signIn.throttled" as MessageKey,
        params: { seconds: result.retryAfterSeconds },
        fieldErrors: {},
      },
      { status: 429, headers: { "Retry-After": String(result.retryAfterSeconds) } },
    );
  }
  return json(
    { ok: false as const, messageKey: "signIn.invalid" as MessageKey, params: {}, fieldErrors: {} },
    { status: 401 },
  );
});

export default function SignIn() {
  const { t } = useI18n();
  const data = useLoaderData<typeof loader>();
  const failure = useActionData<typeof action>();
  const [params] = useSearchParams();
  const navigation = useNavigation();
  const errorRef = useRef<HTMLParagraphElement>(null);
  // A failed sign-in takes focus to its message: the submit button was disabled while sending, which drops focus.
  useEffect(() => {
    errorRef.current?.focus();
  }, [failure]);
  const fieldErrors = (failure && "fieldErrors" in failure ? failure.fieldErrors : {}) as Partial<
    Record<string, MessageKey>
  >;
  const formMessage =
    failure && "messageKey" in failure && failure.messageKey !== "error.badRequest"
      ? t(failure.messageKey, failure.params)
      : null;
  return (
    <div className="sign-in">
      <section className="panel" aria-labelledby="sign-in-title">
        <h1 id="sign-in-title">{t("signIn.title")}</h1>
        <p>{t("signIn.intro")}</p>
        {data.signedOut ? <p role="status" className="notice">{t("signIn.signedOut")}</p> : null}
        {data.notice ? <p role="status" className="notice">{t(data.notice)}</p> : null}
        {data.secondFactorFailed ? <p role="alert" className="form-error">{t("signIn.secondFactorFailed")}</p> : null}
        {formMessage ? (
          <p role="alert" className="form-error" tabIndex={-1} ref={errorRef}>
            {formMessage}
          </p>
        ) : null}
        <Form method="post" noValidate>
          <input type="hidden" name="redirectTo" value={params.get("redirectTo") ?? "/"} />
          <TextField
            name="email"
            type="email"
            label={t("signIn.email")}
            autoComplete="username"
            required
            autoFocus
            error={fieldErrors.email ? t(fieldErrors.email) : undefined}
          />
          <TextField
            name="password"
            type="password"
            label={t("signIn.password")}
            autoComplete="current-password"
            required
            error={fieldErrors.password ? t(fieldErrors.password) : undefined}
          />
          <button type="submit" className="button primary" disabled={navigation.state === "submitting"}>
            {t("signIn.submit")}
          </button>
        </Form>
      </section>
      {data.demoAccounts.length > 0 && data.demoPassword ? (
        <section className="panel demo" aria-labelledby="demo-title">
          <h2 id="demo-title">{t("signIn.demoTitle")}</h2>
          <p>{t("signIn.demoHint", { password: data.demoPassword })}</p>
          {data.demoKey ? <p>{t("mfa.demoHint", { key: data.demoKey })}</p> : null}
          <ul>
            {data.demoAccounts.map((a) => (
              <li key={a.email}>
                <code>{a.email}</code> — {t(`persona.${a.persona}` as MessageKey)}
                {a.participantId ? ` (${a.participantId})` : ""}
              </li>
            ))}
          </ul>
        </section>
      ) : null}
    </div>
  );
}
