import { json } from "@remix-run/node";
import { useActionData, useLoaderData } from "@remix-run/react";
import { intent, intentAction, protectedLoader } from "~/auth/guard.server";
import { TextField, IntentForm } from "~/components/field";
import { asFailure, FormMessage, fieldMessage } from "~/components/form-feedback";
import { useI18n } from "~/i18n/use-i18n";
import type { MessageKey } from "~/i18n/messages";
import { getCatalogue, saveRole, saveSodRule, saveTemplate } from "~/modules/roles/catalogue.server";
import { titled } from "~/lib/meta";
import { listServiceCatalogue } from "~/modules/participants/service.server";


export const meta = titled("catalogue.title");
export const loader = /* @__PURE__ */ protectedLoader("catalogue:manage", async ({ ctx }) => {
  const services = await listServiceCatalogue(ctx.db);
  // Services and roles are offered by name; the codes stay as the values sent.
  return json({ ...(await getCatalogue(ctx.db)), serviceNames: Object.fromEntries(services.map((s) => [s.code, { nameEn: s.nameEn, nameZh: s.nameZh }])) });
});

export const action = /* @__PURE__ */ intentAction({
  role: /* @__PURE__ */ intent(saveRole, async ({ ctx, form }) => {
    await saveRole(ctx, {
      code: form.value("code") ?? "",
      nameEn: form.value("nameEn") ?? "",
      nameZh: form.value("nameZh") ?? "",
      population: form.value("population") ?? "",
      service: form.value("service") ?? "",
      isConsole: form.value("isConsole") === "on",
      active: form.value("active") === "on",
      version: form.value("version") || undefined,
    });
    return json({ ok: true as const, intent: "role" });
  }),
  template: /* @__PURE__ */ intent(saveTemplate, async ({ ctx, form }) => {
    await saveTemplate(ctx, { templateCode: form.value("code") ?? "", version: form.value("version") ?? "", roles: form.list("roles") });
    return json({ ok: true as const, intent: "template" });
  }),
  rule: /* @__PURE__ */ intent(saveSodRule, async ({ ctx, form }) => {
    await saveSodRule(ctx, {
      id: form.value("id") ?? "",
      roleA: form.value("roleA") ?? "",
      roleB: form.value("roleB") ?? "",
      kind: form.value("kind") ?? "",
      descriptionEn: form.value("descriptionEn") ?? "",
      descriptionZh: form.value("descriptionZh"),
      version: form.value("version") || undefined,
    });
    return json({ ok: true as const, intent: "rule" });
  }),
});

