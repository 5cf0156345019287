import { json, redirect } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData } from "@remix-run/react";
import { protectedAction, protectedLoader } from "~/auth/guard.server";
import { mayOn } from "~/modules/tenancy.server";
import { TextField } from "~/components/field";
import { asFailure, FormMessage, fieldMessage } from "~/components/form-feedback";
import { useI18n } from "~/i18n/use-i18n";
import type { MessageKey } from "~/i18n/messages";
import { fieldList, fieldValue } from "~/lib/forms";
import { getCatalogue } from "~/modules/roles/catalogue.server";
import { listCampaigns, openCampaign } from "~/modules/reviews/service.server";
import { titled } from "~/lib/meta";
import { Pager } from "~/components/data-table";
import { offsetOf, pagingFrom } from "~/lib/paging";


export const meta = titled("reviews.title");
export const loader = /* @__PURE__ */ protectedLoader("review:read", async ({ ctx, request }) => {
  const all = await listCampaigns(ctx);
  const paging = pagingFrom(new URL(request.url).searchParams, ["createdAt"], { sort: "createdAt", dir: "desc" });
  const campaigns = all.slice(offsetOf(paging), offsetOf(paging) + paging.size);
  const manage = mayOn(ctx.actor, "review:manage", null);
  return json({
    manage,
    roles: manage ? (await getCatalogue(ctx.db)).roles.filter((r) => r.population === "participant").map((r) => ({ code: r.code, nameEn: r.nameEn, nameZh: r.nameZh })) : [],
    info: { total: all.length, page: paging.page, size: paging.size },
    campaigns: campaigns.map((c) => ({ id: c.id, name: c.name, status: c.status, deadline: c.deadline.toISOString(), deadlinePolicy: c.deadlinePolicy, total: c.total, decided: c.decided })),
  });
});

export const action = /* @__PURE__ */ protectedAction("review:manage", async ({ ctx, form }) => {
  const f = form.fields;
  const campaign = await openCampaign(ctx, {
    name: fieldValue(f, "name") ?? "",
    participantIds: (fieldValue(f, "participantIds") ?? "").split(/[\s,]+/).map((s) => s.trim().toUpperCase()).filter(Boolean),
    roleCodes: fieldList(f, "roleCodes"),
    deadline: fieldValue(f, "deadline") ?? "",
    deadlinePolicy: fieldValue(f, "deadlinePolicy") ?? "",
    includeApiClients: fieldValue(f, "includeApiClients") === "on",
  });
  return redirect(`/reviews/${campaign.id}`);
});

export default function Reviews() {
  const { t, time, locale } = useI18n();
  const data = useLoaderData<typeof loader>();
  const failure = asFailure(useActionData<typeof action>());
  const err = (name: string) => fieldMessage(failure, name, t);
  return (
    <section aria-labelledby="reviews-title">
      <h1 id="reviews-title">{t("reviews.title")}</h1>
      <p>{t("reviews.intro")}</p>
      {data.campaigns.length === 0 ? (
        <p>{t("reviews.none")}</p>
      ) : (
        <ul className="plain request-list">
          {data.campaigns.map((c) => (
            <li key={c.id}>
              <Link to={`/reviews/${c.id}`}>{c.name}</Link> · <span className="badge">{t(`reviews.status.${c.status}` as MessageKey)}</span> ·{" "}
              {t("reviews.deadline")}: {time(c.deadline)} · {t("reviews.progress", { decided: c.decided, total: c.total })}
              <progress max={Math.max(c.total, 1)} value={c.decided} aria-label={t("reviews.progress", { decided: c.decided, total: c.total })} />
            </li>
          ))}
        </ul>
      )}
      {data.info.total > 0 ? <Pager info={data.info} label={t("reviews.title")} /> : null}
      {data.manage ? (
        <section className="panel" aria-labelledby="open-title">
          <h2 id="open-title">{t("reviews.open")}</h2>
          <Form method="post" className="stacked-form">
            <FormMessage failure={failure} />
            <TextField name="name" label={t("reviews.name")} required error={err("name")} />
            <TextField name="participantIds" label={t("reviews.participants")} error={err("participantIds")} />
            <fieldset className="field">
              <legend>{t("reviews.roles")}</legend>
              {data.roles.map((r) => (
                <label key={r.code} className="checkbox inline">
                  <input type="checkbox" name="roleCodes" value={r.code} /> {locale === "zh-HK" ? r.nameZh : r.nameEn}
                </label>
              ))}
            </fieldset>
            <label className="checkbox">
              <input type="checkbox" name="includeApiClients" defaultChecked /> {t("reviews.includeApiClients")}
            </label>
            <TextField name="deadline" type="date" label={t("reviews.deadline")} required error={err("deadline")} />
            <fieldset className="field">
              <legend>{t("reviews.policy")}</legend>
              <label className="checkbox">
                <input type="radio" name="deadlinePolicy" value="flag" defaultChecked /> {t("reviews.policy.flag")}
              </label>
              <label className="checkbox">
                <input type="radio" name="deadlinePolicy" value="revoke" /> {t("reviews.policy.revoke")}
              </label>
            </fieldset>
            <button type="submit" className="button primary">
              {t("reviews.open")}
            </button>
          </Form>
        </section>
      ) : null}
    </section>
  );
}
