import { json } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData } from "@remix-run/react";
import { intent, intentAction, protectedLoader } from "~/auth/guard.server";
import { IntentForm, TextField } from "~/components/field";
import { asFailure, FormMessage, fieldMessage } from "~/components/form-feedback";
import { useI18n } from "~/i18n/use-i18n";
import type { MessageKey } from "~/i18n/messages";
import { titled } from "~/lib/meta";
import { FALLBACK_DECISIONS, MILESTONES, NOT_READY_REASONS } from "~/modules/rollouts/constants";
import { decideFallback, decideFreezeException, endStabilisation, moveRolloutMilestone, proposeFallback, takeSnapshotsOf } from "~/modules/rollouts/service.server";
import { getDashboard, STATE_FILTERS, type StateFilter } from "~/modules/rollouts/views.server";

export const meta = titled("rollout.title");

function stateFilter(url: string): StateFilter {
  const value = new URL(url).searchParams.get("state") ?? "all";
  return (STATE_FILTERS as readonly string[]).includes(value) ? (value as StateFilter) : "all";
}

export const loader = /* @__PURE__ */ protectedLoader("rollout:read", async ({ ctx, params, request }) => {
  const filter = stateFilter(request.url);
  const now = new Date();
  const d = await getDashboard(ctx, params.rolloutId ?? "", filter, now);
  const left = d.next ? d.next.at.getTime() - now.getTime() : 0;
  return json({
    filter,
    rollout: {
      id: d.rollout.id,
      name: d.rollout.name,
      milestones: MILESTONES.map((m) => ({ milestone: m, at: d.rollout[m].toISOString(), passed: d.rollout[m].getTime() <= now.getTime() })),
      fallbackDecision: d.rollout.fallbackDecision,
      stabilisationEndedAt: d.rollout.stabilisationEndedAt?.toISOString() ?? null,
    },
    services: d.services,
    phase: d.phase,
    frozen: d.frozen,
    retained: d.retained,
    countdown: d.next ? { milestone: d.next.milestone, days: Math.floor(left / 86_400_000), hours: Math.floor((left % 86_400_000) / 3_600_000), minutes: Math.floor((left % 3_600_000) / 60_000) } : null,
    counts: d.counts,
    total: d.total,
    rows: d.rows.map((r) => ({ participantId: r.participantId, nameEn: r.nameEn, nameZh: r.nameZh, ready: r.readiness.ready, reasons: r.readiness.reasons })),
    fallback: d.fallback.map((f) => ({ id: f.id, decision: f.decision, reason: f.reason, status: f.status, proposedByName: f.proposedByName, mine: f.proposedBy === ctx.actor.userId })),
    exceptions: d.exceptions.map((e) => ({ id: e.id, participantId: e.participantId, kind: e.kind, subjectRef: e.subjectRef, reason: e.reason, status: e.status, requestedByName: e.requestedByName })),
    can: d.can,
  });
});

const done = (intent: string, messageKey: MessageKey, params: Record<string, string | number> = {}) => ({ ok: true as const, intent, messageKey, params });

export const action = /* @__PURE__ */ intentAction({
  move: /* @__PURE__ */ intent(moveRolloutMilestone, async ({ ctx, params, form }) => {
    await moveRolloutMilestone(ctx, { rolloutId: params.rolloutId ?? "", milestone: form.value("milestone") ?? "", to: form.value("to") ?? "", reason: form.value("reason") ?? "" });
    return json(done("move", "rollout.moved"));
  }),
  snapshots: /* @__PURE__ */ intent("rollout:manage", async ({ ctx, params }) => {
    const count = await takeSnapshotsOf(ctx, params.rolloutId ?? "");
    return json(done("snapshots", "rollout.snapshot.taken", { count }));
  }),
  propose: /* @__PURE__ */ intent(proposeFallback, async ({ ctx, params, form }) => {
    await proposeFallback(ctx, { rolloutId: params.rolloutId ?? "", decision: form.value("decision") ?? "", reason: form.value("reason") ?? "" });
    return json(done("propose", "rollout.done.fallbackProposed"));
  }),
  decideFallback: /* @__PURE__ */ intent(decideFallback, async ({ ctx, form }) => {
    await decideFallback(ctx, { decisionId: form.value("decisionId") ?? "", approve: form.value("approve") ?? "", comment: form.value("comment") });
    return json(done("decideFallback", "rollout.done.fallbackDecided"));
  }),
  decideException: /* @__PURE__ */ intent(decideFreezeException, async ({ ctx, form }) => {
    await decideFreezeException(ctx, { exceptionId: form.value("exceptionId") ?? "", approve: form.value("approve") ?? "", comment: form.value("comment") });
    return json(done("decideException", "rollout.done.exceptionDecided"));
  }),
  end: /* @__PURE__ */ intent(endStabilisation, async ({ ctx, params, form }) => {
    await endStabilisation(ctx, { rolloutId: params.rolloutId ?? "", reason: form.value("reason") });
    return json(done("end", "rollout.done.ended"));
  }),
});

const CHART_STATES = ["ready", ...NOT_READY_REASONS] as const;

