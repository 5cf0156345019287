import { json, redirect } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData, useNavigation } from "@remix-run/react";
import { protectedAction, protectedLoader } from "~/auth/guard.server";
import { mayOn } from "~/modules/tenancy.server";
import { LocaleField, TextField } from "~/components/field";
import { asFailure, FormMessage, fieldMessage } from "~/components/form-feedback";
import { ParticipantPickerField } from "~/components/pickers";
import { useI18n } from "~/i18n/use-i18n";
import { fieldList, fieldValue } from "~/lib/forms";
import { getCatalogue } from "~/modules/roles/catalogue.server";
import { participantPicker } from "~/modules/participants/service.server";
import { createUser } from "~/modules/users/service.server";
import { titled } from "~/lib/meta";


export const meta = titled("users.newTitle");
export const loader = /* @__PURE__ */ protectedLoader("user:create", async ({ ctx }) => {
  const officer = mayOn(ctx.actor, "user:create", null);
  const catalogue = await getCatalogue(ctx.db);
  return json({
    officer,
    ownParticipant: ctx.actor.participantId,
    participants: officer ? await participantPicker(ctx) : [],
    roles: catalogue.roles
      .filter((r) => r.population === "participant" && r.active && (!officer || r.code === "da_maker" || r.code === "da_checker"))
      .map((r) => ({ code: r.code, nameEn: r.nameEn, nameZh: r.nameZh })),
  });
});

export const action = /* @__PURE__ */ protectedAction("user:create", async ({ ctx, form }) => {
  const f = form.fields;
  const result = await createUser(ctx, {
    participantId: (fieldValue(f, "participantId") ?? ctx.actor.participantId ?? "").trim().toUpperCase(),
    email: fieldValue(f, "email") ?? "",
    displayName: fieldValue(f, "displayName") ?? "",
    roles: fieldList(f, "roles"),
    justification: fieldValue(f, "justification"),
    locale: fieldValue(f, "locale") ?? undefined,
  });
  return redirect(`/users/${result.user.id}`);
});

export default function NewUser() {
  const { t, locale } = useI18n();
  const data = useLoaderData<typeof loader>();
  const failure = asFailure(useActionData<typeof action>());
  const navigation = useNavigation();
  const err = (name: string) => fieldMessage(failure, name, t);
  return (
    <section className="panel" aria-labelledby="new-user-title">
      <h1 id="new-user-title">{t("users.newTitle")}</h1>
      <p className="muted">{t("users.invitedNote")}</p>
      <Form method="post" noValidate className="stacked-form">
        <FormMessage failure={failure} />
        {data.officer ? (
          <ParticipantPickerField id="field-participantId" label={t("users.participant")} options={data.participants} error={err("participantId")} />
        ) : (
          <input type="hidden" name="participantId" value={data.ownParticipant ?? ""} />
        )}
        <TextField name="email" type="email" label={t("users.email")} required error={err("email")} />
        <TextField name="displayName" label={t("users.displayName")} required error={err("displayName")} />
        <LocaleField defaultValue="en" error={err("locale")} />
        <fieldset className="field" aria-describedby="roles-hint">
          <legend>{t("users.rolesToRequest")}</legend>
          <p className="hint" id="roles-hint">
            {data.officer ? t("users.rolesToGrantHint") : t("users.rolesToRequestHint")}
          </p>
          {data.roles.map((r) => (
            <label key={r.code} className="checkbox">
              <input type="checkbox" name="roles" value={r.code} /> {locale === "zh-HK" ? r.nameZh : r.nameEn}
            </label>
          ))}
          {err("roles") || err("roleCode") ? <p className="field-error">{err("roles") ?? err("roleCode")}</p> : null}
        </fieldset>
        <TextField name="justification" label={t("users.justification")} error={err("justification")} />
        <div className="actions">
          <button type="submit" className="button primary" disabled={navigation.state === "submitting"}>
            {t("users.create")}
          </button>
          <Link to="/users">{t("participants.cancel")}</Link>
        </div>
      </Form>
    </section>
  );
}
