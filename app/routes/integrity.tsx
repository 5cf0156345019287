import { json } from "@remix-run/node";
import { Form, useActionData, useLoaderData } from "@remix-run/react";
import { protectedAction, protectedLoader } from "~/auth/guard.server";
import { asFailure, FormMessage } from "~/components/form-feedback";
import { useI18n } from "~/i18n/use-i18n";
import { counted } from "~/i18n/plural";
import { createCheckpoint, sharedIntegrityReport } from "~/modules/audit/checkpoint.server";
import { titled } from "~/lib/meta";


export const meta = titled("integrity.title");
export const loader = /* @__PURE__ */ protectedLoader("audit:manage", async ({ context }) => {
  // Views arriving during a walk share it (sharedIntegrityReport): one walk at a time per process.
  const report = await sharedIntegrityReport(context.db, context.config.auditCheckpointKey);
  return json({ ...report, keyConfigured: Boolean(context.config.auditCheckpointKey) });
});

export const action = /* @__PURE__ */ protectedAction("audit:manage", async ({ ctx, context }) => {
  const { checkpoint, jws } = await createCheckpoint(ctx, { key: context.config.auditCheckpointKey });
  return json({ ok: true as const, id: checkpoint.id, jws });
});

export default function Integrity() {
  const { t, time, locale } = useI18n();
  const data = useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>();
  const failure = asFailure(actionData);
  const broken = data.chains.filter((c) => !c.ok).length;
  return (
    <section aria-labelledby="integrity-title">
      <h1 id="integrity-title">{t("integrity.title")}</h1>
      <p>{t("integrity.intro")}</p>
      <p role="status" className={broken ? "form-error" : "notice"}>
        {broken ? counted(t, locale, "integrity.broken", broken) : counted(t, locale, "integrity.allIntact", data.chains.length)}
      </p>
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">{t("integrity.chain")}</th>
              <th scope="col">{t("integrity.events")}</th>
              <th scope="col">{t("integrity.state")}</th>
            </tr>
          </thead>
          <tbody>
            {data.chains.map((c) => (
              <tr key={c.chainKey}>
                <td>
                  <code>{c.chainKey}</code>
                </td>
                <td>{c.events}</td>
                <td className={c.ok ? undefined : "form-error"}>
                  {c.ok ? t("integrity.ok") : t("integrity.firstBreak", { seq: c.firstBreak!.seq, problem: c.firstBreak!.problem })}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <section className="panel" aria-labelledby="checkpoint-title">
        <h2 id="checkpoint-title">{t("integrity.checkpoint")}</h2>
        {!data.checkpoint ? (
          <p>{t("integrity.noCheckpoint")}</p>
        ) : data.checkpoint.signatureValid && data.checkpoint.problems.length === 0 ? (
          <p className="notice">{t("integrity.checkpointOk", { time: data.checkpoint.createdAt ? time(data.checkpoint.createdAt) : "—" })}</p>
        ) : (
          <>
            <p className="form-error">{t("integrity.checkpointBad", { time: data.checkpoint.createdAt ? time(data.checkpoint.createdAt) : "—" })}</p>
            <ul>
              {data.checkpoint.problems.map((p) => (
                <li key={`${p.chainKey}-${p.seq}`}>
                  <code>{p.chainKey}</code>: {p.problem}
                </li>
              ))}
            </ul>
          </>
        )}
        <FormMessage failure={failure} />
        {data.keyConfigured ? (
          <Form method="post">
            <button type="submit" className="button primary">
              {t("integrity.create")}
            </button>
          </Form>
        ) : (
          <p className="muted">{t("integrity.noKey")}</p>
        )}
        {actionData && "jws" in actionData ? (
          <div role="status">
            <p className="notice">{t("integrity.created")}</p>
            <p>
              <a href={`data:application/jose;charset=utf-8,${encodeURIComponent(actionData.jws)}`} download={`audit-checkpoint-${actionData.id}.jws`}>
                {t("integrity.download")}
              </a>
            </p>
            <textarea readOnly rows={4} aria-label={t("integrity.checkpoint")} value={actionData.jws} />
          </div>
        ) : null}
      </section>
    </section>
  );
}
