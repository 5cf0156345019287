import { json, redirect } from "@remix-run/node";
import { Link, useActionData, useLoaderData } from "@remix-run/react";
import { intent, intentAction, protectedLoader } from "~/auth/guard.server";
import { IntentForm, TextField } from "~/components/field";
import { asFailure, FormMessage, fieldMessage } from "~/components/form-feedback";
import { useI18n } from "~/i18n/use-i18n";
import type { MessageKey } from "~/i18n/messages";
import { titled } from "~/lib/meta";
import { certificationStatusOf, clientsForRun, declareProgramVersion, listRuns, startRun } from "~/modules/certification/service.server";
import { mayOn } from "~/modules/tenancy.server";

export const meta = titled("cert.title");

export const loader = /* @__PURE__ */ protectedLoader("certification:read", async ({ ctx, request }) => {
  const own = ctx.actor.participantId;
  const filter = new URL(request.url).searchParams.get("participant") ?? undefined;
  const runs = await listRuns(ctx, own ?? (filter && /^[A-Z][0-9]{5}$/.test(filter) ? filter : undefined));
  const canStart = own !== null && mayOn(ctx.actor, "certification:create", own);
  const clients = canStart && own ? await clientsForRun(ctx.db, own, new Date()) : [];
  const status = own ? await certificationStatusOf(ctx.db, own) : null;
  return json({
    participantId: own,
    status,
    canStart,
    clients,
    runs: runs.map((r) => ({ ...r, startedAt: r.startedAt.toISOString(), decidedAt: r.decidedAt?.toISOString() ?? null })),
  });
});

export const action = /* @__PURE__ */ intentAction({
  start: /* @__PURE__ */ intent(startRun, async ({ ctx, form }) => {
    const clientId = form.value("apiClientId") ?? "";
    const run = await startRun(ctx, {
      participantId: ctx.actor.participantId ?? "",
      environment: form.value("environment") ?? "",
      apiClientId: clientId,
      programName: form.value("programName") ?? "",
      programVersion: form.value("programVersion") ?? "",
      vendor: form.value("vendor"),
    });
    return redirect(`/certification/${run.id}`);
  }),
  version: /* @__PURE__ */ intent(declareProgramVersion, async ({ ctx, form }) => {
    await declareProgramVersion(ctx, { participantId: ctx.actor.participantId ?? "", programVersion: form.value("newProgramVersion") ?? "" });
    return redirect("/certification");
  }),
});

export default function CertificationRuns() {
  const { t, time } = useI18n();
  const data = useLoaderData<typeof loader>();
  const failure = asFailure(useActionData<typeof action>());
  const failedIntent = failure?.values.intent;
  const err = (intentName: string, name: string) => (failedIntent === intentName ? fieldMessage(failure, name, t) : undefined);
  return (
    <section aria-labelledby="cert-title">
      <h1 id="cert-title">{t("cert.title")}</h1>
      <p>{t("cert.intro")}</p>
      <p>
        <Link to="/certification/catalogue">{t("cert.catalogue")}</Link>
      </p>
      {data.status ? (
        <p>
          {t("cert.statusOnParticipant")}:{" "}
          <span className={`badge outcome-${data.status.current ? "passed" : data.status.status === "stale" ? "failed" : "none"}`}>{t(`cert.status.${data.status.status}` as MessageKey)}</span>
        </p>
      ) : null}
      <h2>{t("cert.history")}</h2>
      {data.runs.length === 0 ? (
        <p>{t("cert.noRuns")}</p>
      ) : (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">{t("cert.participant")}</th>
                <th scope="col">{t("cert.program")}</th>
                <th scope="col">{t("cert.environment")}</th>
                <th scope="col">{t("cert.startedAt")}</th>
                <th scope="col">{t("cert.statusLabel")}</th>
              </tr>
            </thead>
            <tbody>
              {data.runs.map((r) => (
                <tr key={r.id}>
                  <td>{r.participantId}</td>
                  <td>
                    <Link to={`/certification/${r.id}`}>
                      {r.programName} {r.programVersion}
                    </Link>
                  </td>
                  <td>{t(`cert.env.${r.environment}` as MessageKey)}</td>
                  <td>{time(r.startedAt)}</td>
                  <td>{t(`cert.status.${r.status}` as MessageKey)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {data.canStart ? (
        <section className="panel" aria-labelledby="cert-start-title">
          <h2 id="cert-start-title">{t("cert.start")}</h2>
          {data.clients.length === 0 ? (
            <p>
              {t("cert.noClient")} <Link to="/credentials">{t("nav.credentials")}</Link>
            </p>
          ) : (
            <IntentForm intent="start" className="stacked-form">
              {failedIntent === "start" ? <FormMessage failure={failure} /> : null}
              <div className="field">
                <label htmlFor="cert-client">{t("cert.apiClient")}</label>
                <select id="cert-client" name="apiClientId">
                  {data.clients.map((c) => (
                    <option key={c.id} value={c.id}>
                      {c.name} ({c.clientId}, {t(`cert.env.${c.environment}` as MessageKey)})
                    </option>
                  ))}
                </select>
                {err("start", "apiClientId") ? <p className="field-error">{err("start", "apiClientId")}</p> : null}
              </div>
              <div className="field">
                <label htmlFor="cert-environment">{t("cert.environment")}</label>
                <select id="cert-environment" name="environment">
                  {(["simulator", "test"] as const).map((e) => (
                    <option key={e} value={e}>
                      {t(`cert.env.${e}`)}
                    </option>
                  ))}
                </select>
              </div>
              <TextField name="programName" label={t("cert.programName")} required error={err("start", "programName")} maxLength={100} />
              <TextField name="programVersion" label={t("cert.programVersion")} required error={err("start", "programVersion")} maxLength={40} />
              <TextField name="vendor" label={t("cert.vendor")} error={err("start", "vendor")} maxLength={100} />
              <button type="submit" className="button primary">
                {t("cert.startButton")}
              </button>
            </IntentForm>
          )}
        </section>
      ) : null}
      {data.canStart ? (
        <section className="panel" aria-labelledby="cert-version-title">
          <h2 id="cert-version-title">{t("cert.newVersion")}</h2>
          <p className="hint">{t("cert.newVersionHint")}</p>
          <IntentForm intent="version" className="stacked-form">
            {failedIntent === "version" ? <FormMessage failure={failure} /> : null}
            <TextField name="newProgramVersion" label={t("cert.programVersion")} required error={err("version", "programVersion")} maxLength={40} />
            <button type="submit" className="button secondary">
              {t("cert.newVersionButton")}
            </button>
          </IntentForm>
        </section>
      ) : null}
    </section>
  );
}
