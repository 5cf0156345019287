import { json } from "@remix-run/node";
import { Link, useLoaderData } from "@remix-run/react";
import { protectedLoader } from "~/auth/guard.server";
import { useI18n } from "~/i18n/use-i18n";
import type { MessageKey } from "~/i18n/messages";
import { listParticipants } from "~/modules/participants/service.server";

export const loader = /* @__PURE__ */ protectedLoader("participant:read", async ({ ctx }) => {
  const rows = await listParticipants(ctx);
  return json({
    ownParticipant: ctx.actor.participantId,
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
      <h1 id="participants-title">{t("participants.title")}</h1>
      <p>
        {data.ownParticipant
          ? t("participants.scopeOwn", { participant: data.ownParticipant })
          : t("participants.scopeAll")}
      </p>
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
