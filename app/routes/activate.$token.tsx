import { json, redirect } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData, useNavigation } from "@remix-run/react";
import { publicAction, publicLoader } from "~/auth/guard.server";
import { MIN_PASSWORD_LENGTH } from "~/auth/password-policy";
import { TextField } from "~/components/field";
import { asFailure, FormMessage, fieldMessage } from "~/components/form-feedback";
import { useI18n } from "~/i18n/use-i18n";
import { titled } from "~/lib/meta";
import { ANONYMOUS_ACTOR } from "~/modules/context.server";
import { inspectLink, redeemLink } from "~/modules/users/links.server";

export const meta = titled("link.title");

/**
 * A one-time activation or password-reset link. Open to anyone holding it: the token is the credential. Unknown,
 * used, voided and expired links all answer the same.
 */
export const loader = /* @__PURE__ */ publicLoader(async ({ context, params }) => {
  const state = await inspectLink(context.db, params.token ?? "");
  return json({ valid: state.valid, purpose: state.valid ? state.purpose : null, email: state.valid ? state.email : null });
});

export const action = /* @__PURE__ */ publicAction(async ({ context, params, form }) => {
  const { purpose } = await redeemLink(
    { db: context.db, actor: ANONYMOUS_ACTOR, requestId: context.requestId, ip: context.clientIp, userAgent: context.userAgent },
    { token: params.token ?? "", password: form.value("password") ?? "", confirmation: form.value("confirmation") ?? "" },
  );
  return redirect(`/login?${purpose === "invitation" ? "activated" : "passwordReset"}=1`);
});

export default function Activate() {
  const { t } = useI18n();
  const data = useLoaderData<typeof loader>();
  const failure = asFailure(useActionData<typeof action>());
  const navigation = useNavigation();
  if (!data.valid) {
    return (
      <section className="panel" aria-labelledby="link-title">
        <h1 id="link-title">{t("link.title")}</h1>
        <p role="alert" className="form-error">
          {t("link.invalid")}
        </p>
        <p>
          <Link to="/login">{t("signIn.title")}</Link>
        </p>
      </section>
    );
  }
  return (
    <section className="panel" aria-labelledby="link-title">
      <h1 id="link-title">{data.purpose === "invitation" ? t("link.activateTitle") : t("link.resetTitle")}</h1>
      <p>{t("link.intro", { email: data.email ?? "", min: MIN_PASSWORD_LENGTH })}</p>
      <Form method="post" noValidate className="stacked-form">
        <FormMessage failure={failure && failure.messageKey !== "error.badRequest" ? failure : null} />
        <TextField name="password" type="password" label={t("link.password")} autoComplete="new-password" required error={fieldMessage(failure, "password", t)} />
        <TextField name="confirmation" type="password" label={t("link.confirmation")} autoComplete="new-password" required error={fieldMessage(failure, "confirmation", t)} />
        <button type="submit" className="button primary" disabled={navigation.state === "submitting"}>
          {t("link.submit")}
        </button>
      </Form>
    </section>
  );
}
