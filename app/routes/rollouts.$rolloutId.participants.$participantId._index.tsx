import { json } from "@remix-run/node";
import { Link, useActionData, useLoaderData } from "@remix-run/react";
import { intent, intentAction, protectedLoader } from "~/auth/guard.server";
import { IntentForm, TextField } from "~/components/field";
import { asFailure, FormMessage, fieldMessage } from "~/components/form-feedback";
import { useI18n } from "~/i18n/use-i18n";
import { nameIn, type MessageKey } from "~/i18n/messages";
import { getCatalogue } from "~/modules/roles/catalogue.server";
import { titled } from "~/lib/meta";
import { FREEZE_EXCEPTION_KINDS, VERIFICATION_OUTCOMES } from "~/modules/rollouts/constants";
import { confirmChecklist, confirmResult, recordResult, requestFreezeException, takeSnapshot } from "~/modules/rollouts/service.server";
import { getParticipantRollout } from "~/modules/rollouts/views.server";

export const meta = titled("rollout.title");

export const loader = /* @__PURE__ */ protectedLoader("rollout:read", async ({ ctx, params }) => {
  const p = await getParticipantRollout(ctx, params.rolloutId ?? "", params.participantId ?? "");
  const s = p.snapshot;
  return json({
    rollout: { id: p.rollout.id, name: p.rollout.name, cutoffAt: p.rollout.cutoffAt.toISOString(), checklist: p.rollout.checklist },
    participant: p.participant,
    // The snapshot keeps role codes; the page names them.
    roleNames: Object.fromEntries((await getCatalogue(ctx.db)).roles.map((r) => [r.code, { nameEn: r.nameEn, nameZh: r.nameZh }])),
    phase: p.phase,
    frozen: p.frozen,
    snapshot: s
      ? {
          digest: s.digest,
          sealed: s.sealed,
          takenAt: s.takenAt.toISOString(),
          users: s.parsed.users.map((u) => ({ id: u.id, email: u.email, displayName: u.displayName, status: u.status, roles: s.parsed.grants.filter((g) => g.userId === u.id).map((g) => g.roleCode) })),
          clients: s.parsed.apiClients.map((c) => ({ id: c.id, clientId: c.clientId, name: c.name, environment: c.environment, keys: s.parsed.keys.filter((k) => k.apiClientId === c.id).map((k) => k.kid) })),
        }
      : null,
    diff: p.diff,
    subjects: p.subjects.map((x) => ({
      subjectKind: x.subjectKind,
      subjectRef: x.subjectRef,
      label: x.label,
      labelZh: x.labelZh,
      result: x.result
        ? { id: x.result.id, outcome: x.result.outcome, reason: x.result.reason, evidence: x.result.evidence, recordedByName: x.result.recordedByName, confirmedByName: x.result.confirmedByName, mine: x.result.recordedBy === ctx.actor.userId }
        : null,
    })),
    readiness: { ready: p.readiness.ready, reasons: p.readiness.reasons },
    checklist: { confirmed: p.member.checklistConfirmed, contactPerson: p.member.contactPerson, by: p.checklistConfirmedByName, at: p.member.checklistConfirmedAt?.toISOString() ?? null },
    exceptions: p.exceptions.map((e) => ({ id: e.id, kind: e.kind, subjectRef: e.subjectRef, reason: e.reason, status: e.status })),
    can: p.can,
  });
});

const done = (intent: string, messageKey: MessageKey) => ({ ok: true as const, intent, messageKey });