/** Counts per state as a bar chart, each bar with its number as text; the same numbers in a list for everyone. */
function StateChart({ counts, total }: { counts: Record<(typeof CHART_STATES)[number], number>; total: number }) {
  const { t } = useI18n();
  const label = (s: (typeof CHART_STATES)[number]) => (s === "ready" ? t("rollout.state.ready") : t(`rollout.reason.${s}`));
  const max = Math.max(total, 1);
  const rowHeight = 28;
  const labelWidth = 260;
  const barWidth = 300;
  const summary = CHART_STATES.map((s) => `${label(s)} ${counts[s]}`).join(", ");
  return (
    <figure className="rollout-chart">
      <svg role="img" aria-labelledby="chart-title chart-desc" width={labelWidth + barWidth + 60} height={CHART_STATES.length * rowHeight + 8} viewBox={`0 0 ${labelWidth + barWidth + 60} ${CHART_STATES.length * rowHeight + 8}`}>
        <title id="chart-title">{t("rollout.chart.title")}</title>
        <desc id="chart-desc">{t("rollout.chart.desc", { summary })}</desc>
        {CHART_STATES.map((s, i) => {
          const width = Math.round((counts[s] / max) * barWidth);
          const y = i * rowHeight + 4;
          return (
            <g key={s}>
              <text x={0} y={y + 17} fontSize="14" fill="currentColor">
                {label(s)}
              </text>
              <rect x={labelWidth} y={y} width={Math.max(width, 1)} height={rowHeight - 8} fill={s === "ready" ? "#1b7f3b" : "#b3261e"} />
              <text x={labelWidth + Math.max(width, 1) + 6} y={y + 15} fontSize="14" fill="currentColor">
                {counts[s]}
              </text>
            </g>
          );
        })}
      </svg>
      <figcaption>{t("rollout.chart.title")}</figcaption>
    </figure>
  );
}

