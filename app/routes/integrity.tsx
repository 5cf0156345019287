import { json } from "@remix-run/node";
import { useActionData, useLoaderData } from "@remix-run/react";
import { protectedAction, protectedLoader } from "~/auth/guard.server";
import { asFailure, FormMessage } from "~/components/form-feedback";
import { IntentForm } from "~/components/field";
import { useI18n } from "~/i18n/use-i18n";
import type { Translate } from "~/i18n/messages";
import { counted } from "~/i18n/plural";
import { createCheckpoint } from "~/modules/audit/checkpoint.server";
import { integrityPageData, verifyNow } from "~/modules/audit/walks.server";
import { titled } from "~/lib/meta";


export const meta = titled("integrity.title");
/**
 * The page reads the recorded walks (issue 16: walking every chain on each view took ~20 s at 1.5M events): the latest
 * finished walk with its broken chains, the running one, and the ten most recent. It never walks itself.
 */
export const loader = /* @__PURE__ */ protectedLoader("audit:manage", async ({ context }) => {
  const data = await integrityPageData(context.db);
  return json({ ...data, now: new Date().toISOString(), keyConfigured: Boolean(context.config.auditCheckpointKey) });
});

export const action = /* @__PURE__ */ protectedAction("audit:manage", async ({ ctx, context, form }) => {
  if (form.value("intent") === "verify") {
    // Starts the walk and answers at once; the walk runs in this process and records its result.
    const walk = await verifyNow(ctx, context.config.auditCheckpointKey, context.logger);
    return json({ ok: true as const, intent: "verify" as const, walkId: walk.id });
  }
  const { checkpoint, jws } = await createCheckpoint(ctx, { key: context.config.auditCheckpointKey });
  return json({ ok: true as const, intent: "checkpoint" as const, id: checkpoint.id, jws });
});

function ago(t: Translate, from: string, now: string): string {
  const minutes = Math.max(0, Math.floor((Date.parse(now) - Date.parse(from)) / 60_000));
  if (minutes < 1) return t("integrity.ago.now");
  if (minutes < 60) return t("integrity.ago.minutes", { count: minutes });
  if (minutes < 48 * 60) return t("integrity.ago.hours", { count: Math.floor(minutes / 60) });
  return t("integrity.ago.days", { count: Math.floor(minutes / 1440) });
}

interface WalkWho {
  startedVia: string;
  startedByName: string | null;
}

function who(t: Translate, walk: WalkWho): string {
  if (walk.startedVia === "job") return t("integrity.walk.via.job");
  if (walk.startedVia === "cli") return t("integrity.walk.via.cli");
  return t("integrity.walk.via.person", { name: walk.startedByName ?? "—" });
}

