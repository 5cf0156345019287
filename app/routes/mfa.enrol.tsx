import { json } from "@remix-run/node";
import { useLoaderData } from "@remix-run/react";
import { protectedAction, protectedLoader } from "~/auth/guard.server";
import { enrolmentOffer } from "~/auth/second-factor.server";
import { secondFactorPageRedirect, submitSecondFactor } from "~/auth/second-factor-form.server";
import { TOTP_DIGITS, TOTP_PERIOD_SECONDS } from "~/auth/totp";
import { SecondFactorForm } from "~/components/second-factor-form";
import { useI18n } from "~/i18n/use-i18n";
import { AppError } from "~/lib/errors";
import { pageHeaders } from "~/lib/headers";
import { titled } from "~/lib/meta";

export const headers = pageHeaders;
export const meta = titled("mfa.enrolTitle");

/**
 * Enrolment of the second factor, before a new (or reset) user can do anything else: the key offered for this
 * sign-in, as a QR code and as text, and a code that proves the authenticator has it. The key is shown only here,
 * to the session it was made for, and never again.
 */
export const loader = /* @__PURE__ */ protectedLoader("session", async ({ request, context, auth }) => {
  const elsewhere = secondFactorPageRedirect(request, auth, "enrol");
  if (elsewhere) throw elsewhere;
  const offer = await enrolmentOffer(context.db, auth.sessionId);
  if (!offer) throw new AppError(404, "error.notFound");
  return json(offer);
});

export const action = /* @__PURE__ */ protectedAction("session", (args) => submitSecondFactor(args, args.auth));

export default function EnrolSecondFactor() {
  const { t } = useI18n();
  const offer = useLoaderData<typeof loader>();
  return (
    <div className="sign-in">
      <section className="panel" aria-labelledby="mfa-title">
        <h1 id="mfa-title">{t("mfa.enrolTitle")}</h1>
        <p>{t("mfa.enrolIntro")}</p>
        <ol className="steps-list">
          <li>{t("mfa.enrolStepApp")}</li>
          <li>
            {t("mfa.enrolStepScan")}
            <img className="qr-code" src={offer.qrImage} alt={t("mfa.qrLabel", { account: offer.account })} width={192} height={192} />
            <dl className="facts">
              <dt>{t("mfa.account")}</dt>
              <dd>{offer.account}</dd>
              <dt>{t("mfa.key")}</dt>
              <dd>
                <code id="totp-key" className="totp-key">{offer.key}</code>
              </dd>
              <dt>{t("mfa.keyType")}</dt>
              <dd>{t("mfa.keyTypeValue", { digits: TOTP_DIGITS, seconds: TOTP_PERIOD_SECONDS })}</dd>
            </dl>
          </li>
          <li>{t("mfa.enrolStepCode")}</li>
        </ol>
        <SecondFactorForm submitKey="mfa.enrolSubmit" />
      </section>
    </div>
  );
}