export const action = /* @__PURE__ */ intentAction({
  record: /* @__PURE__ */ intent(recordResult, async ({ ctx, params, form }) => {
    await recordResult(ctx, {
      rolloutId: params.rolloutId ?? "",
      participantId: params.participantId ?? "",
      subjectKind: form.value("subjectKind") ?? "",
      subjectRef: form.value("subjectRef") ?? "",
      outcome: form.value("outcome") ?? "",
      reason: form.value("reason"),
      evidence: form.value("evidence"),
    });
    return json(done("record", "rollout.result.recorded"));
  }),
  confirm: /* @__PURE__ */ intent(confirmResult, async ({ ctx, form }) => {
    await confirmResult(ctx, { resultId: form.value("resultId") ?? "" });
    return json(done("confirm", "rollout.result.confirmed"));
  }),
  checklist: /* @__PURE__ */ intent(confirmChecklist, async ({ ctx, params, form }) => {
    await confirmChecklist(ctx, { rolloutId: params.rolloutId ?? "", participantId: params.participantId ?? "", items: form.list("items"), contactPerson: form.value("contactPerson") });
    return json(done("checklist", "rollout.checklist.confirmed"));
  }),
  exception: /* @__PURE__ */ intent(requestFreezeException, async ({ ctx, params, form }) => {
    await requestFreezeException(ctx, { rolloutId: params.rolloutId ?? "", participantId: params.participantId ?? "", kind: form.value("kind") ?? "", subjectRef: form.value("subjectRef") ?? "", reason: form.value("reason") ?? "" });
    return json(done("exception", "rollout.done.exceptionRequested"));
  }),
  snapshot: /* @__PURE__ */ intent(takeSnapshot, async ({ ctx, params }) => {
    await takeSnapshot(ctx, { rolloutId: params.rolloutId ?? "", participantId: params.participantId ?? "" });
    return json(done("snapshot", "rollout.done.snapshot"));
  }),
});

