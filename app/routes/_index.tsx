import { json } from "@remix-run/node";
import { Link, useLoaderData } from "@remix-run/react";
import { protectedLoader } from "~/auth/guard.server";
import { mayOn } from "~/modules/tenancy.server";
import { navigationFor } from "~/components/navigation";
import { myWork } from "~/modules/onboarding/service.server";
import { clientsAwaitingDecision } from "~/modules/credentials/service.server";
import { listPendingWaivers, pendingApprovalCount } from "~/modules/roles/service.server";
import { useI18n } from "~/i18n/use-i18n";
import type { MessageKey } from "~/i18n/messages";
import { titled } from "~/lib/meta";


export const meta = titled("home.title");
export const loader = /* @__PURE__ */ protectedLoader("authenticated", async ({ auth, ctx }) => {
  const { actor } = auth;
  const work = mayOn(actor, "case:complete", actor.participantId) ? await myWork(ctx) : [];
  // Decisions waiting in Approvals: role requests, production API clients and (for officers) SoD waivers.
  const [requests, clients, waivers] = await Promise.all([pendingApprovalCount(ctx), clientsAwaitingDecision(ctx), listPendingWaivers(ctx)]);
  return json({
    approvals: requests + clients.length + waivers.length,
    openWork: work.filter((w) => w.reason === "approve" || w.reason === "work").length,
    displayName: actor.displayName,
    persona: actor.persona,
    participantId: actor.participantId,
    pages: navigationFor(actor.permissions).filter((p) => p.to !== "/"),
  });
});

export default function Home() {
  const { t, number } = useI18n();
  const data = useLoaderData<typeof loader>();
  return (
    <section className="panel" aria-labelledby="home-title">
      <h1 id="home-title">{t("home.welcome", { name: data.displayName })}</h1>
      <p>{t("home.actingAs", { persona: t(`persona.${data.persona}` as MessageKey) })}</p>
      <p>{data.participantId ? t("home.actingFor", { participant: data.participantId }) : t("home.hkexStaff")}</p>
      {data.openWork > 0 ? (
        <p className="notice-box">
          <Link to="/my-work">{t("home.openWork", { count: data.openWork })}</Link>
        </p>
      ) : null}
      {data.approvals > 0 ? (
        <p className="notice-box">
          <Link to="/requests">{t("home.approvalsWaiting", { count: number(data.approvals) })}</Link>
        </p>
      ) : null}
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
