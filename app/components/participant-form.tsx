import { Form, Link, useNavigation } from "@remix-run/react";
import { PARTICIPANT_TYPES } from "~/modules/participants/constants";
import { useI18n } from "~/i18n/use-i18n";
import type { MessageKey } from "~/i18n/messages";
import { TextField } from "./field";
import { FormMessage, fieldMessage, type Failure } from "./form-feedback";

export const CONTACT_ROWS = 3;

export interface ParticipantFormValues {
  id?: string;
  version?: number;
  nameEn: string;
  nameZh: string;
  type: string;
  bic: string | null;
  services: string[];
  contacts: { name: string; email: string; phone: string | null; title: string | null }[];
}

/** Register or edit a participant (SPEC §2). The same form serves both; the ID is fixed once registered. */
export function ParticipantForm({
  mode,
  values,
  services,
  failure,
  cancelTo,
}: {
  mode: "create" | "edit";
  values: ParticipantFormValues | null;
  services: { code: string; nameEn: string; nameZh: string }[];
  failure: Failure | null;
  cancelTo: string;
}) {
  const { t, locale } = useI18n();
  const navigation = useNavigation();
  const err = (name: string) => fieldMessage(failure, name, t);
  return (
    <Form method="post" noValidate className="stacked-form">
      <FormMessage failure={failure} />
      {mode === "edit" ? <input type="hidden" name="version" value={values?.version} /> : null}
      {mode === "create" ? (
        <TextField name="id" label={t("participants.id")} required defaultValue={values?.id} error={err("id")} maxLength={6} hint="B01234" />
      ) : null}
      <TextField name="nameEn" label={t("participants.nameEn")} required defaultValue={values?.nameEn} error={err("nameEn")} />
      <TextField name="nameZh" label={t("participants.nameZh")} required defaultValue={values?.nameZh} error={err("nameZh")} />
      <div className="field">
        <label htmlFor="field-type">{t("participants.type")}</label>
        <select
          id="field-type"
          name="type"
          defaultValue={values?.type ?? "GCP"}
          aria-invalid={err("type") ? true : undefined}
          aria-describedby={err("type") ? "field-type-error" : undefined}
        >
          {PARTICIPANT_TYPES.map((type) => (
            <option key={type} value={type}>
              {t(`participantType.${type}` as MessageKey)}
            </option>
          ))}
        </select>
        {err("type") ? (
          <p className="field-error" id="field-type-error">
            {err("type")}
          </p>
        ) : null}
      </div>
      <TextField name="bic" label={t("participants.bic")} defaultValue={values?.bic ?? ""} error={err("bic")} maxLength={11} hint="HVSCHKHH" />
      <fieldset className="field" aria-describedby={err("services") ? "field-services-error" : undefined}>
        <legend>{t("participants.services")}</legend>
        {services.map((s) => (
          <label key={s.code} className="checkbox">
            <input type="checkbox" name="services" value={s.code} defaultChecked={values?.services.includes(s.code)} />{" "}
            {locale === "zh-HK" ? s.nameZh : s.nameEn}
          </label>
        ))}
        {err("services") ? (
          <p className="field-error" id="field-services-error">
            {err("services")}
          </p>
        ) : null}
      </fieldset>
      <fieldset className="contacts">
        <legend>{t("participants.contacts")}</legend>
        {Array.from({ length: CONTACT_ROWS }, (_, i) => {
          const c = values?.contacts[i];
          const rowErr = (f: string) => err(`contacts.${i}.${f}`);
          return (
            <fieldset key={i} className="contact-row">
              <legend>{t("participants.contactN", { n: i + 1 })}</legend>
              <ContactInput name="contactName" row={i} label={t("participants.contactName")} value={c?.name} error={rowErr("name")} />
              <ContactInput name="contactEmail" row={i} label={t("participants.contactEmail")} value={c?.email} error={rowErr("email")} type="email" />
              <ContactInput name="contactPhone" row={i} label={t("participants.contactPhone")} value={c?.phone ?? ""} error={rowErr("phone")} type="tel" />
              <ContactInput name="contactTitle" row={i} label={t("participants.contactTitle")} value={c?.title ?? ""} error={rowErr("title")} />
            </fieldset>
          );
        })}
      </fieldset>
      <div className="actions">
        <button type="submit" className="button primary" disabled={navigation.state === "submitting"}>
          {mode === "create" ? t("participants.register") : t("participants.save")}
        </button>
        <Link to={cancelTo}>{t("participants.cancel")}</Link>
      </div>
    </Form>
  );
}

function ContactInput({
  name,
  row,
  label,
  value,
  error,
  type = "text",
}: {
  name: string;
  row: number;
  label: string;
  value?: string;
  error?: string;
  type?: string;
}) {
  const id = `${name}-${row}`;
  return (
    <div className="field compact">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        name={name}
        type={type}
        defaultValue={value ?? ""}
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? `${id}-error` : undefined}
      />
      {error ? (
        <p className="field-error" id={`${id}-error`}>
          {error}
        </p>
      ) : null}
    </div>
  );
}
