import { json } from "@remix-run/node";
import { Link, useLoaderData } from "@remix-run/react";
import { protectedLoader } from "~/auth/guard.server";
import { navigationFor } from "~/components/navigation";
import { useI18n } from "~/i18n/use-i18n";
import type { MessageKey } from "~/i18n/messages";

export const loader = /* @__PURE__ */ protectedLoader("authenticated", async ({ auth }) => {
  const { actor } = auth;
  return json({
    displayName: actor.displayName,
    persona: actor.persona,
    participantId: actor.participantId,
    pages: navigationFor(actor.permissions).filter((p) => p.to !== "/"),
  });
});

export default function Home() {
  const { t } = useI18n();
  const data = useLoaderData<typeof loader>();
  return (
    <section className="panel" aria-labelledby="home-title">
      <h1 id="home-title">{t("home.welcome", { name: data.displayName })}</h1>
      <p>{t("home.actingAs", { persona: t(`persona.${data.persona}` as MessageKey) })}</p>
      <p>{data.participantId ? t("home.actingFor", { participant: data.participantId }) : t("home.hkexStaff")}</p>
      <h2>{t("home.whatYouCanDo")}</h2>
      <ul className="link-list">
        {data.pages.map((p) => (
          <li key={p.to}>
            <Link to={p.to}>{t(p.labelKey)}</Link>
          </li>
        ))}
      </ul>
      <p className="muted">{t("home.sessionNote")}</p>
    </section>
  );
}
