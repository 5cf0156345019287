import { json } from "@remix-run/node";
import { Link, useActionData, useLoaderData } from "@remix-run/react";
import { intent, intentAction, protectedLoader } from "~/auth/guard.server";
import { ConfirmPanel } from "~/components/confirm";
import { IntentForm, TextField, useEchoedValue } from "~/components/field";
import { asFailure, FormMessage, fieldMessage, type Failure } from "~/components/form-feedback";
import { useI18n } from "~/i18n/use-i18n";
import { localeOf } from "~/i18n/locale.server";
import type { Submission } from "~/lib/forms";
import { titled } from "~/lib/meta";
import { validate } from "~/lib/validation";
import { addCatalogueCase, changeCatalogueCase, describeCaseToRetire, listCatalogue, retireCatalogueCase } from "~/modules/certification/service.server";

export const meta = titled("cert.catalogue");

export const loader = /* @__PURE__ */ protectedLoader("certification:read", async ({ ctx }) => {
  const { cases, services, version, canManage } = await listCatalogue(ctx);
  return json({
    version,
    canManage,
    services: services.map((s) => ({ code: s.code, nameEn: s.nameEn, nameZh: s.nameZh })),
    cases: cases.map((c) => ({ ...c, retiredAt: c.retiredAt?.toISOString() ?? null })),
  });
});

/** What the add and change forms share: a case's text in both languages and whether it is mandatory. */
function caseTextOf(form: Submission) {
  const text = (name: string) => form.value(name) ?? "";
  return { titleEn: text("titleEn"), titleZh: text("titleZh"), steps: text("steps"), expectedResult: text("expectedResult"), mandatory: text("mandatory") };
}

function retireInput(form: Submission) {
  return { code: form.value("caseCode") ?? "", catalogueVersion: form.value("catalogueVersion") ?? "", reason: form.value("reason") ?? "" };
}

export const action = /* @__PURE__ */ intentAction({
  add: /* @__PURE__ */ intent(addCatalogueCase, async ({ ctx, form }) => {
    const added = await addCatalogueCase(ctx, {
      code: form.value("code") ?? "",
      serviceCode: form.value("serviceCode") ?? "",
      ...caseTextOf(form),
    });
    return json({ ok: true as const, intent: "add", catalogueVersion: added.catalogueVersion });
  }),
  change: /* @__PURE__ */ intent(changeCatalogueCase, async ({ ctx, form }) => {
    const changed = await changeCatalogueCase(ctx, {
      code: form.value("caseCode") ?? "",
      catalogueVersion: form.value("catalogueVersion") ?? "",
      ...caseTextOf(form),
    });
    return json({ ok: true as const, intent: "change", catalogueVersion: changed.catalogueVersion });
  }),
  retire: /* @__PURE__ */ intent(
    retireCatalogueCase,
    async ({ ctx, form }) => {
      const retired = await retireCatalogueCase(ctx, retireInput(form));
      return json({ ok: true as const, intent: "retire", catalogueVersion: retired.catalogueVersion });
    },
    {
      // A retired case cannot change again: the administrator is asked first, with the case named.
      async confirm({ ctx, form, request }) {
        const input = validate(retireCatalogueCase.spec.input, retireInput(form));
        const retiring = await describeCaseToRetire(ctx, input);
        const zh = (await localeOf(request)) === "zh-HK";
        return { titleKey: "confirm.case.retire.title", messageKey: "confirm.case.retire.message", confirmKey: "confirm.case.retire.button", params: { code: retiring.code, title: zh ? retiring.titleZh : retiring.titleEn } };
      },
    },
  ),
});

interface CaseView {
  code: string;
  titleEn: string;
  titleZh: string;
  steps: string;
  expectedResult: string;
  mandatory: boolean;
  catalogueVersion: number;
}