export default function RolloutDashboard() {
  const { t, time, locale } = useI18n();
  const data = useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>();
  const failure = asFailure(actionData);
  const success = actionData && "ok" in actionData && actionData.ok === true ? actionData : null;
  const err = (name: string) => fieldMessage(failure, name, t);
  const r = data.rollout;
  const openFallback = data.fallback.find((f) => f.status === "proposed");
  return (
    <>
      <p>
        <Link to="/rollouts">{t("rollout.title")}</Link>
      </p>
      <section className="panel" aria-labelledby="rollout-title">
        <h1 id="rollout-title">
          {r.name} <span className="badge">{t(`rollout.phase.${data.phase}` as MessageKey)}</span>
        </h1>
        <p>{data.services.map((s) => (locale === "zh-HK" ? s.nameZh : s.nameEn)).join(", ")}</p>
        {data.frozen ? <p className="notice">{t("rollout.frozen")}</p> : null}
        {data.retained ? <p className="notice">{t("rollout.retained")}</p> : null}
        {r.stabilisationEndedAt ? <p className="notice">{t("rollout.end.done", { time: time(r.stabilisationEndedAt) })}</p> : null}
        <p role="timer" aria-live="off">
          {data.countdown ? t("rollout.countdown", { milestone: t(`rollout.milestone.${data.countdown.milestone}` as MessageKey), days: data.countdown.days, hours: data.countdown.hours, minutes: data.countdown.minutes }) : t("rollout.countdown.none")}
        </p>
        <h2>{t("rollout.milestones")}</h2>
        <dl className="facts">
          {r.milestones.map((m) => (
            <div key={m.milestone}>
              <dt>{t(`rollout.milestone.${m.milestone}` as MessageKey)}</dt>
              <dd>{time(m.at)}</dd>
            </div>
          ))}
        </dl>
        {success ? (
          <p role="status" className="form-success">
            {t(success.messageKey, success.params)}
          </p>
        ) : null}
        <FormMessage failure={failure} />
      </section>

      <section className="panel" aria-labelledby="ready-title">
        <h2 id="ready-title">{t("rollout.chart.title")}</h2>
        <StateChart counts={data.counts} total={data.total} />
        <Form method="get" className="inline-form">
          <label htmlFor="state-filter">{t("rollout.filter.state")}</label>{" "}
          <select id="state-filter" name="state" defaultValue={data.filter}>
            <option value="all">{t("rollout.filter.all")}</option>
            <option value="ready">{t("rollout.state.ready")}</option>
            <option value="not_ready">{t("rollout.filter.notReady")}</option>
            {NOT_READY_REASONS.map((reason) => (
              <option key={reason} value={reason}>
                {t(`rollout.reason.${reason}`)}
              </option>
            ))}
          </select>{" "}
          <button type="submit" className="button secondary">
            {t("rollout.filter.apply")}
          </button>{" "}
          <a href={`/rollouts/${r.id}/export?state=${data.filter}`}>{t("rollout.export")}</a>
        </Form>
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">{t("rollout.table.participant")}</th>
                <th scope="col">{t("rollout.table.state")}</th>
                <th scope="col">{t("rollout.table.why")}</th>
              </tr>
            </thead>
            <tbody>
              {data.rows.map((row) => (
                <tr key={row.participantId}>
                  <td>
                    <Link to={`/rollouts/${r.id}/participants/${row.participantId}`}>
                      {row.participantId} {locale === "zh-HK" ? row.nameZh : row.nameEn}
                    </Link>
                  </td>
                  <td>
                    <span className="badge">{row.ready ? t("rollout.ready") : t("rollout.notReady")}</span>
                  </td>
                  <td>{row.reasons.map((reason) => t(`rollout.reason.${reason}` as MessageKey)).join("; ")}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>

      {data.exceptions.length > 0 || data.can.approve ? (
        <section className="panel" aria-labelledby="exceptions-title">
          <h2 id="exceptions-title">{t("rollout.exceptions")}</h2>
          {data.exceptions.length === 0 ? <p>{t("rollout.exceptions.none")}</p> : null}
          <ul className="plain">
            {data.exceptions.map((e) => (
              <li key={e.id}>
                {e.participantId} · {t(`rollout.exception.kind.${e.kind}` as MessageKey)} · {e.subjectRef} · {e.reason} · {e.requestedByName ?? "—"} · <span className="badge">{t(`rollout.exception.status.${e.status}` as MessageKey)}</span>
                {e.status === "pending" && data.can.approve ? (
                  <IntentForm intent="decideException" className="inline-form">
                    <input type="hidden" name="exceptionId" value={e.id} />
                    <button type="submit" name="approve" value="approve" className="button primary">
                      {t("rollout.fallback.approve")}
                    </button>{" "}
                    <button type="submit" name="approve" value="reject" className="button secondary">
                      {t("rollout.fallback.reject")}
                    </button>
                  </IntentForm>
                ) : null}
              </li>
            ))}
          </ul>
        </section>
      ) : null}

      <section className="panel" aria-labelledby="fallback-title">
        <h2 id="fallback-title">{t("rollout.fallback")}</h2>
        {r.fallbackDecision ? <p>{t("rollout.fallback.decided", { decision: t(`rollout.fallback.${r.fallbackDecision}` as MessageKey) })}</p> : <p>{t("rollout.fallback.none")}</p>}
        {openFallback ? (
          <div>
            <p>{t("rollout.fallback.proposed", { decision: t(`rollout.fallback.${openFallback.decision}` as MessageKey), name: openFallback.proposedByName ?? "—", reason: openFallback.reason })}</p>
            {data.can.decide && !openFallback.mine ? (
              <IntentForm intent="decideFallback" className="inline-form">
                <input type="hidden" name="decisionId" value={openFallback.id} />
                <button type="submit" name="approve" value="approve" className="button primary">
                  {t("rollout.fallback.approve")}
                </button>{" "}
                <button type="submit" name="approve" value="reject" className="button secondary">
                  {t("rollout.fallback.reject")}
                </button>
              </IntentForm>
            ) : null}
          </div>
        ) : null}
        {data.can.decide && !r.fallbackDecision && !openFallback && !r.stabilisationEndedAt ? (
          <IntentForm intent="propose" className="stacked-form">
            <fieldset className="field">
              <legend>{t("rollout.fallback.decision")}</legend>
              {FALLBACK_DECISIONS.map((d) => (
                <label key={d} className="checkbox">
                  <input type="radio" name="decision" value={d} defaultChecked={d === "continue"} /> {t(`rollout.fallback.${d}`)}
                </label>
              ))}
            </fieldset>
            <TextField name="reason" label={t("rollout.fallback.reason")} required error={err("reason")} />
            <button type="submit" className="button secondary">
              {t("rollout.fallback.propose")}
            </button>
          </IntentForm>
        ) : null}
      </section>

      {data.can.manage && !r.stabilisationEndedAt ? (
        <section className="panel" aria-labelledby="manage-title">
          <h2 id="manage-title">{t("rollout.move")}</h2>
          <IntentForm intent="move" className="stacked-form">
            <div className="field">
              <label htmlFor="field-milestone">{t("rollout.move.milestone")}</label>
              <select id="field-milestone" name="milestone">
                {r.milestones
                  .filter((m) => !m.passed)
                  .map((m) => (
                    <option key={m.milestone} value={m.milestone}>
                      {t(`rollout.milestone.${m.milestone}` as MessageKey)}
                    </option>
                  ))}
              </select>
            </div>
            <TextField name="to" label={t("rollout.move.to")} required error={err("to")} />
            <TextField name="reason" label={t("rollout.move.reason")} required error={err("reason")} />
            <button type="submit" className="button secondary">
              {t("rollout.move.submit")}
            </button>
          </IntentForm>
          <IntentForm intent="snapshots" className="inline-form">
            <button type="submit" className="button secondary">
              {t("rollout.snapshot.takeNow")}
            </button>
          </IntentForm>
          <h2 id="end-title">{t("rollout.end")}</h2>
          <IntentForm intent="end" className="stacked-form">
            <TextField name="reason" label={t("rollout.end.reason")} />
            <button type="submit" className="button secondary">
              {t("rollout.end")}
            </button>
          </IntentForm>
        </section>
      ) : null}
    </>
  );
}
