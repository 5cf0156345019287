import { json } from "@remix-run/node";
import { Link, useActionData, useLoaderData } from "@remix-run/react";
import { intent, intentAction, protectedLoader } from "~/auth/guard.server";
import { IntentForm, useEchoedValue } from "~/components/field";
import { asFailure, FormMessage, fieldMessage } from "~/components/form-feedback";
import { useI18n } from "~/i18n/use-i18n";
import { titled } from "~/lib/meta";
import { ResultsMatrix, RunFacts, runData } from "~/components/certification";
import { confirmRun, decideCertification, getRun, recordResult, returnSubmittedRun, submitRun } from "~/modules/certification/service.server";

export const meta = titled("cert.run");

export const loader = /* @__PURE__ */ protectedLoader("certification:read", async ({ ctx, params }) => {
  const view = await getRun(ctx, params.runId ?? "");
  return json({ ...runData(view), can: view.can });
});

const ok = (intentName: string) => json({ ok: true as const, intent: intentName });

export const action = /* @__PURE__ */ intentAction({
  record: /* @__PURE__ */ intent(recordResult, async ({ ctx, params, form }) => {
    await recordResult(ctx, {
      runId: params.runId ?? "",
      caseCode: form.value("caseCode") ?? "",
      outcome: form.value("outcome") ?? "",
      evidence: form.value("evidence") ?? "",
      jwtCheck: form.value("jwtCheck"),
    });
    return ok("record");
  }),
  submit: /* @__PURE__ */ intent(submitRun, async ({ ctx, params }) => {
    await submitRun(ctx, { runId: params.runId ?? "" });
    return ok("submit");
  }),
  confirm: /* @__PURE__ */ intent(confirmRun, async ({ ctx, params }) => {
    await confirmRun(ctx, { runId: params.runId ?? "" });
    return ok("confirm");
  }),
  "checker-return": /* @__PURE__ */ intent(returnSubmittedRun, async ({ ctx, params, form }) => {
    await returnSubmittedRun(ctx, { runId: params.runId ?? "", reason: form.value("reason") ?? "" });
    return ok("checker-return");
  }),
  decide: /* @__PURE__ */ intent(decideCertification, async ({ ctx, params, form }) => {
    const decision = form.value("decision") ?? "";
    await decideCertification(ctx, { runId: params.runId ?? "", decision, declaration: form.value("declaration") ?? "", reason: form.value("reason") ?? "" } as never);
    return ok("decide");
  }),
});

function ReasonField({ id, name, label, defaultValue, error }: { id: string; name: string; label: string; defaultValue?: string; error?: string }) {
  const echoed = useEchoedValue(name);
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <textarea id={id} name={name} rows={3} required defaultValue={echoed ?? defaultValue} aria-invalid={error ? true : undefined} aria-describedby={error ? `${id}-error` : undefined} />
      {error ? (
        <p className="field-error" id={`${id}-error`}>
          {error}
        </p>
      ) : null}
    </div>
  );
}

