import { json } from "@remix-run/node";
import { Link, useLoaderData } from "@remix-run/react";
import { z } from "zod";
import { PARTICIPANT_STATUSES, PARTICIPANT_TYPES } from "~/modules/participants/constants";
import { protectedLoader } from "~/auth/guard.server";
import { useI18n } from "~/i18n/use-i18n";
import type { MessageKey } from "~/i18n/messages";
import { PIPELINE_SORTS, pipelineBoard, pipelineList, pipelineSummary } from "~/modules/onboarding/service.server";
import { Pager, SortHeader, useQueryWith } from "~/components/data-table";
import { pagingFrom } from "~/lib/paging";
import { certificationStatuses } from "~/modules/certification/service.server";
import { ParticipantFilters } from "~/components/participant-filters";
import { titled } from "~/lib/meta";

const Filters = z.object({
  type: z.enum(PARTICIPANT_TYPES).optional().catch(undefined),
  status: z.enum(PARTICIPANT_STATUSES).optional().catch(undefined),
});


export const meta = titled("pipeline.title");
const BOARD_LIMIT = 300;
const ListFilters = z.object({
  step: z.string().max(40).optional().catch(undefined),
  overdue: z.literal("1").optional().catch(undefined),
  view: z.enum(["list", "board"]).catch("list"),
});

/**
 * The pipeline (issues 13 and 16): a summary of every step with open and overdue counts from one aggregate query,
 * then the open steps as a paged list — or, for a filtered set small enough to read, the board.
 */
export const loader = /* @__PURE__ */ protectedLoader("case:read", async ({ ctx, request }) => {
  const params = new URL(request.url).searchParams;
  const filters = Filters.parse({ type: params.get("type") ?? undefined, status: params.get("status") ?? undefined });
  const list = ListFilters.parse({ step: params.get("step") ?? undefined, overdue: params.get("overdue") ?? undefined, view: params.get("view") ?? undefined });
  const summary = await pipelineSummary(ctx, filters);
  const step = list.step && (list.step === "live" || summary.steps.some((s) => s.stepKey === list.step)) ? list.step : undefined;
  const boardFits = summary.total <= BOARD_LIMIT;
  const paging = pagingFrom(params, PIPELINE_SORTS, { sort: "participant", dir: "asc" });
  const [page, board] = await Promise.all([
    pipelineList(ctx, { ...filters, step, overdueOnly: list.overdue === "1" }, paging),
    list.view === "board" && boardFits ? pipelineBoard(ctx, filters) : null,
  ]);
  // The certification status of the participants shown (this page's rows, or the board's cards), one query.
  const shown = [...new Set([...page.rows, ...(board ? [...board.columns.flatMap((c) => c.cards), ...board.live] : [])].map((c) => c.participantId))];
  const statuses = await certificationStatuses(ctx.db, shown);
  const certification: Record<string, string> = Object.fromEntries([...statuses].map(([id, s]) => [id, s.current ? "signed_off" : s.status]));
  return json({ filters, step, overdueOnly: list.overdue === "1", view: list.view, boardFits, boardLimit: BOARD_LIMIT, summary, paging, page, board, certification });
});

type Data = ReturnType<typeof useLoaderData<typeof loader>>;