export default function Integrity() {
  const { t, time, number, locale } = useI18n();
  const data = useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>();
  const failure = asFailure(actionData);
  const latest = data.latest;
  const running = data.running;
  return (
    <section aria-labelledby="integrity-title">
      <h1 id="integrity-title">{t("integrity.title")}</h1>
      <p>{t("integrity.intro")}</p>
      <section className="panel" aria-labelledby="walk-title">
        <h2 id="walk-title">{t("integrity.walk.title")}</h2>
        {!latest ? (
          <p role="status" className="notice">
            {t("integrity.walk.none")}
          </p>
        ) : latest.failure ? (
          <p role="status" className="form-error">
            {t("integrity.walk.failed", { time: time(latest.startedAt), failure: latest.failure })}
          </p>
        ) : (
          <>
            <p role="status" className={latest.brokenChains.length ? "form-error" : "notice"}>
              {latest.brokenChains.length ? counted(t, locale, "integrity.broken", latest.brokenChains.length, number) : counted(t, locale, "integrity.allIntact", latest.chains ?? 0, number)}
            </p>
            <p>
              {t("integrity.walk.summary", {
                time: time(latest.finishedAt ?? latest.startedAt),
                ago: ago(t, latest.finishedAt ?? latest.startedAt, data.now),
                who: who(t, latest),
                chains: number(latest.chains ?? 0),
                events: number(latest.events ?? 0),
              })}{" "}
              <span className="muted">{t("integrity.walk.stale")}</span>
            </p>
            {latest.brokenChains.length ? (
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
                    {latest.brokenChains.map((c) => (
                      <tr key={c.chainKey}>
                        <td>
                          <code>{c.chainKey}</code>
                        </td>
                        <td>{number(c.events)}</td>
                        <td className="form-error">{c.firstBreak ? t("integrity.firstBreak", { seq: c.firstBreak.seq, problem: c.firstBreak.problem }) : "—"}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            ) : null}
          </>
        )}
        {running ? (
          <p role="status" className="notice">
            {t("integrity.walk.running", { time: time(running.startedAt), ago: ago(t, running.startedAt, data.now), who: who(t, running) })}
          </p>
        ) : null}
        {actionData && "intent" in actionData && actionData.intent === "verify" ? <p className="notice">{t("integrity.walk.started")}</p> : null}
        {failure ? <FormMessage failure={failure} /> : null}
        <IntentForm intent="verify">
          <button type="submit" className="button primary">
            {t("integrity.walk.verifyNow")}
          </button>
        </IntentForm>
      </section>
      <section className="panel" aria-labelledby="checkpoint-title">
        <h2 id="checkpoint-title">{t("integrity.checkpoint")}</h2>
        {!latest || latest.failure ? null : !latest.checkpoint ? (
          <p>{t("integrity.noCheckpoint")}</p>
        ) : latest.checkpoint.signatureValid && latest.checkpoint.problems.length === 0 ? (
          <p className="notice">{t("integrity.checkpointOk", { time: latest.checkpoint.createdAt ? time(latest.checkpoint.createdAt) : "—" })}</p>
        ) : (
          <>
            <p className="form-error">{t("integrity.checkpointBad", { time: latest.checkpoint.createdAt ? time(latest.checkpoint.createdAt) : "—" })}</p>
            <ul>
              {latest.checkpoint.problems.map((p) => (
                <li key={`${p.chainKey}-${p.seq}`}>
                  <code>{p.chainKey}</code>: {p.problem}
                </li>
              ))}
            </ul>
          </>
        )}
        {data.keyConfigured ? (
          <IntentForm intent="checkpoint">
            <button type="submit" className="button">
              {t("integrity.create")}
            </button>
          </IntentForm>
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
      {data.recent.length ? (
        <section className="panel" aria-labelledby="recent-walks-title">
          <h2 id="recent-walks-title">{t("integrity.walk.recent")}</h2>
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">{t("integrity.walk.startedAt")}</th>
                  <th scope="col">{t("integrity.walk.finishedAt")}</th>
                  <th scope="col">{t("integrity.walk.by")}</th>
                  <th scope="col">{t("integrity.walk.chains")}</th>
                  <th scope="col">{t("integrity.events")}</th>
                  <th scope="col">{t("integrity.walk.result")}</th>
                </tr>
              </thead>
              <tbody>
                {data.recent.map((w) => (
                  <tr key={w.id}>
                    <td>{time(w.startedAt)}</td>
                    <td>{w.finishedAt ? time(w.finishedAt) : "—"}</td>
                    <td>{who(t, w)}</td>
                    <td>{w.chains === null ? "—" : number(w.chains)}</td>
                    <td>{w.events === null ? "—" : number(w.events)}</td>
                    <td className={w.ok === false ? "form-error" : undefined}>
                      {!w.finishedAt
                        ? t("integrity.walk.resultRunning")
                        : w.failure
                          ? t("integrity.walk.resultFailed")
                          : w.ok
                            ? t("integrity.walk.resultOk")
                            : t("integrity.walk.resultBroken")}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      ) : null}
    </section>
  );
}
