import { json } from "@remix-run/node";
import { Link, useLoaderData } from "@remix-run/react";
import { protectedLoader } from "~/auth/guard.server";
import { mayOn } from "~/modules/tenancy.server";
import { navigationFor } from "~/components/navigation";
import { BarList, ColumnChart, ProgressLine } from "~/components/charts";
import { myWork } from "~/modules/onboarding/service.server";
import { clientsAwaitingDecision } from "~/modules/credentials/service.server";
import { listPendingWaivers, pendingApprovalCount } from "~/modules/roles/service.server";
import { integrityStatus, keysExpiring, onboardingFunnel, openReviews, recentActivity, recentTickets, usersByStatus } from "~/modules/reports/dashboard.server";
import { useI18n } from "~/i18n/use-i18n";
import { counted } from "~/i18n/plural";
import { isMessageKey, type MessageKey } from "~/i18n/messages";
import { titled } from "~/lib/meta";

export const meta = titled("home.title");
export const loader = /* @__PURE__ */ protectedLoader("authenticated", async ({ auth, ctx, context }) => {
  const { actor } = auth;
  const work = mayOn(actor, "case:complete", actor.participantId) ? await myWork(ctx) : [];
  // Decisions waiting in Approvals: role requests, production API clients and (for officers) SoD waivers.
  const [requests, clients, waivers] = await Promise.all([pendingApprovalCount(ctx), clientsAwaitingDecision(ctx), listPendingWaivers(ctx)]);
  // Each persona's dashboard (issue 14): only what that persona's pages would show it.
  const persona = actor.persona;
  const isDa = persona === "da_maker" || persona === "da_checker";
  const [funnel, activity, reviews, integrity, statuses, keys, tickets] = await Promise.all([
    persona === "officer" ? onboardingFunnel(ctx) : null,
    persona === "compliance" ? recentActivity(ctx) : null,
    persona === "compliance" ? openReviews(ctx) : null,
    persona === "compliance" ? integrityStatus(ctx, context.config.auditCheckpointKey) : null,
    isDa ? usersByStatus(ctx) : null,
    isDa || persona === "compliance" ? keysExpiring(ctx) : null,
    persona === "helpdesk" ? recentTickets(ctx) : null,
  ]);
  return json({
    approvals: requests + clients.length + waivers.length,
    approvalParts: isDa || persona === "officer" ? { requests, clients: clients.length, waivers: waivers.length } : null,
    openWork: work.filter((w) => w.reason === "approve" || w.reason === "work").length,
    displayName: actor.displayName,
    persona: actor.persona,
    participantId: actor.participantId,
    pages: navigationFor(actor.permissions).filter((p) => p.to !== "/"),
    funnel,
    activity,
    reviews,
    integrity,
    statuses,
    keys,
    tickets,
  });
});