export default function ParticipantRollout() {
  const { t, time, locale } = useI18n();
  const data = useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>();
  const failure = asFailure(actionData);
  const success = actionData && "ok" in actionData && actionData.ok === true ? actionData : null;
  const err = (name: string) => fieldMessage(failure, name, t);
  const checklistLabel = (item: string) => (item === "standby_systems" || item === "retained_credentials" || item === "contact_person" ? t(`rollout.checklist.item.${item}` as MessageKey) : item);
  const participantName = locale === "zh-HK" ? data.participant.nameZh : data.participant.nameEn;
  return (
    <>
      <p>
        <Link to={`/rollouts/${data.rollout.id}`}>{t("rollout.participant.back")}</Link>
      </p>
      <section className="panel" aria-labelledby="participant-rollout-title">
        <h1 id="participant-rollout-title">
          {t("rollout.participant.title", { participant: `${data.participant.id} ${participantName}`, rollout: data.rollout.name })}{" "}
          <span className="badge">{data.readiness.ready ? t("rollout.ready") : t("rollout.notReady")}</span>
        </h1>
        <p>
          {t(`rollout.phase.${data.phase}` as MessageKey)}
          {data.readiness.reasons.length ? ` · ${data.readiness.reasons.map((r) => t(`rollout.reason.${r}` as MessageKey)).join("; ")}` : ""}
        </p>
        {data.frozen ? <p className="notice">{t("rollout.frozen")}</p> : null}
        {success ? (
          <p role="status" className="form-success">
            {t(success.messageKey)}
          </p>
        ) : null}
        <FormMessage failure={failure} />
      </section>

      <section className="panel" aria-labelledby="snapshot-title">
        <h2 id="snapshot-title">{t("rollout.snapshot.title")}</h2>
        {data.snapshot ? (
          <>
            <p>{t("rollout.snapshot.takenAt", { time: time(data.snapshot.takenAt) })}</p>
            <p>
              {t("rollout.snapshot.digest")}: <code>{data.snapshot.digest}</code>
            </p>
            <p className={data.snapshot.sealed ? "notice" : "form-error"}>{data.snapshot.sealed ? t("rollout.snapshot.sealed") : t("rollout.snapshot.broken")}</p>
            <div className="table-wrap">
              <table>
                <caption>{t("rollout.snapshot.users")}</caption>
                <thead>
                  <tr>
                    <th scope="col">{t("rollout.snapshot.users")}</th>
                    <th scope="col">{t("rollout.snapshot.roles")}</th>
                  </tr>
                </thead>
                <tbody>
                  {data.snapshot.users.map((u) => (
                    <tr key={u.id}>
                      <td>
                        {u.displayName} &lt;{u.email}&gt; · {t(`userStatus.${u.status}` as MessageKey)}
                      </td>
                      <td>{u.roles.map((code) => (data.roleNames[code] ? nameIn(locale, data.roleNames[code]) : code)).join(locale === "zh-HK" ? "、" : ", ")}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            {data.snapshot.clients.length ? (
              <div className="table-wrap">
                <table>
                  <caption>{t("rollout.snapshot.clients")}</caption>
                  <thead>
                    <tr>
                      <th scope="col">{t("rollout.snapshot.clients")}</th>
                      <th scope="col">{t("rollout.snapshot.keys")}</th>
                    </tr>
                  </thead>
                  <tbody>
                    {data.snapshot.clients.map((c) => (
                      <tr key={c.id}>
                        <td>
                          {c.name} ({c.clientId}, {t(`credentials.env.${c.environment}` as MessageKey)})
                        </td>
                        <td>
                          {c.keys.map((k) => (
                            <code key={k}>{k} </code>
                          ))}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            ) : null}
          </>
        ) : (
          <>
            <p>{t("rollout.snapshot.none", { time: time(data.rollout.cutoffAt) })}</p>
            {data.can.manage ? (
              <IntentForm intent="snapshot" className="inline-form">
                <button type="submit" className="button secondary">
                  {t("rollout.snapshot.takeNow")}
                </button>
              </IntentForm>
            ) : null}
          </>
        )}
      </section>

      {data.snapshot ? (
        <section className="panel" aria-labelledby="diff-title">
          <h2 id="diff-title">{t("rollout.diff.title")}</h2>
          {data.diff.length === 0 ? (
            <p>{t("rollout.diff.none")}</p>
          ) : (
            <div className="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">{t("rollout.diff.what")}</th>
                    <th scope="col">{t("rollout.diff.subject")}</th>
                    <th scope="col">{t("rollout.diff.consequence")}</th>
                  </tr>
                </thead>
                <tbody>
                  {data.diff.map((d) => (
                    <tr key={`${d.kind}-${d.ref}`}>
                      <td>{t(`rollout.diff.kind.${d.kind}` as MessageKey)}</td>
                      <td>{d.label}</td>
                      <td>{t(`rollout.diff.then.${d.kind}` as MessageKey)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <p>
            <a href={`/rollouts/${data.rollout.id}/participants/${data.participant.id}/export`}>{t("rollout.diff.export")}</a>
          </p>
        </section>
      ) : null}

      <section className="panel" aria-labelledby="results-title">
        <h2 id="results-title">{t("rollout.results.title")}</h2>
        <p>{t("rollout.results.intro")}</p>
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">{t("rollout.diff.subject")}</th>
                <th scope="col">{t("rollout.outcome")}</th>
                {data.can.record ? <th scope="col">{t("rollout.result.record")}</th> : null}
              </tr>
            </thead>
            <tbody>
              {data.subjects.map((s) => {
                const name = `${t(`rollout.subject.${s.subjectKind}` as MessageKey)}: ${locale === "zh-HK" ? s.labelZh : s.label}`;
                return (
                  <tr key={`${s.subjectKind}-${s.subjectRef}`}>
                    <td>{name}</td>
                    <td>
                      {s.result ? (
                        <>
                          {t(`rollout.outcome.${s.result.outcome}` as MessageKey)}
                          {s.result.reason ? ` · ${s.result.reason}` : ""}
                          {s.result.evidence ? ` · ${s.result.evidence}` : ""} · {s.result.recordedByName ?? "—"} ·{" "}
                          {s.result.confirmedByName ? t("rollout.result.confirmedBy", { name: s.result.confirmedByName }) : t("rollout.result.unconfirmed")}
                          {!s.result.confirmedByName && data.can.confirm && !s.result.mine ? (
                            <IntentForm intent="confirm" className="inline-form">
                              <input type="hidden" name="resultId" value={s.result.id} />
                              <button type="submit" className="button primary" aria-label={`${t("rollout.result.confirm")}: ${name}`}>
                                {t("rollout.result.confirm")}
                              </button>
                            </IntentForm>
                          ) : null}
                        </>
                      ) : (
                        t("rollout.result.none")
                      )}
                    </td>
                    {data.can.record ? (
                      <td>
                        <IntentForm intent="record" className="inline-form" aria-label={`${t("rollout.result.record")}: ${name}`}>
                          <input type="hidden" name="subjectKind" value={s.subjectKind} />
                          <input type="hidden" name="subjectRef" value={s.subjectRef} />
                          <label>
                            {t("rollout.outcome")}{" "}
                            <select name="outcome" defaultValue={s.result?.outcome ?? "verified"} aria-label={`${t("rollout.outcome")}: ${name}`}>
                              {VERIFICATION_OUTCOMES.map((o) => (
                                <option key={o} value={o}>
                                  {t(`rollout.outcome.${o}`)}
                                </option>
                              ))}
                            </select>
                          </label>{" "}
                          <label>
                            {t("rollout.result.reason")} <input name="reason" aria-label={`${t("rollout.result.reason")}: ${name}`} />
                          </label>{" "}
                          <label>
                            {t("rollout.result.evidence")} <input name="evidence" aria-label={`${t("rollout.result.evidence")}: ${name}`} />
                          </label>{" "}
                          <button type="submit" className="button secondary" aria-label={`${t("rollout.result.record")}: ${name}`}>
                            {t("rollout.result.record")}
                          </button>
                        </IntentForm>
                      </td>
                    ) : null}
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
        {err("reason") ? <p className="field-error">{err("reason")}</p> : null}
      </section>

      <section className="panel" aria-labelledby="checklist-title">
        <h2 id="checklist-title">{t("rollout.checklist.title")}</h2>
        {data.checklist.by && data.checklist.at ? <p>{t("rollout.checklist.confirmedBy", { name: data.checklist.by, time: time(data.checklist.at) })}</p> : null}
        {data.can.record ? (
          <IntentForm intent="checklist" className="stacked-form">
            <fieldset className="field">
              <legend>{t("rollout.checklist.title")}</legend>
              {data.rollout.checklist.map((item) => (
                <label key={item} className="checkbox">
                  <input type="checkbox" name="items" value={item} defaultChecked={data.checklist.confirmed.includes(item)} /> {checklistLabel(item)}
                </label>
              ))}
            </fieldset>
            <TextField name="contactPerson" label={t("rollout.checklist.contact")} defaultValue={data.checklist.contactPerson ?? undefined} error={err("contactPerson")} />
            <button type="submit" className="button secondary">
              {t("rollout.checklist.confirm")}
            </button>
          </IntentForm>
        ) : (
          <ul>
            {data.rollout.checklist.map((item) => (
              <li key={item}>
                {data.checklist.confirmed.includes(item) ? "✓ " : "○ "}
                {checklistLabel(item)}
              </li>
            ))}
          </ul>
        )}
      </section>

      <section className="panel" aria-labelledby="exception-title">
        <h2 id="exception-title">{t("rollout.exceptions")}</h2>
        {data.exceptions.length === 0 ? <p>{t("rollout.exceptions.none")}</p> : null}
        <ul className="plain">
          {data.exceptions.map((e) => (
            <li key={e.id}>
              {t(`rollout.exception.kind.${e.kind}` as MessageKey)} · {e.subjectRef} · {e.reason} · <span className="badge">{t(`rollout.exception.status.${e.status}` as MessageKey)}</span>
            </li>
          ))}
        </ul>
        {data.can.record && data.frozen ? (
          <IntentForm intent="exception" className="stacked-form">
            <div className="field">
              <label htmlFor="field-kind">{t("rollout.exception.kind")}</label>
              <select id="field-kind" name="kind">
                {FREEZE_EXCEPTION_KINDS.map((k) => (
                  <option key={k} value={k}>
                    {t(`rollout.exception.kind.${k}`)}
                  </option>
                ))}
              </select>
            </div>
            <TextField name="subjectRef" label={t("rollout.exception.subject")} required error={err("subjectRef")} />
            <TextField name="reason" label={t("rollout.exception.reason")} required />
            <button type="submit" className="button secondary">
              {t("rollout.exception.request")}
            </button>
          </IntentForm>
        ) : null}
      </section>
    </>
  );
}
