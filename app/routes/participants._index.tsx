import { json } from "@remix-run/node";
import { Link, useLoaderData } from "@remix-run/react";
import { z } from "zod";
import { PARTICIPANT_STATUSES, PARTICIPANT_TYPES } from "~/modules/participants/constants";
import { protectedLoader } from "~/auth/guard.server";
import { mayOn } from "~/modules/tenancy.server";
import { ParticipantFilters } from "~/components/participant-filters";
import { useI18n } from "~/i18n/use-i18n";
import type { MessageKey } from "~/i18n/messages";
import { listParticipants } from "~/modules/participants/service.server";
import { titled } from "~/lib/meta";

const Filters = z.object({
  type: z.enum(PARTICIPANT_TYPES).optional().catch(undefined),
  status: z.enum(PARTICIPANT_STATUSES).optional().catch(undefined),
});


export const meta = titled("participants.title");
export const loader = /* @__PURE__ */ protectedLoader("participant:read", async ({ ctx, request }) => {
  const params = new URL(request.url).searchParams;
  const filters = Filters.parse({ type: params.get("type") ?? undefined, status: params.get("status") ?? undefined });
  const rows = await listParticipants(ctx, filters);
  return json({
    filters,
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
  const { t, time } = useI18n();
  const data = useLoaderData<typeof loader>();
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
      {data.ownParticipant ? null : <ParticipantFilters type={data.filters.type} status={data.filters.status} />}
      {data.participants.length === 0 ? (
        <p>{t("participants.empty")}</p>
      ) : (
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">{t("participants.count", { count: data.participants.length })}</caption>
            <thead>
              <tr>
                <th scope="col">{t("participants.id")}</th>
                <th scope="col">{t("participants.nameEn")}</th>
                <th scope="col">{t("participants.nameZh")}</th>
                <th scope="col">{t("participants.type")}</th>
                <th scope="col">{t("participants.status")}</th>
                <th scope="col">{t("participants.updatedAt")}</th>
              </tr>
            </thead>
            <tbody>
              {data.participants.map((p) => (
                <tr key={p.id}>
                  <td>
                    <Link to={`/participants/${p.id}`}>{p.id}</Link>
                  </td>
                  <td>{p.nameEn}</td>
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
    </section>
  );
}
