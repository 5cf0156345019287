import { useI18n } from "~/i18n/use-i18n";
import type { MessageKey } from "~/i18n/messages";
import type { RunView } from "~/modules/certification/service.server";

/** The run as the page and the printable summary show it. */
export function runData(view: RunView) {
  const { run } = view;
  return {
    run: {
      id: run.id,
      participantId: run.participantId,
      environment: run.environment,
      programName: run.programName,
      programVersion: run.programVersion,
      vendor: run.vendor,
      catalogueVersion: run.catalogueVersion,
      status: run.status,
      startedAt: run.startedAt.toISOString(),
      decidedAt: run.decidedAt?.toISOString() ?? null,
      declaration: run.declaration,
      returnReason: run.returnReason,
      staleAt: run.staleAt?.toISOString() ?? null,
      staleReason: run.staleReason,
    },
    participant: { id: view.participant.id, nameEn: view.participant.nameEn, nameZh: view.participant.nameZh },
    client: view.client,
    names: {
      startedBy: run.startedBy ? (view.names[run.startedBy] ?? null) : null,
      submittedBy: run.submittedBy ? (view.names[run.submittedBy] ?? null) : null,
      confirmedBy: run.confirmedBy ? (view.names[run.confirmedBy] ?? null) : null,
      decidedBy: run.decidedBy ? (view.names[run.decidedBy] ?? null) : null,
    },
    cases: view.cases.map((c) => ({
      code: c.caseCode,
      serviceCode: c.serviceCode,
      titleEn: c.titleEn,
      titleZh: c.titleZh,
      steps: c.steps,
      expectedResult: c.expectedResult,
      mandatory: c.mandatory,
      attempts: view.results
        .filter((r) => r.caseCode === c.caseCode)
        .map((r) => ({ attempt: r.attempt, outcome: r.outcome, evidence: r.evidence, jwtCheck: r.jwtCheck, by: r.recordedByName, at: r.recordedAt.toISOString() })),
    })),
    missing: view.missing,
  };
}

export type RunData = ReturnType<typeof runData>;

export function RunFacts({ data }: { data: RunData }) {
  const { t, time, locale } = useI18n();
  const r = data.run;
  return (
    <dl className="facts">
      <dt>{t("cert.participant")}</dt>
      <dd>
        {data.participant.id} {locale === "zh-HK" ? data.participant.nameZh : data.participant.nameEn}
      </dd>
      <dt>{t("cert.program")}</dt>
      <dd>
        {r.programName} {r.programVersion}
        {r.vendor ? ` (${r.vendor})` : ""}
      </dd>
      <dt>{t("cert.environment")}</dt>
      <dd>{t(`cert.env.${r.environment}` as MessageKey)}</dd>
      <dt>{t("cert.apiClient")}</dt>
      <dd>{data.client ? `${data.client.name} (${data.client.clientId})` : "—"}</dd>
      <dt>{t("cert.catalogueVersion")}</dt>
      <dd>{r.catalogueVersion}</dd>
      <dt>{t("cert.startedAt")}</dt>
      <dd>
        {time(r.startedAt)}
        {data.names.startedBy ? ` · ${data.names.startedBy}` : ""}
      </dd>
      <dt>{t("cert.statusLabel")}</dt>
      <dd>
        <span className={`badge outcome-${r.status === "signed_off" ? "passed" : r.status === "stale" || r.status === "returned" ? "failed" : "none"}`}>{t(`cert.status.${r.status}` as MessageKey)}</span>
        {r.status === "signed_off" && r.decidedAt ? <> {t("cert.signedOffBy", { name: data.names.decidedBy ?? "—", at: time(r.decidedAt) })}</> : null}
        {r.returnReason && r.status === "returned" ? <> {t("cert.returnedWith", { reason: r.returnReason })}</> : null}
        {r.staleAt ? <> {t("cert.staleBecause", { at: time(r.staleAt), reason: r.staleReason ?? "" })}</> : null}
      </dd>
      {r.declaration ? (
        <>
          <dt>{t("cert.declaration")}</dt>
          <dd>{r.declaration}</dd>
        </>
      ) : null}
    </dl>
  );
}

/** Cases × attempts: every cell says its outcome in words; the colour only repeats it. */
export function ResultsMatrix({ data, details = false }: { data: RunData; details?: boolean }) {
  const { t, time, locale } = useI18n();
  const width = Math.max(1, ...data.cases.map((c) => c.attempts.length));
  const mandatory = data.cases.filter((c) => c.mandatory);
  const passed = mandatory.filter((c) => c.attempts.at(-1)?.outcome === "passed").length;
  return (
    <section aria-labelledby="matrix-title">
      <h2 id="matrix-title">{t("cert.matrix")}</h2>
      <p>{t("cert.progress", { passed, mandatory: mandatory.length })}</p>
      <div className="table-wrap">
        <table className="results-matrix">
          <caption>{t("cert.matrixCaption")}</caption>
          <thead>
            <tr>
              <th scope="col">{t("cert.case")}</th>
              <th scope="col">{t("cert.caseTitle")}</th>
              {Array.from({ length: width }, (_, i) => (
                <th scope="col" key={i}>
                  {t("cert.attempt", { n: i + 1 })}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {data.cases.map((c) => (
              <tr key={c.code}>
                <th scope="row">
                  {c.code}
                  <br />
                  <span className="muted">{c.mandatory ? t("cert.mandatory") : t("cert.optional")}</span>
                </th>
                <td>
                  {locale === "zh-HK" ? c.titleZh : c.titleEn}
                  {details ? (
                    <>
                      <br />
                      <span className="muted">
                        {t("cert.expected")}: {c.expectedResult}
                      </span>
                    </>
                  ) : null}
                </td>
                {Array.from({ length: width }, (_, i) => {
                  const a = c.attempts[i];
                  if (!a) {
                    return <td key={i}>{i === 0 ? <span className="badge outcome-none">{t("cert.outcome.none")}</span> : null}</td>;
                  }
                  return (
                    <td key={i}>
                      <span className={`badge outcome-${a.outcome}`}>{t(`cert.outcome.${a.outcome}` as MessageKey)}</span>
                      <br />
                      <span className="muted">{t("cert.recordedBy", { name: a.by ?? t("cert.machine"), at: time(a.at) })}</span>
                      {details ? (
                        <>
                          <br />
                          {a.evidence}
                          {a.jwtCheck ? (
                            <>
                              <br />
                              <span className="muted">JWT: {a.jwtCheck}</span>
                            </>
                          ) : null}
                        </>
                      ) : null}
                    </td>
                  );
                })}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