/** Open and overdue per step as horizontal bars (SVG: sizes are attributes, so the CSP needs no inline style). */
function StepBars({ data }: { data: Data }) {
  const { t, number } = useI18n();
  const rows = [...data.summary.steps.map((s) => ({ key: s.stepKey, label: t(s.titleKey as MessageKey), open: s.open, overdue: s.overdue })), { key: "live", label: t("pipeline.live"), open: data.summary.live, overdue: 0 }];
  const max = Math.max(1, ...rows.map((r) => r.open));
  const withQuery = useQueryWith();
  const link = (key: string) => withQuery({ step: key, page: null, overdue: null });
  return (
    <table className="step-bars">
      <caption>{t("pipeline.summaryCaption", { count: number(data.summary.total) })}</caption>
      <thead>
        <tr>
          <th scope="col">{t("pipeline.step")}</th>
          <th scope="col">{t("pipeline.openCount")}</th>
          <th scope="col">{t("pipeline.overdueHeading")}</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r, i) => (
          <tr key={r.key} className={data.step === r.key ? "selected" : undefined}>
            <th scope="row">
              <Link to={link(r.key)} aria-current={data.step === r.key ? "true" : undefined}>
                {r.key === "live" ? "" : `${i + 1}. `}
                {r.label}
              </Link>
            </th>
            <td>
              <svg width="260" height="16" aria-hidden="true" focusable="false">
                <rect x="0" y="2" width={260} height="12" className="bar-track" />
                <rect x="0" y="2" width={Math.round((260 * r.open) / max)} height="12" className={r.key === "live" ? "bar-live" : "bar-open"} />
                <rect x="0" y="2" width={Math.round((260 * r.overdue) / max)} height="12" className="bar-overdue" />
              </svg>{" "}
              <span className="bar-number">{number(r.open)}</span>
            </td>
            <td>{r.overdue > 0 ? <strong className="overdue-text">{number(r.overdue)}</strong> : <span className="muted">0</span>}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function PipelineTable({ data }: { data: Data }) {
  const { t, locale } = useI18n();
  const sort = { current: data.paging.sort, dir: data.paging.dir };
  const titleOf = (key: string) => data.summary.steps.find((s) => s.stepKey === key)?.titleKey;
  if (data.page.rows.length === 0) return <p>{t("pipeline.empty")}</p>;
  return (
    <>
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <SortHeader column="participant" {...sort}>
                {t("participants.id")}
              </SortHeader>
              <th scope="col">{t("participants.type")}</th>
              <SortHeader column="step" {...sort}>
                {t("pipeline.step")}
              </SortHeader>
              <th scope="col">{t("pipeline.state")}</th>
              <SortHeader column="dueDate" {...sort}>
                {t("pipeline.dueDate")}
              </SortHeader>
              <th scope="col">{t("cert.statusOnParticipant")}</th>
            </tr>
          </thead>
          <tbody>
            {data.page.rows.map((r) => {
              const live = data.step === "live";
              const title = titleOf(r.stepKey);
              return (
                <tr key={`${r.participantId}-${r.stepKey}`} className={r.overdue ? "overdue-row" : undefined}>
                  <td>
                    <Link to={`/participants/${r.participantId}`}>{r.participantId}</Link> <span className="small">{locale === "zh-HK" ? r.nameZh : r.nameEn}</span>
                  </td>
                  <td>{t(`participantType.${r.type}` as MessageKey)}</td>
                  <td>{live ? t("pipeline.live") : <Link to={`/participants/${r.participantId}/steps/${r.stepKey}`}>{title ? t(title as MessageKey) : r.stepKey}</Link>}</td>
                  <td>{live ? "—" : <span className={`badge state-${r.state}`}>{t(`stepState.${r.state}` as MessageKey)}</span>}</td>
                  <td>
                    {r.dueDate ?? "—"}
                    {r.overdue ? <span className="badge overdue-badge"> {t("case.overdue")}</span> : null}
                  </td>
                  <td>{data.certification[r.participantId] && data.certification[r.participantId] !== "none" ? t(`cert.status.${data.certification[r.participantId]}` as MessageKey) : "—"}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      <Pager info={data.page.info} label={t("pipeline.title")} />
    </>
  );
}

export default function Pipeline() {
  const { t, locale } = useI18n();
  const data = useLoaderData<typeof loader>();
  const withParams = useQueryWith();
  const board = data.board;
  const columns = board ? [...board.columns.map((c) => ({ ...c, live: false })), { stepKey: "live", titleKey: "pipeline.live" as MessageKey, cards: board.live, overdue: 0, live: true }] : [];
  return (
    <section aria-labelledby="pipeline-title">
      <h1 id="pipeline-title">{t("pipeline.title")}</h1>
      <p>{t("pipeline.intro")}</p>
      <ParticipantFilters type={data.filters.type} status={data.filters.status} hidden={{ view: data.view }} />
      <section className="panel" aria-labelledby="pipeline-summary">
        <h2 id="pipeline-summary">{t("pipeline.summary")}</h2>
        <StepBars data={data} />
      </section>
      <nav className="view-switch" aria-label={t("pipeline.views")}>
        <Link to={withParams({ view: "list" })} aria-current={data.view === "list" ? "page" : undefined}>
          {t("pipeline.viewList")}
        </Link>
        {data.boardFits ? (
          <Link to={withParams({ view: "board", page: null })} aria-current={data.view === "board" ? "page" : undefined}>
            {t("pipeline.viewBoard")}
          </Link>
        ) : (
          <span className="muted small">{t("pipeline.boardTooLarge", { max: data.boardLimit })}</span>
        )}
        {data.step ? <Link to={withParams({ step: null, overdue: null, page: null })}>{t("pipeline.allSteps")}</Link> : null}
        <Link to={withParams({ overdue: data.overdueOnly ? null : "1", page: null })}>{data.overdueOnly ? t("pipeline.allDue") : t("pipeline.overdueOnly")}</Link>
      </nav>
      {board ? (
        <div className="board">
          {columns.map((column, i) => (
            <section key={column.stepKey} className="board-column" aria-labelledby={`column-${column.stepKey}`}>
              <h2 id={`column-${column.stepKey}`}>
                {column.live ? "" : `${i + 1}. `}
                {t(column.titleKey)}
              </h2>
              <p className="muted small">
                {t("pipeline.count", { count: column.cards.length })}
                {column.overdue > 0 ? (
                  <>
                    {" · "}
                    <strong className="overdue-text">{t("pipeline.overdueCount", { count: column.overdue })}</strong>
                  </>
                ) : null}
              </p>
              {column.cards.length === 0 ? (
                <p className="muted small">{t("pipeline.empty")}</p>
              ) : (
                <ul className="cards">
                  {column.cards.map((card) => (
                    <li key={card.participantId} className={card.overdue ? "card overdue" : "card"}>
                      <Link to={column.live ? `/participants/${card.participantId}` : `/participants/${card.participantId}/steps/${column.stepKey}`}>{card.participantId}</Link>{" "}
                      <span className="small">{locale === "zh-HK" ? card.nameZh : card.nameEn}</span>
                      <br />
                      <span className="small muted">{t(`participantType.${card.type}` as MessageKey)}</span>
                      {data.certification[card.participantId] && data.certification[card.participantId] !== "none" ? (
                        <>
                          <br />
                          <span className="small">
                            {t("cert.statusOnParticipant")}: {t(`cert.status.${data.certification[card.participantId]}` as MessageKey)}
                          </span>
                        </>
                      ) : null}
                      {column.live ? null : (
                        <>
                          <br />
                          <span className={`badge state-${card.state}`}>{t(`stepState.${card.state}` as MessageKey)}</span>
                          {card.dueDate ? <span className="small"> · {card.dueDate}</span> : null}
                          {card.overdue ? <span className="badge overdue-badge"> {t("case.overdue")}</span> : null}
                        </>
                      )}
                    </li>
                  ))}
                </ul>
              )}
            </section>
          ))}
        </div>
      ) : (
        <PipelineTable data={data} />
      )}
    </section>
  );
}