function Dashboard() {
  const { t, time, number } = useI18n();
  const data = useLoaderData<typeof loader>();
  const panels = [];
  if (data.funnel) {
    panels.push(
      <section className="panel" key="funnel" aria-labelledby="dash-funnel">
        <h2 id="dash-funnel">{t("dash.funnel")}</h2>
        <BarList
          captionHidden
          id="funnel-chart"
          title={t("dash.funnel")}
          valueLabel={t("dash.participants")}
          highlightLabel={t("dash.overdue")}
          bars={[
            ...data.funnel.steps.map((s, i) => ({
              key: s.stepKey,
              label: `${i + 1}. ${isMessageKey(s.titleKey) ? t(s.titleKey) : s.stepKey}`,
              value: s.participants,
              highlight: s.overdue,
              href: "/pipeline",
            })),
            { key: "live", label: t("dash.live"), value: data.funnel.live, highlight: 0, href: "/pipeline?status=live" },
          ]}
        />
      </section>,
    );
  }
  if (data.approvalParts) {
    panels.push(
      <section className="panel" key="approvals" aria-labelledby="dash-approvals">
        <h2 id="dash-approvals">{t("dash.approvals")}</h2>
        <BarList
          captionHidden
          id="approvals-chart"
          width={400}
          title={t("dash.approvals")}
          valueLabel={t("dash.waiting")}
          bars={[
            { key: "requests", label: t("dash.approvals.requests"), value: data.approvalParts.requests, href: "/requests" },
            { key: "clients", label: t("dash.approvals.clients"), value: data.approvalParts.clients, href: "/requests" },
            { key: "waivers", label: t("dash.approvals.waivers"), value: data.approvalParts.waivers, href: "/requests" },
          ]}
        />
      </section>,
    );
  }
  if (data.activity) {
    panels.push(
      <section className="panel" key="activity" aria-labelledby="dash-activity">
        <h2 id="dash-activity">{t("dash.activity", { total: number(data.activity.total) })}</h2>
        <ColumnChart
          captionHidden
          width={400}
          id="activity-chart"
          title={t("dash.activity", { total: number(data.activity.total) })}
          valueLabel={t("dash.events")}
          bars={data.activity.buckets.map((b) => ({ key: b.label, label: b.label.slice(5), description: b.label, value: b.count, href: `/activity?from=${b.from}&to=${b.to}` }))}
        />
      </section>,
    );
  }
  if (data.reviews) {
    panels.push(
      <section className="panel" key="reviews" aria-labelledby="dash-reviews">
        <h2 id="dash-reviews">{t("dash.reviews")}</h2>
        {data.reviews.length === 0 ? <p>{t("dash.reviews.none")}</p> : null}
        {data.reviews.map((r) => (
          <div key={r.id}>
            <Link to={`/reviews/${r.id}`}>{r.name}</Link>
            <ProgressLine done={r.decided} total={r.total} label={t("dash.reviews.decided", { deadline: time(r.deadline) })} />
          </div>
        ))}
      </section>,
    );
  }
  if (data.integrity) {
    const i = data.integrity;
    panels.push(
      <section className="panel" key="integrity" aria-labelledby="dash-integrity">
        <h2 id="dash-integrity">{t("dash.integrity")}</h2>
        <p className={i.state === "broken" ? "form-error" : undefined}>
          {i.state === "none" ? t("dash.integrity.none") : t(i.state === "ok" ? "dash.integrity.ok" : "dash.integrity.broken", { time: time(i.checkpointAt) })}
        </p>
        <Link to="/integrity">{t("dash.integrity.verify")}</Link>
      </section>,
    );
  }
  if (data.statuses) {
    panels.push(
      <section className="panel" key="users" aria-labelledby="dash-users">
        <h2 id="dash-users">{t("dash.users")}</h2>
        <BarList
          captionHidden
          id="users-chart"
          width={400}
          title={t("dash.users")}
          valueLabel={t("dash.userCount")}
          bars={data.statuses.map((s) => ({ key: s.status, label: t(`userStatus.${s.status}` as MessageKey), value: s.users, href: `/users?status=${s.status}` }))}
        />
      </section>,
    );
  }
  if (data.keys) {
    panels.push(
      <section className="panel" key="keys" aria-labelledby="dash-keys">
        <h2 id="dash-keys">{t("dash.keys")}</h2>
        {data.keys.length === 0 ? (
          <p>{t("dash.keys.none")}</p>
        ) : (
          <ul>
            {data.keys.map((k) => (
              <li key={`${k.clientId}-${k.kid}`}>
                <Link to={`/credentials/${k.clientId}`}>
                  {t("dash.keys.line", { client: k.clientName, kid: k.kid, time: time(k.expiresAt) })}
                </Link>
              </li>
            ))}
          </ul>
        )}
      </section>,
    );
  }
  if (data.tickets) {
    panels.push(
      <section className="panel" key="tickets" aria-labelledby="dash-tickets">
        <h2 id="dash-tickets">{t("dash.tickets")}</h2>
        {data.tickets.length === 0 ? (
          <p>{t("dash.tickets.none")}</p>
        ) : (
          <ul>
            {data.tickets.map((k, i) => (
              <li key={`${k.ticketRef}-${i}`}>
                <Link to={`/users/${k.userId}`}>
                  {t("dash.tickets.line", {
                    ticket: k.ticketRef,
                    action: isMessageKey(`support.action.${k.action}`) ? t(`support.action.${k.action}` as MessageKey) : k.action,
                    user: k.userName,
                    time: time(k.performedAt),
                  })}
                </Link>
              </li>
            ))}
          </ul>
        )}
      </section>,
    );
  }
  if (panels.length === 0) return null;
  return (
    <section aria-labelledby="dash-title">
      <h2 id="dash-title" className="visually-hidden">
        {t("dash.title")}
      </h2>
      <div className="dashboard">{panels}</div>
    </section>
  );
}

export default function Home() {
  const { t, number, locale } = useI18n();
  const data = useLoaderData<typeof loader>();
  return (
    <>
      <section className="panel" aria-labelledby="home-title">
        <h1 id="home-title">{t("home.welcome", { name: data.displayName })}</h1>
        <p>{t("home.actingAs", { persona: t(`persona.${data.persona}` as MessageKey) })}</p>
        <p>{data.participantId ? t("home.actingFor", { participant: data.participantId }) : t("home.hkexStaff")}</p>
        {data.openWork > 0 ? (
          <p className="notice-box">
            <Link to="/my-work">{counted(t, locale, "home.openWork", data.openWork)}</Link>
          </p>
        ) : null}
        {data.approvals > 0 ? (
          <p className="notice-box">
            <Link to="/requests">{counted(t, locale, "home.approvalsWaiting", data.approvals, number)}</Link>
          </p>
        ) : null}
      </section>
      <Dashboard />
      <section className="panel" aria-labelledby="home-pages">
        <h2 id="home-pages">{t("home.whatYouCanDo")}</h2>
        <ul className="link-list">
          {data.pages.map((p) => (
            <li key={p.to}>
              <Link to={p.to}>{t(p.labelKey)}</Link>
            </li>
          ))}
        </ul>
        <p className="muted">{t("home.sessionNote")}</p>
      </section>
    </>
  );
}
