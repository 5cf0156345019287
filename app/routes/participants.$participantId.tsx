import { json } from "@remix-run/node";
import { Link, useLoaderData } from "@remix-run/react";
import { protectedLoader } from "~/auth/guard.server";
import { useI18n } from "~/i18n/use-i18n";
import type { MessageKey } from "~/i18n/messages";
import { getParticipant } from "~/modules/participants/service.server";

export const loader = /* @__PURE__ */ protectedLoader("participant:read", async ({ ctx, params }) => {
  const p = await getParticipant(ctx, params.participantId ?? "");
  return json({
    participant: {
      id: p.id,
      nameEn: p.nameEn,
      nameZh: p.nameZh,
      type: p.type,
      status: p.status,
      bic: p.bic,
      updatedAt: p.updatedAt.toISOString(),
    },
  });
});

export default function ParticipantDetail() {
  const { t, time } = useI18n();
  const { participant: p } = useLoaderData<typeof loader>();
  return (
    <section className="panel" aria-labelledby="participant-title">
      <p>
        <Link to="/participants">{t("participants.backToList")}</Link>
      </p>
      <h1 id="participant-title">{t("participants.detailTitle", { participant: p.id })}</h1>
      <dl className="facts">
        <dt>{t("participants.nameEn")}</dt>
        <dd>{p.nameEn}</dd>
        <dt>{t("participants.nameZh")}</dt>
        <dd lang="zh-HK">{p.nameZh}</dd>
        <dt>{t("participants.type")}</dt>
        <dd>{t(`participantType.${p.type}` as MessageKey)}</dd>
        <dt>{t("participants.status")}</dt>
        <dd>{t(`participantStatus.${p.status}` as MessageKey)}</dd>
        <dt>{t("participants.bic")}</dt>
        <dd>{p.bic ?? "—"}</dd>
        <dt>{t("participants.updatedAt")}</dt>
        <dd>{time(p.updatedAt)}</dd>
      </dl>
    </section>
  );
}
