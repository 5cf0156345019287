import { json } from "@remix-run/node";
import { Link, useLoaderData } from "@remix-run/react";
import { z } from "zod";
import { PARTICIPANT_STATUSES, PARTICIPANT_TYPES } from "~/modules/participants/constants";
import { protectedLoader } from "~/auth/guard.server";
import { useI18n } from "~/i18n/use-i18n";
import type { MessageKey } from "~/i18n/messages";
import { pipelineBoard } from "~/modules/onboarding/service.server";
import { certificationStatuses } from "~/modules/certification/service.server";
import { ParticipantFilters } from "~/components/participant-filters";
import { titled } from "~/lib/meta";

const Filters = z.object({
  type: z.enum(PARTICIPANT_TYPES).optional().catch(undefined),
  status: z.enum(PARTICIPANT_STATUSES).optional().catch(undefined),
});


export const meta = titled("pipeline.title");
export const loader = /* @__PURE__ */ protectedLoader("case:read", async ({ ctx, request }) => {
  const params = new URL(request.url).searchParams;
  const filters = Filters.parse({ type: params.get("type") ?? undefined, status: params.get("status") ?? undefined });
  const board = await pipelineBoard(ctx, filters);
  const ids = [...new Set([...board.columns.flatMap((c) => c.cards), ...board.live].map((c) => c.participantId))];
  const statuses = await certificationStatuses(ctx.db, ids);
  const certification = Object.fromEntries([...statuses].map(([id, s]) => [id, s.current ? "signed_off" : s.status]));
  return json({ filters, ...board, certification });
});

export default function Pipeline() {
  const { t } = useI18n();
  const data = useLoaderData<typeof loader>();
  const columns = [...data.columns.map((c) => ({ ...c, live: false })), { stepKey: "live", titleKey: "pipeline.live" as MessageKey, cards: data.live, overdue: 0, live: true }];
  return (
    <section aria-labelledby="pipeline-title">
      <h1 id="pipeline-title">{t("pipeline.title")}</h1>
      <p>{t("pipeline.intro")}</p>
      <ParticipantFilters type={data.filters.type} status={data.filters.status} />
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
                    <Link to={column.live ? `/participants/${card.participantId}` : `/participants/${card.participantId}/steps/${column.stepKey}`}>
                      {card.participantId}
                    </Link>{" "}
                    <span className="small">{card.nameEn}</span>
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
    </section>
  );
}