/** One field of a case's own change or retire form: ids carry the case code, messages show only for its form. */
function CaseField({ prefix, name, label, value, failure, area = false }: { prefix: string; name: string; label: string; value: string; failure: Failure | null; area?: boolean }) {
  const { t } = useI18n();
  const id = `${prefix}-${name}`;
  const error = fieldMessage(failure, name, t);
  const shown = failure?.values[name] ?? value;
  const common = { id, name, required: true, "aria-invalid": error ? true : undefined, "aria-describedby": error ? `${id}-error` : undefined };
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {area ? <textarea {...common} rows={3} defaultValue={shown} /> : <input {...common} defaultValue={shown} />}
      {error ? (
        <p className="field-error" id={`${id}-error`}>
          {error}
        </p>
      ) : null}
    </div>
  );
}

/**
 * The platform administrator's change and retire forms of one current case. The case travels as `caseCode`: a
 * field named `code` is never echoed back (it is how the second factor's code is sent), and the refusal finds its
 * form by it.
 */
function ManageCase({ c, failure }: { c: CaseView; failure: Failure | null }) {
  const { t } = useI18n();
  const mine = (intent: string) => (failure && failure.values.intent === intent && failure.values.caseCode === c.code ? failure : null);
  const changeFailure = mine("change");
  const retireFailure = mine("retire");
  return (
    <>
      <details open={changeFailure ? true : undefined}>
        <summary aria-label={t("cert.changeCaseOf", { code: c.code })}>{t("cert.changeCase")}</summary>
        <IntentForm key={c.catalogueVersion} intent="change" className="stacked-form" aria-label={t("cert.changeCaseOf", { code: c.code })}>
          <p className="hint">{t("cert.changeCaseHint")}</p>
          <FormMessage failure={changeFailure} />
          <input type="hidden" name="caseCode" value={c.code} />
          <input type="hidden" name="catalogueVersion" value={c.catalogueVersion} />
          <CaseField prefix={`change-${c.code}`} name="titleEn" label={t("cert.titleEn")} value={c.titleEn} failure={changeFailure} />
          <CaseField prefix={`change-${c.code}`} name="titleZh" label={t("cert.titleZh")} value={c.titleZh} failure={changeFailure} />
          <CaseField prefix={`change-${c.code}`} name="steps" label={t("cert.steps")} value={c.steps} failure={changeFailure} area />
          <CaseField prefix={`change-${c.code}`} name="expectedResult" label={t("cert.expected")} value={c.expectedResult} failure={changeFailure} area />
          <div className="field">
            <label>
              <input type="checkbox" name="mandatory" value="yes" defaultChecked={c.mandatory} /> {t("cert.mandatory")}
            </label>
          </div>
          <button type="submit" className="button primary">
            {t("cert.changeCaseButton")}
          </button>
        </IntentForm>
      </details>
      <details open={retireFailure ? true : undefined}>
        <summary aria-label={t("cert.retireCaseOf", { code: c.code })}>{t("cert.retireCase")}</summary>
        <IntentForm intent="retire" className="stacked-form" aria-label={t("cert.retireCaseOf", { code: c.code })}>
          <p className="hint">{t("cert.retireHint")}</p>
          <FormMessage failure={retireFailure} />
          <input type="hidden" name="caseCode" value={c.code} />
          <input type="hidden" name="catalogueVersion" value={c.catalogueVersion} />
          <CaseField prefix={`retire-${c.code}`} name="reason" label={t("cert.retireReason")} value="" failure={retireFailure} />
          <button type="submit" className="button secondary">
            {t("cert.retireButton")}
          </button>
        </IntentForm>
      </details>
    </>
  );
}

function AreaField({ name, label, error }: { name: string; label: string; error?: string }) {
  const echoed = useEchoedValue(name);
  const id = `case-${name}`;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <textarea id={id} name={name} rows={3} required defaultValue={echoed} aria-invalid={error ? true : undefined} aria-describedby={error ? `${id}-error` : undefined} />
      {error ? (
        <p className="field-error" id={`${id}-error`}>
          {error}
        </p>
      ) : null}
    </div>
  );
}