export default function CertificationRun() {
  const { t, locale } = useI18n();
  const data = useLoaderData<typeof loader>();
  const failure = asFailure(useActionData<typeof action>());
  const failedIntent = failure?.values.intent;
  const err = (intentName: string, name: string) => (failedIntent === intentName ? fieldMessage(failure, name, t) : undefined);
  const message = (intentName: string) => (failedIntent === intentName ? <FormMessage failure={failure} /> : null);
  const can = data.can;
  return (
    <>
      <p className="no-print">
        <Link to="/certification">{t("cert.runs")}</Link>
      </p>
      <section className="panel" aria-labelledby="run-title">
        <h1 id="run-title">{t("cert.runOf", { participant: data.participant.id })}</h1>
        <RunFacts data={data} />
        <p>
          <a href={`/certification/${data.run.id}/export`} className="spaced">
            {t("cert.export")}
          </a>
          <Link to={`/certification/${data.run.id}/summary`} className="spaced">
            {t("cert.print")}
          </Link>
        </p>
      </section>

      <ResultsMatrix data={data} />

      {can.record ? (
        <section className="panel" aria-labelledby="record-title">
          <h2 id="record-title">{t("cert.record")}</h2>
          <IntentForm intent="record" className="stacked-form">
            {message("record")}
            <div className="field">
              <label htmlFor="record-case">{t("cert.case")}</label>
              <select id="record-case" name="caseCode">
                {data.cases.map((c) => (
                  <option key={c.code} value={c.code}>
                    {c.code} · {locale === "zh-HK" ? c.titleZh : c.titleEn} ({c.mandatory ? t("cert.mandatory") : t("cert.optional")})
                  </option>
                ))}
              </select>
              {err("record", "caseCode") ? <p className="field-error">{err("record", "caseCode")}</p> : null}
            </div>
            <div className="field">
              <label htmlFor="record-outcome">{t("cert.outcome")}</label>
              <select id="record-outcome" name="outcome">
                {(["passed", "failed", "blocked", "not_applicable"] as const).map((o) => (
                  <option key={o} value={o}>
                    {t(`cert.outcome.${o}`)}
                  </option>
                ))}
              </select>
            </div>
            <ReasonField id="record-evidence" name="evidence" label={t("cert.evidence")} error={err("record", "evidence")} />
            <div className="field">
              <label htmlFor="record-jwt">
                {t("cert.jwtCheck")} <span className="muted">({t("participants.optional")})</span>
              </label>
              <textarea id="record-jwt" name="jwtCheck" rows={2} />
            </div>
            <button type="submit" className="button primary">
              {t("cert.recordButton")}
            </button>
          </IntentForm>
        </section>
      ) : null}

      {can.submit ? (
        <section className="panel" aria-labelledby="submit-title">
          <h2 id="submit-title">{t("cert.submit")}</h2>
          <p className="hint">{t("cert.submitHint")}</p>
          <IntentForm intent="submit">
            {message("submit")}
            <button type="submit" className="button primary">
              {t("cert.submit")}
            </button>
          </IntentForm>
        </section>
      ) : null}

      {can.submitLater ? (
        <section className="panel" aria-labelledby="submit-later-title">
          <h2 id="submit-later-title">{t("cert.submit")}</h2>
          <p>{t("cert.submitHint")}</p>
          <p>{t("cert.missing", { cases: data.missing.join(", ") })}</p>
        </section>
      ) : null}

      {can.confirm || can.checkerReturn ? (
        <section className="panel" aria-labelledby="confirm-title">
          <h2 id="confirm-title">{t("cert.confirm")}</h2>
          <p className="hint">{t("cert.confirmHint")}</p>
          {can.confirm ? (
            <IntentForm intent="confirm">
              {message("confirm")}
              <button type="submit" className="button primary">
                {t("cert.confirm")}
              </button>
            </IntentForm>
          ) : null}
          {can.checkerReturn ? (
            <IntentForm intent="checker-return" className="stacked-form">
              {message("checker-return")}
              <ReasonField id="checker-reason" name="reason" label={t("cert.returnReason")} error={err("checker-return", "reason")} />
              <button type="submit" className="button secondary">
                {t("cert.return")}
              </button>
            </IntentForm>
          ) : null}
        </section>
      ) : null}

      {can.decide || can.officerReturn ? (
        <section className="panel" aria-labelledby="decide-title">
          <h2 id="decide-title">{t("cert.signOff")}</h2>
          {can.decide ? (
            <IntentForm intent="decide" className="stacked-form">
              <input type="hidden" name="decision" value="sign_off" />
              {message("decide")}
              <ReasonField id="decide-declaration" name="declaration" label={t("cert.declaration")} defaultValue={t("cert.declarationDefault")} error={err("decide", "declaration")} />
              <button type="submit" className="button primary">
                {t("cert.signOff")}
              </button>
            </IntentForm>
          ) : null}
          {can.officerReturn ? (
            <IntentForm intent="decide" className="stacked-form">
              <input type="hidden" name="decision" value="return" />
              <ReasonField id="decide-reason" name="reason" label={t("cert.returnReason")} error={err("decide", "reason")} />
              <button type="submit" className="button secondary">
                {t("cert.return")}
              </button>
            </IntentForm>
          ) : null}
        </section>
      ) : null}
    </>
  );
}
