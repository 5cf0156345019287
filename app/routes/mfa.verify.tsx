import { json } from "@remix-run/node";
import { useLoaderData } from "@remix-run/react";
import { protectedAction, protectedLoader } from "~/auth/guard.server";
import { secondFactorPageRedirect, submitSecondFactor } from "~/auth/second-factor-form.server";
import { DEMO_TOTP_SECRET } from "~/auth/totp.server";
import { SecondFactorForm } from "~/components/second-factor-form";
import { useI18n } from "~/i18n/use-i18n";
import { pageHeaders } from "~/lib/headers";
import { titled } from "~/lib/meta";

export const headers = pageHeaders;
export const meta = titled("mfa.verifyTitle");

/** The second step of signing in for an enrolled user: a code from their authenticator. */
export const loader = /* @__PURE__ */ protectedLoader("session", async ({ request, context, auth }) => {
  const elsewhere = secondFactorPageRedirect(request, auth, "verify");
  if (elsewhere) throw elsewhere;
  return json({
    email: auth.actor.email ?? "",
    demoKey: context.config.demoMode ? DEMO_TOTP_SECRET : null,
  });
});

export const action = /* @__PURE__ */ protectedAction("session", (args) => submitSecondFactor(args, args.auth));

export default function VerifySecondFactor() {
  const { t } = useI18n();
  const data = useLoaderData<typeof loader>();
  return (
    <div className="sign-in">
      <section className="panel" aria-labelledby="mfa-title">
        <h1 id="mfa-title">{t("mfa.verifyTitle")}</h1>
        <p>{t("mfa.verifyIntro", { email: data.email })}</p>
        <SecondFactorForm submitKey="mfa.verifySubmit" />
        <p className="muted">{t("mfa.lostAuthenticator")}</p>
      </section>
      {data.demoKey ? (
        <section className="panel demo" aria-labelledby="demo-title">
          <h2 id="demo-title">{t("signIn.demoTitle")}</h2>
          <p>{t("mfa.demoHint", { key: data.demoKey })}</p>
        </section>
      ) : null}
    </div>
  );
}