/** The Developer Corner's test-case catalogue; the platform administrator adds cases (each addition is a new version). */
export default function CertificationCatalogue() {
  const { t, locale } = useI18n();
  const data = useLoaderData<typeof loader>();
  const failure = asFailure(useActionData<typeof action>());
  const addFailure = failure && failure.values.intent === "add" ? failure : null;
  const err = (name: string) => fieldMessage(addFailure, name, t);
  return (
    <section aria-labelledby="catalogue-title">
      <p>
        <Link to="/certification">{t("cert.runs")}</Link>
      </p>
      <h1 id="catalogue-title">{t("cert.catalogue")}</h1>
      <p>{t("cert.catalogueIntro", { version: data.version })}</p>
      <ConfirmPanel />
      {data.services.map((s) => (
        <section key={s.code} aria-labelledby={`service-${s.code}`}>
          <h2 id={`service-${s.code}`}>{locale === "zh-HK" ? s.nameZh : s.nameEn}</h2>
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">{t("cert.case")}</th>
                  <th scope="col">{t("cert.caseTitle")}</th>
                  <th scope="col">{t("cert.steps")}</th>
                  <th scope="col">{t("cert.expected")}</th>
                  <th scope="col">{t("cert.mandatory")}</th>
                  <th scope="col">{t("cert.catalogueVersion")}</th>
                  {data.canManage ? <th scope="col">{t("cert.manage")}</th> : null}
                </tr>
              </thead>
              <tbody>
                {data.cases
                  .filter((c) => c.serviceCode === s.code)
                  .map((c) => (
                    <tr key={c.code}>
                      <th scope="row">{c.code}</th>
                      <td>
                        {locale === "zh-HK" ? c.titleZh : c.titleEn}
                        {c.retiredAt ? <span className="badge"> {t("cert.retired")}</span> : null}
                      </td>
                      <td>{c.steps}</td>
                      <td>{c.expectedResult}</td>
                      <td>{c.mandatory ? t("cert.mandatory") : t("cert.optional")}</td>
                      <td>{c.catalogueVersion}</td>
                      {data.canManage ? <td>{c.retiredAt ? null : <ManageCase c={c} failure={failure} />}</td> : null}
                    </tr>
                  ))}
              </tbody>
            </table>
          </div>
        </section>
      ))}
      {data.canManage ? (
        <section className="panel" aria-labelledby="add-case-title">
          <h2 id="add-case-title">{t("cert.addCase")}</h2>
          <p className="hint">{t("cert.addCaseHint")}</p>
          <IntentForm intent="add" className="stacked-form">
            <FormMessage failure={addFailure} />
            <TextField name="code" label={t("cert.case")} hint={t("cert.codeHint")} required error={err("code")} maxLength={10} />
            <div className="field">
              <label htmlFor="case-service">{t("cert.service")}</label>
              <select id="case-service" name="serviceCode">
                {data.services.map((s) => (
                  <option key={s.code} value={s.code}>
                    {locale === "zh-HK" ? s.nameZh : s.nameEn}
                  </option>
                ))}
              </select>
            </div>
            <TextField name="titleEn" label={t("cert.titleEn")} required error={err("titleEn")} maxLength={200} />
            <TextField name="titleZh" label={t("cert.titleZh")} required error={err("titleZh")} maxLength={200} />
            <AreaField name="steps" label={t("cert.steps")} error={err("steps")} />
            <AreaField name="expectedResult" label={t("cert.expected")} error={err("expectedResult")} />
            <div className="field">
              <label>
                <input type="checkbox" name="mandatory" value="yes" /> {t("cert.mandatory")}
              </label>
            </div>
            <button type="submit" className="button primary">
              {t("cert.addCase")}
            </button>
          </IntentForm>
        </section>
      ) : null}
    </section>
  );
}
