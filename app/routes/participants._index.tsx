import { json } from "@remix-run/node";
import { Link, useLoaderData } from "@remix-run/react";
import { z } from "zod";
import { PARTICIPANT_STATUSES, PARTICIPANT_TYPES } from "~/modules/participants/constants";
import { protectedLoader } from "~/auth/guard.server";
import { mayOn } from "~/modules/tenancy.server";
import { ParticipantFilters } from "~/components/participant-filters";
import { useI18n } from "~/i18n/use-i18n";
import { counted } from "~/i18n/plural";
import type { MessageKey } from "~/i18n/messages";
import { pageParticipants, PARTICIPANT_SORTS } from "~/modules/participants/service.server";
import { Pager, SortHeader } from "~/components/data-table";
import { pagingFrom } from "~/lib/paging";
import { titled } from "~/lib/meta";

const Filters = z.object({
  type: z.enum(PARTICIPANT_TYPES).optional().catch(undefined),
  status: z.enum(PARTICIPANT_STATUSES).optional().catch(undefined),
  q: z.string().trim().max(200).optional().catch(undefined),
});


export const meta = titled("participants.title");
export const loader = /* @__PURE__ */ protectedLoader("participant:read", async ({ ctx, request }) => {
  const params = new URL(request.url).searchParams;
  const filters = Filters.parse({ type: params.get("type") ?? undefined, status: params.get("status") ?? undefined, q: params.get("q") ?? undefined });
  const paging = pagingFrom(params, PARTICIPANT_SORTS, { sort: "id", dir: "asc" });
  const { rows, info } = await pageParticipants(ctx, filters, paging);
  return json({
    filters,
    paging,
    info,
    canRegister: mayOn(ctx.actor, "participant:create", null),
    ownParticipant: ctx.actor.persona.startsWith("da_") ? ctx.actor.participantId : null,
    participants: rows.map((p) => ({
      id: p.id,
      nameEn: p.nameEn,
      nameZh: p.nameZh,
      type: p.type,
      status: p.status,
      updatedAt: p.updatedAt.toISOString(),
    })),
  });
});

export default function Participants() {
  const { t, time, locale, number } = useI18n();
  const data = useLoaderData<typeof loader>();
  const sort = { current: data.paging.sort, dir: data.paging.dir };
  return (
    <section aria-labelledby="participants-title">
      <div className="title-row">
        <h1 id="participants-title">{t("participants.title")}</h1>
        {data.canRegister ? (
          <Link className="button primary" to="/participants/new">
            {t("participants.register")}
          </Link>
        ) : null}
      </div>
      <p>
        {data.ownParticipant
          ? t("participants.scopeOwn", { participant: data.ownParticipant })
          : t("participants.scopeAll")}
      </p>
      {data.ownParticipant ? null : <ParticipantFilters type={data.filters.type} status={data.filters.status} q={data.filters.q ?? ""} hidden={{ sort: data.paging.sort, dir: data.paging.dir, size: String(data.paging.size) }} />}
      {data.participants.length === 0 ? (
        <p>{t("participants.empty")}</p>
      ) : (
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">{counted(t, locale, "participants.count", data.info.total, number)}</caption>
            <thead>
              <tr>
                <SortHeader column="id" {...sort}>
                  {t("participants.id")}
                </SortHeader>
                <SortHeader column="nameEn" {...sort}>
                  {t("participants.nameEn")}
                </SortHeader>
                <th scope="col">{t("participants.nameZh")}</th>
                <SortHeader column="type" {...sort}>
                  {t("participants.type")}
                </SortHeader>
                <SortHeader column="status" {...sort}>
                  {t("participants.status")}
                </SortHeader>
                <SortHeader column="updatedAt" {...sort}>
                  {t("participants.updatedAt")}
                </SortHeader>
              </tr>
            </thead>
            <tbody>
              {data.participants.map((p) => (
                <tr key={p.id}>
                  <td>
                    <Link to={`/participants/${p.id}`}>{p.id}</Link>
                  </td>
                  <td lang="en">{p.nameEn}</td>
                  <td lang="zh-HK">{p.nameZh}</td>
                  <td>{t(`participantType.${p.type}` as MessageKey)}</td>
                  <td>
                    <span className={`badge status-${p.status}`}>{t(`participantStatus.${p.status}` as MessageKey)}</span>
                  </td>
                  <td>{time(p.updatedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {data.info.total > 0 ? <Pager info={data.info} label={t("participants.title")} /> : null}
    </section>
  );
}
