import { json, redirect } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData, useNavigation } from "@remix-run/react";
import { protectedAction, protectedLoader } from "~/auth/guard.server";
import { mayOn } from "~/modules/tenancy.server";
import { asFailure, FormMessage, fieldMessage } from "~/components/form-feedback";
import { ParticipantPickerField } from "~/components/pickers";
import { useI18n } from "~/i18n/use-i18n";
import { type MessageKey } from "~/i18n/messages";
import { AppError } from "~/lib/errors";
import { participantPicker } from "~/modules/participants/service.server";
import { IMPORT_COLUMNS, MAX_IMPORT_BYTES, checkImport, pageImportRuns } from "~/modules/users/import.server";
import { titled } from "~/lib/meta";
import { Pager } from "~/components/data-table";
import { pagingFrom } from "~/lib/paging";


export const meta = titled("imports.title");
export const loader = /* @__PURE__ */ protectedLoader("user:import", async ({ ctx, request }) => {
  const officer = mayOn(ctx.actor, "user:import", null);
  const { rows: runs, info } = await pageImportRuns(ctx, pagingFrom(new URL(request.url).searchParams, ["createdAt"], { sort: "createdAt", dir: "desc" }));
  return json({
    officer,
    ownParticipant: ctx.actor.participantId,
    participants: officer ? await participantPicker(ctx) : [],
    columns: [...IMPORT_COLUMNS],
    info,
    runs: runs.map((r) => ({ ...r, createdAt: r.createdAt.toISOString(), appliedAt: r.appliedAt?.toISOString() ?? null })),
  });
});

export const action = /* @__PURE__ */ protectedAction("user:import", async ({ ctx, request, form }) => {
  const length = Number(request.headers.get("Content-Length") ?? 0);
  if (length > MAX_IMPORT_BYTES + 64 * 1024) throw new AppError(400, "import.error.tooLarge", { file: "import.error.tooLarge" });
  const file = form.file("file");
  if (!file || file.size === 0) throw new AppError(400, "error.badRequest", { file: "import.error.noFile" });
  if (file.size > MAX_IMPORT_BYTES) throw new AppError(400, "import.error.tooLarge", { file: "import.error.tooLarge" });
  const participantId = (form.value("participantId") ?? ctx.actor.participantId ?? "").trim().toUpperCase();
  const run = await checkImport(ctx, { participantId, fileName: file.name, text: await file.text() });
  return redirect(`/imports/${run.id}`);
});

export default function Imports() {
  const { t, time } = useI18n();
  const data = useLoaderData<typeof loader>();
  const failure = asFailure(useActionData<typeof action>());
  const navigation = useNavigation();
  return (
    <section aria-labelledby="imports-title">
      <h1 id="imports-title">{t("imports.title")}</h1>
      <section className="panel">
        <p>{t("imports.intro")}</p>
        <p className="muted">
          {/* The column names are what the file's first line must say, so they are shown as code, as typed. */}
          {t("imports.columns").split("{columns}").flatMap((part, i) =>
            i === 0
              ? [part]
              : [
                  ...data.columns.flatMap((c, j) => [j > 0 ? ", " : "", <code key={c}>{c}</code>]),
                  part,
                ],
          )}
        </p>
        <Form method="post" encType="multipart/form-data" className="stacked-form">
          <FormMessage failure={failure} />
          {data.officer ? (
            <ParticipantPickerField id="import-participant" label={t("users.participant")} options={data.participants} error={fieldMessage(failure, "participantId", t)} />
          ) : (
            <input type="hidden" name="participantId" value={data.ownParticipant ?? ""} />
          )}
          <div className="field">
            <label htmlFor="import-file">{t("imports.file")}</label>
            <input
              id="import-file"
              name="file"
              type="file"
              accept=".csv,text/csv"
              aria-invalid={failure?.fieldErrors.file ? true : undefined}
              aria-describedby={failure?.fieldErrors.file ? "import-file-error" : undefined}
            />
            {failure?.fieldErrors.file ? (
              <p className="field-error" id="import-file-error">
                {fieldMessage(failure, "file", t)}
              </p>
            ) : null}
          </div>
          <button type="submit" className="button primary" disabled={navigation.state === "submitting"}>
            {t("imports.check")}
          </button>
        </Form>
      </section>
      {data.runs.length > 0 ? (
        <section className="panel" aria-labelledby="runs-title">
          <h2 id="runs-title">{t("imports.recent")}</h2>
          <ul className="plain request-list">
            {data.runs.map((r) => (
              <li key={r.id}>
                <Link to={`/imports/${r.id}`}>{r.fileName}</Link> · {r.participantId} · {time(r.createdAt)} · {t("imports.rows", { rows: r.rowCount, errors: r.errorCount })} ·{" "}
                <span className={`badge import-${r.outcome}`}>{t(`importOutcome.${r.outcome}` as MessageKey)}</span>
              </li>
            ))}
          </ul>
          <Pager info={data.info} label={t("imports.recent")} />
        </section>
      ) : null}
    </section>
  );
}
