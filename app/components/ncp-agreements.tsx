import { ConfirmPanel } from "./confirm";
import { IntentForm, TextField } from "./field";
import { FormMessage, fieldMessage, type Failure } from "./form-feedback";
import { useI18n } from "~/i18n/use-i18n";

export interface NcpAgreementView {
  id: number;
  ncpId: string;
  ncpNameEn: string;
  ncpNameZh: string;
  startsOn: string;
  endsOn: string | null;
  state: "active" | "upcoming" | "ended";
  version: number;
}

/** A row's own field, with its message when this row's form was the one refused. */
function RowField({ id, name, label, type = "text", defaultValue, failure, hint }: { id: string; name: string; label: string; type?: "text" | "date"; defaultValue?: string; failure: Failure | null; hint?: string }) {
  const { t } = useI18n();
  const error = fieldMessage(failure, name, t);
  const inputId = `${id}-${name}`;
  const described = [hint ? `${inputId}-hint` : null, error ? `${inputId}-error` : null].filter(Boolean).join(" ");
  return (
    <div className="field compact">
      <label htmlFor={inputId}>{label}</label>
      <input id={inputId} name={name} type={type} required defaultValue={failure?.values[name] ?? defaultValue} aria-invalid={error ? true : undefined} aria-describedby={described || undefined} />
      {hint ? (
        <p className="hint small" id={`${inputId}-hint`}>
          {hint}
        </p>
      ) : null}
      {error ? (
        <p className="field-error" id={`${inputId}-error`}>
          {error}
        </p>
      ) : null}
    </div>
  );
}

/**
 * A GCP's non-clearing participants (SPEC §2): each agreement with its exchange participant ID, names (the reader's
 * language first), days and state; an officer adds, ends and corrects them, the participant's own users read them.
 */
export function NcpAgreements({ agreements, isGcp, canManage, failure }: { agreements: NcpAgreementView[]; isGcp: boolean; canManage: boolean; failure: Failure | null }) {
  const { t, locale } = useI18n();
  const zh = locale === "zh-HK";
  const failed = (intent: string, id?: number) => failure !== null && failure.values.intent === intent && (id === undefined || failure.values.agreementId === String(id));
  return (
    <section className="panel" aria-labelledby="ncp-title">
      <h2 id="ncp-title">{t("ncp.title")}</h2>
      <p className="hint">{isGcp ? t("ncp.intro") : t("ncp.notGcp")}</p>
      <ConfirmPanel intents={["ncp-end"]} />
      {agreements.length === 0 ? (
        <p>{t("ncp.none")}</p>
      ) : (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">{t("ncp.id")}</th>
                <th scope="col">{t("ncp.names")}</th>
                <th scope="col">{t("ncp.startsOn")}</th>
                <th scope="col">{t("ncp.endsOn")}</th>
                <th scope="col">{t("ncp.state")}</th>
                {canManage ? <th scope="col">{t("ncp.actions")}</th> : null}
              </tr>
            </thead>
            <tbody>
              {agreements.map((a) => (
                <tr key={a.id}>
                  <th scope="row">{a.ncpId}</th>
                  <td>
                    <span lang={zh ? "zh-HK" : "en"}>{zh ? a.ncpNameZh : a.ncpNameEn}</span>
                    <br />
                    <span className="muted small" lang={zh ? "en" : "zh-HK"}>
                      {zh ? a.ncpNameEn : a.ncpNameZh}
                    </span>
                  </td>
                  <td>{a.startsOn}</td>
                  <td>{a.endsOn ?? t("ncp.open")}</td>
                  <td>
                    <span className={`badge outcome-${a.state === "active" ? "passed" : "none"}`}>{t(`ncp.state.${a.state}`)}</span>
                  </td>
                  {canManage ? (
                    <td>
                      {a.endsOn === null ? (
                        <IntentForm intent="ncp-end" className="inline-form" aria-label={`${t("ncp.end")} ${a.ncpId}`}>
                          {failed("ncp-end", a.id) ? <FormMessage failure={failure} /> : null}
                          <input type="hidden" name="agreementId" value={a.id} />
                          <input type="hidden" name="version" value={a.version} />
                          <RowField id={`ncp-end-${a.id}`} name="endsOn" type="date" label={t("ncp.endsOn")} failure={failed("ncp-end", a.id) ? failure : null} />
                          <button type="submit" className="button secondary">
                            {t("ncp.endButton")}
                          </button>
                        </IntentForm>
                      ) : null}
                      <details open={failed("ncp-rename", a.id) || undefined}>
                        <summary>{t("ncp.rename")}</summary>
                        <IntentForm intent="ncp-rename" className="stacked-form" aria-label={`${t("ncp.rename")} ${a.ncpId}`}>
                          {failed("ncp-rename", a.id) ? <FormMessage failure={failure} /> : null}
                          <input type="hidden" name="agreementId" value={a.id} />
                          <input type="hidden" name="version" value={a.version} />
                          <RowField id={`ncp-rename-${a.id}`} name="nameEn" label={t("ncp.nameEn")} defaultValue={a.ncpNameEn} failure={failed("ncp-rename", a.id) ? failure : null} />
                          <RowField id={`ncp-rename-${a.id}`} name="nameZh" label={t("ncp.nameZh")} defaultValue={a.ncpNameZh} failure={failed("ncp-rename", a.id) ? failure : null} />
                          <button type="submit" className="button secondary">
                            {t("ncp.renameButton")}
                          </button>
                        </IntentForm>
                      </details>
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {canManage ? (
        <IntentForm key={agreements.length} intent="ncp-add" className="stacked-form" aria-labelledby="ncp-add-title">
          <h3 id="ncp-add-title">{t("ncp.add")}</h3>
          {failed("ncp-add") ? <FormMessage failure={failure} /> : null}
          <TextField name="ncpId" label={t("ncp.id")} hint={t("ncp.idHint")} required maxLength={6} error={failed("ncp-add") ? fieldMessage(failure, "ncpId", t) : undefined} />
          <TextField name="nameEn" label={t("ncp.nameEn")} required maxLength={200} error={failed("ncp-add") ? fieldMessage(failure, "nameEn", t) : undefined} />
          <TextField name="nameZh" label={t("ncp.nameZh")} required maxLength={200} error={failed("ncp-add") ? fieldMessage(failure, "nameZh", t) : undefined} />
          <TextField name="startsOn" type="date" label={t("ncp.startsOn")} hint={t("ncp.dateHint")} required error={failed("ncp-add") ? fieldMessage(failure, "startsOn", t) : undefined} />
          <TextField name="endsOn" type="date" label={t("ncp.endsOn")} hint={t("ncp.endsOnHint")} error={failed("ncp-add") ? fieldMessage(failure, "endsOn", t) : undefined} />
          <button type="submit" className="button primary">
            {t("ncp.addButton")}
          </button>
        </IntentForm>
      ) : null}
    </section>
  );
}