export default function CataloguePage() {
  const { t, locale } = useI18n();
  const data = useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>();
  const failure = asFailure(actionData);
  const participantRoles = data.roles.filter((r) => r.population === "participant");
  const name = (r: { nameEn: string; nameZh: string }) => (locale === "zh-HK" ? r.nameZh : r.nameEn);
  const serviceName = (code: string) => (data.serviceNames[code] ? name(data.serviceNames[code]) : code);
  const roleName = (code: string) => {
    const role = data.roles.find((r) => r.code === code);
    return role ? name(role) : code;
  };
  return (
    <section aria-labelledby="catalogue-title">
      <h1 id="catalogue-title">{t("catalogue.title")}</h1>
      <FormMessage failure={failure} />
      {actionData && "intent" in actionData ? (
        <p role="status" className="notice">
          {t("catalogue.saved")}
        </p>
      ) : null}

      <section className="panel" aria-labelledby="roles-title">
        <h2 id="roles-title">{t("catalogue.roles")}</h2>
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">{t("catalogue.code")}</th>
                <th scope="col">{t("catalogue.nameEn")}</th>
                <th scope="col">{t("catalogue.nameZh")}</th>
                <th scope="col">{t("catalogue.population")}</th>
                <th scope="col">{t("users.service")}</th>
                <th scope="col">{t("catalogue.console")}</th>
                <th scope="col">{t("catalogue.active")}</th>
                <th scope="col">{t("catalogue.save")}</th>
              </tr>
            </thead>
            <tbody>
              {data.roles.map((r) => (
                <tr key={`${r.code}-${r.version}`}>
                  <td>
                    <code>{r.code}</code>
                  </td>
                  <td>
                    <input form={`role-${r.code}`} name="nameEn" defaultValue={r.nameEn} aria-label={`${t("catalogue.nameEn")} ${name(r)}`} />
                  </td>
                  <td>
                    <input form={`role-${r.code}`} name="nameZh" defaultValue={r.nameZh} aria-label={`${t("catalogue.nameZh")} ${name(r)}`} />
                  </td>
                  <td>{t(`catalogue.population.${r.population}` as MessageKey)}</td>
                  <td>
                    <select form={`role-${r.code}`} name="service" defaultValue={r.service ?? ""} aria-label={`${t("users.service")} ${name(r)}`}>
                      <option value="">{t("catalogue.none")}</option>
                      {data.services.map((s) => (
                        <option key={s} value={s}>
                          {serviceName(s)}
                        </option>
                      ))}
                    </select>
                  </td>
                  <td>
                    <input form={`role-${r.code}`} type="checkbox" name="isConsole" defaultChecked={r.isConsole} aria-label={`${t("catalogue.console")} ${name(r)}`} />
                  </td>
                  <td>
                    <input form={`role-${r.code}`} type="checkbox" name="active" defaultChecked={r.active} aria-label={`${t("catalogue.active")} ${name(r)}`} />
                  </td>
                  <td>
                    <IntentForm intent="role" id={`role-${r.code}`}>
                      <input type="hidden" name="code" value={r.code} />
                      <input type="hidden" name="population" value={r.population} />
                      <input type="hidden" name="version" value={r.version} />
                      <button type="submit" className="button secondary">
                        {t("catalogue.save")}
                      </button>
                    </IntentForm>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <IntentForm intent="role" className="inline-form">
          <h3 className="full-width">{t("catalogue.addRole")}</h3>
          <input type="hidden" name="active" value="on" />
          <TextField name="code" label={t("catalogue.code")} required error={fieldMessage(failure, "code", t)} />
          <TextField name="nameEn" label={t("catalogue.nameEn")} required error={fieldMessage(failure, "nameEn", t)} />
          <TextField name="nameZh" label={t("catalogue.nameZh")} required error={fieldMessage(failure, "nameZh", t)} />
          <div className="field compact">
            <label htmlFor="new-role-population">{t("catalogue.population")}</label>
            <select id="new-role-population" name="population">
              <option value="participant">{t("catalogue.population.participant")}</option>
              <option value="hkex">{t("catalogue.population.hkex")}</option>
            </select>
          </div>
          <div className="field compact">
            <label htmlFor="new-role-service">{t("users.service")}</label>
            <select id="new-role-service" name="service">
              <option value="">{t("catalogue.none")}</option>
              {data.services.map((s) => (
                <option key={s} value={s}>
                  {serviceName(s)}
                </option>
              ))}
            </select>
          </div>
          <button type="submit" className="button primary">
            {t("catalogue.addRole")}
          </button>
        </IntentForm>
      </section>

      <section className="panel" aria-labelledby="templates-title">
        <h2 id="templates-title">{t("catalogue.templates")}</h2>
        {data.templates.map((tpl) => (
          <IntentForm intent="template" key={`${tpl.code}-${tpl.version}`} className="template-form">
            <input type="hidden" name="code" value={tpl.code} />
            <input type="hidden" name="version" value={tpl.version} />
            <fieldset>
              <legend>
                {name(tpl)} ({t(`participantType.${tpl.participantType}` as MessageKey)})
              </legend>
              {participantRoles
                .filter((r) => r.code !== "da_maker" && r.code !== "da_checker")
                .map((r) => (
                  <label key={r.code} className="checkbox inline">
                    <input type="checkbox" name="roles" value={r.code} defaultChecked={tpl.roles.includes(r.code)} /> {name(r)}
                  </label>
                ))}
              <button type="submit" className="button secondary">
                {t("catalogue.save")}
              </button>
            </fieldset>
          </IntentForm>
        ))}
      </section>

      <section className="panel" aria-labelledby="rules-title">
        <h2 id="rules-title">{t("catalogue.sodRules")}</h2>
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">{t("catalogue.code")}</th>
                <th scope="col">{t("catalogue.roleA")}</th>
                <th scope="col">{t("catalogue.roleB")}</th>
                <th scope="col">{t("catalogue.kind")}</th>
                <th scope="col">{t("catalogue.description")}</th>
              </tr>
            </thead>
            <tbody>
              {data.sodRules.map((rule) => (
                <tr key={`${rule.id}-${rule.version}`}>
                  <td>
                    <code>{rule.id}</code>
                  </td>
                  <td>{roleName(rule.roleA)}</td>
                  <td>{roleName(rule.roleB)}</td>
                  <td>
                    <IntentForm intent="rule" className="inline-form tight">
                      <input type="hidden" name="id" value={rule.id} />
                      <input type="hidden" name="roleA" value={rule.roleA} />
                      <input type="hidden" name="roleB" value={rule.roleB} />
                      <input type="hidden" name="descriptionEn" value={rule.descriptionEn} />
                      <input type="hidden" name="descriptionZh" value={rule.descriptionZh} />
                      <input type="hidden" name="version" value={rule.version} />
                      <select name="kind" defaultValue={rule.kind} aria-label={`${t("catalogue.kind")} ${roleName(rule.roleA)} / ${roleName(rule.roleB)}`}>
                        {(["block", "block_unless_waiver", "warn"] as const).map((k) => (
                          <option key={k} value={k}>
                            {t(`catalogue.kind.${k}` as MessageKey)}
                          </option>
                        ))}
                      </select>
                      <button type="submit" className="button secondary">
                        {t("catalogue.save")}
                      </button>
                    </IntentForm>
                  </td>
                  <td>{locale === "zh-HK" ? rule.descriptionZh : rule.descriptionEn}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <IntentForm intent="rule" className="inline-form">
          <h3 className="full-width">{t("catalogue.addRule")}</h3>
          <TextField name="id" label={t("catalogue.code")} required error={fieldMessage(failure, "id", t)} />
          {(["roleA", "roleB"] as const).map((field) => (
            <div className="field compact" key={field}>
              <label htmlFor={`new-rule-${field}`}>{t(`catalogue.${field}`)}</label>
              <select id={`new-rule-${field}`} name={field}>
                {data.roles.map((r) => (
                  <option key={r.code} value={r.code}>
                    {name(r)}
                  </option>
                ))}
              </select>
              {fieldMessage(failure, field, t) ? <p className="field-error">{fieldMessage(failure, field, t)}</p> : null}
            </div>
          ))}
          <div className="field compact">
            <label htmlFor="new-rule-kind">{t("catalogue.kind")}</label>
            <select id="new-rule-kind" name="kind">
              {(["block", "block_unless_waiver", "warn"] as const).map((k) => (
                <option key={k} value={k}>
                  {t(`catalogue.kind.${k}` as MessageKey)}
                </option>
              ))}
            </select>
          </div>
          <TextField name="descriptionEn" label={t("catalogue.description")} required error={fieldMessage(failure, "descriptionEn", t)} />
          <button type="submit" className="button primary">
            {t("catalogue.addRule")}
          </button>
        </IntentForm>
      </section>
    </section>
  );
}
