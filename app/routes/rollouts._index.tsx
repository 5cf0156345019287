import { json, redirect } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData } from "@remix-run/react";
import { protectedAction, protectedLoader } from "~/auth/guard.server";
import { TextField, useEchoedValue } from "~/components/field";
import { asFailure, FormMessage, fieldMessage } from "~/components/form-feedback";
import { useI18n } from "~/i18n/use-i18n";
import type { MessageKey } from "~/i18n/messages";
import { titled } from "~/lib/meta";
import { listServiceCatalogue } from "~/modules/participants/service.server";
import { createRollout } from "~/modules/rollouts/service.server";
import { listRollouts } from "~/modules/rollouts/views.server";
import { mayOn } from "~/modules/tenancy.server";
import { PARTICIPANT_STATUSES, PARTICIPANT_TYPES } from "~/modules/participants/constants";

export const meta = titled("rollout.title");

export const loader = /* @__PURE__ */ protectedLoader("rollout:read", async ({ ctx }) => {
  const manage = mayOn(ctx.actor, "rollout:manage", null);
  const rollouts = await listRollouts(ctx);
  return json({
    manage,
    services: manage ? (await listServiceCatalogue(ctx.db)).map((s) => ({ code: s.code, nameEn: s.nameEn, nameZh: s.nameZh })) : [],
    rollouts: rollouts.map((r) => ({ ...r, launchAt: r.launchAt.toISOString(), next: r.next ? { milestone: r.next.milestone, at: r.next.at.toISOString() } : null })),
  });
});

export const action = /* @__PURE__ */ protectedAction("rollout:manage", async ({ ctx, form }) => {
  const rollout = await createRollout(ctx, {
    name: form.value("name") ?? "",
    serviceCodes: form.list("serviceCodes"),
    participantIds: (form.value("participantIds") ?? "")
      .split(/[\s,]+/)
      .map((s) => s.trim().toUpperCase())
      .filter(Boolean),
    filterType: form.value("filterType") || null,
    filterStatus: form.value("filterStatus") || null,
    cutoffDay: form.value("cutoffDay") ?? "",
    conversionDay: form.value("conversionDay") ?? "",
    verificationStart: form.value("verificationStart") ?? "",
    verificationEnd: form.value("verificationEnd") ?? "",
    launchDay: form.value("launchDay") ?? "",
    stabilisationEndDay: form.value("stabilisationEndDay") || null,
    checklist: (form.value("checklist") ?? "")
      .split(/\r?\n/)
      .map((s) => s.trim())
      .filter(Boolean),
  });
  return redirect(`/rollouts/${rollout.id}`);
});

function DateTimeField({ name, label, error }: { name: string; label: string; error?: string }) {
  const echoed = useEchoedValue(name);
  const id = `field-${name}`;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input id={id} name={name} type="datetime-local" required defaultValue={echoed} aria-invalid={error ? true : undefined} aria-describedby={error ? `${id}-error` : undefined} />
      {error ? (
        <p className="field-error" id={`${id}-error`}>
          {error}
        </p>
      ) : null}
    </div>
  );
}

export default function Rollouts() {
  const { t, time, locale } = useI18n();
  const data = useLoaderData<typeof loader>();
  const failure = asFailure(useActionData<typeof action>());
  const err = (name: string) => fieldMessage(failure, name, t);
  return (
    <section aria-labelledby="rollouts-title">
      <h1 id="rollouts-title">{t("rollout.title")}</h1>
      <p>{t("rollout.intro")}</p>
      {data.rollouts.length === 0 ? (
        <p>{t("rollout.none")}</p>
      ) : (
        <ul className="plain request-list">
          {data.rollouts.map((r) => (
            <li key={r.id}>
              <Link to={`/rollouts/${r.id}`}>{r.name}</Link> · <span className="badge">{t(`rollout.phase.${r.phase}` as MessageKey)}</span> · {t("rollout.participantCount", { count: r.participants })} · {t("rollout.milestone.launchAt")}: {time(r.launchAt)}
              {r.next ? (
                <>
                  {" "}
                  · {t(`rollout.milestone.${r.next.milestone}` as MessageKey)}: {time(r.next.at)}
                </>
              ) : null}
            </li>
          ))}
        </ul>
      )}
      {data.manage ? (
        <section className="panel" aria-labelledby="create-title">
          <h2 id="create-title">{t("rollout.create")}</h2>
          <Form method="post" className="stacked-form">
            <FormMessage failure={failure} />
            <TextField name="name" label={t("rollout.name")} required error={err("name")} />
            <fieldset className="field">
              <legend>{t("rollout.services")}</legend>
              {data.services.map((s) => (
                <label key={s.code} className="checkbox inline">
                  <input type="checkbox" name="serviceCodes" value={s.code} /> {locale === "zh-HK" ? s.nameZh : s.nameEn}
                </label>
              ))}
              {err("serviceCodes") ? <p className="field-error">{err("serviceCodes")}</p> : null}
            </fieldset>
            <TextField name="participantIds" label={t("rollout.participants")} error={err("participantIds")} />
            <fieldset className="field">
              <legend>{t("rollout.filter")}</legend>
              <label htmlFor="field-filterType">{t("rollout.filterType")}</label>{" "}
              <select id="field-filterType" name="filterType" defaultValue="">
                <option value="">{t("rollout.filterAny")}</option>
                {PARTICIPANT_TYPES.map((type) => (
                  <option key={type} value={type}>
                    {t(`participantType.${type}` as MessageKey)}
                  </option>
                ))}
              </select>{" "}
              <label htmlFor="field-filterStatus">{t("rollout.filterStatus")}</label>{" "}
              <select id="field-filterStatus" name="filterStatus" defaultValue="">
                <option value="">{t("rollout.filterAny")}</option>
                {PARTICIPANT_STATUSES.map((status) => (
                  <option key={status} value={status}>
                    {t(`participantStatus.${status}` as MessageKey)}
                  </option>
                ))}
              </select>
            </fieldset>
            <TextField name="cutoffDay" type="date" label={t("rollout.cutoffDay")} required error={err("cutoffDay")} />
            <TextField name="conversionDay" type="date" label={t("rollout.conversionDay")} required error={err("conversionDay")} />
            <DateTimeField name="verificationStart" label={t("rollout.verificationStart")} error={err("verificationStart")} />
            <DateTimeField name="verificationEnd" label={t("rollout.verificationEnd")} error={err("verificationEnd")} />
            <TextField name="launchDay" type="date" label={t("rollout.launchDay")} required error={err("launchDay")} />
            <TextField name="stabilisationEndDay" type="date" label={t("rollout.stabilisationEndDay")} error={err("stabilisationEndDay")} />
            <div className="field">
              <label htmlFor="field-checklist">{t("rollout.checklist")}</label>
              <textarea id="field-checklist" name="checklist" rows={3} />
            </div>
            <button type="submit" className="button primary">
              {t("rollout.create")}
            </button>
          </Form>
        </section>
      ) : null}
    </section>
  );
}
