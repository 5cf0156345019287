import { json } from "@remix-run/node";
import { Form, Link, useLoaderData, useRevalidator } from "@remix-run/react";
import { useState } from "react";
import { protectedLoader } from "~/auth/guard.server";
import { mayOn } from "~/modules/tenancy.server";
import { useI18n } from "~/i18n/use-i18n";
import { isMessageKey, nameIn, translator, type MessageKey } from "~/i18n/messages";
import { localeOf } from "~/i18n/locale.server";
import { getCatalogue } from "~/modules/roles/catalogue.server";
import type { ImportRowError } from "~/modules/users/import.server";
import { getImportRun } from "~/modules/users/import.server";
import { titled } from "~/lib/meta";

const SHOWN_ROWS = 500;


export const meta = titled("imports.title");
export const loader = /* @__PURE__ */ protectedLoader("user:read", async ({ ctx, params, request }) => {
  const run = await getImportRun(ctx, params.runId ?? "");
  const locale = await localeOf(request);
  const t = translator(locale);
  // Roles by name in the reader's language, problems in plain words (issue 14): the report keeps codes and keys.
  const catalogue = (await getCatalogue(ctx.db)).roles;
  const roleName = (code: string) => {
    const role = catalogue.find((r) => r.code === code);
    return role ? nameIn(locale, role) : code;
  };
  const problemOf = (e: ImportRowError): string => {
    if (!e.messageKey || !isMessageKey(e.messageKey)) return e.message;
    const params: Record<string, string | number> = { ...e.params };
    for (const field of ["roleA", "roleB", "role"]) if (typeof params[field] === "string") params[`${field}Name`] = roleName(params[field]);
    return t(e.messageKey, params);
  };
  const problems = run.report
    .filter((r) => r.outcome === "error")
    .map((r) => ({ line: r.line, email: r.email, errors: (r.errors ?? []).map((e) => ({ column: e.column, problem: problemOf(e) })) }));
  return json({
    run: {
      id: run.id,
      fileName: run.fileName,
      participantId: run.participantId,
      outcome: run.outcome,
      rowCount: run.rowCount,
      errorCount: run.errorCount,
      appliedAt: run.appliedAt?.toISOString() ?? null,
    },
    canApply: mayOn(ctx.actor, "user:import", run.participantId) && run.outcome === "valid" && !run.appliedAt,
    problems: problems.slice(0, SHOWN_ROWS),
    applied: run.appliedAt ? run.report.slice(0, SHOWN_ROWS).map((r) => ({ ...r, roles: (r.roles ?? []).map(roleName) })) : [],
  });
});

type ProgressState = { phase: "idle" | "checking" | "writing" | "done" | "error"; done: number; total: number; messageKey?: string; params?: Record<string, string | number> };

export default function ImportRun() {
  const { t, time, locale } = useI18n();
  const data = useLoaderData<typeof loader>();
  const revalidator = useRevalidator();
  const [progress, setProgress] = useState<ProgressState>({ phase: "idle", done: 0, total: data.run.rowCount });
  const r = data.run;

  // With JavaScript the run streams its progress (NDJSON lines) into a progress bar; without, the form posts and
  // the page comes back when it is done.
  async function applyWithProgress(event: React.FormEvent<HTMLFormElement>) {
    if (typeof ReadableStream === "undefined") return;
    event.preventDefault();
    setProgress({ phase: "checking", done: 0, total: r.rowCount });
    const response = await fetch(event.currentTarget.action, {
      method: "POST",
      body: new FormData(event.currentTarget),
      headers: { Accept: "application/x-ndjson" },
    });
    const reader = response.body?.getReader();
    if (!reader) return;
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      const lines = buffer.split("\n");
      buffer = lines.pop() ?? "";
      for (const line of lines.filter(Boolean)) {
        const message = JSON.parse(line) as ProgressState;
        setProgress(message);
      }
    }
    revalidator.revalidate();
  }

  const percent = progress.total ? Math.round((progress.done / progress.total) * 100) : 0;
  return (
    <section aria-labelledby="run-title">
      <p>
        <Link to="/imports">{t("imports.title")}</Link>
      </p>
      <div className="panel">
        <h1 id="run-title">{t("imports.result", { file: r.fileName })}</h1>
        <p>
          {r.participantId} · {t("imports.rows", { rows: r.rowCount, errors: r.errorCount })}
        </p>
        {r.appliedAt ? (
          <p className="notice" role="status">
            {t("imports.applied", { time: time(r.appliedAt) })}
          </p>
        ) : r.outcome === "valid" ? (
          <p>{t("imports.valid")}</p>
        ) : (
          <p className="form-error">{t("imports.invalid")}</p>
        )}
        {data.canApply && progress.phase !== "done" ? (
          <Form method="post" action={`/imports/${r.id}/apply`} onSubmit={applyWithProgress}>
            <button type="submit" className="button primary" disabled={progress.phase !== "idle" && progress.phase !== "error"}>
              {t("imports.apply")}
            </button>
          </Form>
        ) : null}
        {progress.phase !== "idle" ? (
          <div className="progress" aria-live="polite">
            <label htmlFor="import-progress">{t("imports.progress")}</label>{" "}
            <progress id="import-progress" max={100} value={percent}>
              {percent}%
            </progress>{" "}
            {percent}%
            {progress.phase === "error" && progress.messageKey && isMessageKey(progress.messageKey) ? (
              <p role="alert" className="form-error">
                {t(progress.messageKey, progress.params)}
              </p>
            ) : null}
          </div>
        ) : null}
        <p>
          <a href={`/imports/${r.id}/report`} download>
            {t("imports.download")}
          </a>
        </p>
      </div>
      {data.problems.length > 0 ? (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">{t("imports.line")}</th>
                <th scope="col">{t("users.email")}</th>
                <th scope="col">{t("imports.column")}</th>
                <th scope="col">{t("imports.problem")}</th>
              </tr>
            </thead>
            <tbody>
              {data.problems.flatMap((row) =>
                (row.errors ?? []).map((e, i) => (
                  <tr key={`${row.line}-${i}`}>
                    <td>{row.line}</td>
                    <td>{row.email}</td>
                    <td>{e.column === "*" ? t("imports.wholeLine") : <code>{e.column}</code>}</td>
                    <td>{e.problem}</td>
                  </tr>
                )),
              )}
            </tbody>
          </table>
        </div>
      ) : null}
      {data.applied.length > 0 ? (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">{t("imports.line")}</th>
                <th scope="col">{t("users.email")}</th>
                <th scope="col">{t("imports.outcome")}</th>
                <th scope="col">{t("users.role")}</th>
              </tr>
            </thead>
            <tbody>
              {data.applied.map((row) => (
                <tr key={row.line}>
                  <td>{row.line}</td>
                  <td>{row.userId ? <Link to={`/users/${row.userId}`}>{row.email}</Link> : row.email}</td>
                  <td>{t(`importRowOutcome.${row.outcome}` as MessageKey)}</td>
                  <td>{row.roles.join(locale === "zh-HK" ? "、" : ", ")}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}
