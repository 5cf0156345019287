import { json } from "@remix-run/node";
import { Form, Link, useLoaderData } from "@remix-run/react";
import type { ReactNode } from "react";
import { z } from "zod";
import { protectedLoader } from "~/auth/guard.server";
import type { MessageKey } from "~/i18n/messages";
import { useI18n } from "~/i18n/use-i18n";
import { titled } from "~/lib/meta";
import { searchCredentials } from "~/modules/credentials/service.server";
import { searchParticipants } from "~/modules/participants/service.server";
import { searchTickets } from "~/modules/users/support.server";
import { searchUsers } from "~/modules/users/service.server";

/** How many of each kind the page shows; the group says how many more there are and links to the full list. */
const PER_KIND = 10;
const Query = z.string().trim().min(2).max(100).catch("");

export const meta = titled("search.title");

/**
 * The global search (issue 13): participant ID or name, user name or email, API client ID or key id, ticket
 * reference — each kind asked of its own module, which applies the reader's tenancy; a kind the reader may not read
 * is not searched at all.
 */
export const loader = /* @__PURE__ */ protectedLoader("authenticated", async ({ ctx, request }) => {
  const raw = new URL(request.url).searchParams.get("q") ?? "";
  const q = Query.parse(raw);
  if (!q) return json({ q: raw.slice(0, 100), tooShort: raw.trim().length > 0, groups: null });
  const [participants, users, credentials, tickets] = await Promise.all([
    searchParticipants(ctx, q, PER_KIND),
    searchUsers(ctx, q, PER_KIND),
    searchCredentials(ctx, q, PER_KIND),
    searchTickets(ctx, q, PER_KIND),
  ]);
  return json({
    q,
    tooShort: false,
    groups: {
      participants: { total: participants.total, rows: participants.rows.map((p) => ({ id: p.id, nameEn: p.nameEn, nameZh: p.nameZh, status: p.status })) },
      users: { total: users.total, rows: users.rows.map((u) => ({ id: u.id, name: u.displayName, email: u.email, participantId: u.participantId, status: u.status })) },
      credentials: { total: credentials.total, rows: credentials.rows.map((c) => ({ id: c.id, clientId: c.clientId, name: c.name, environment: c.environment, status: c.status })) },
      tickets: { total: tickets.total, rows: tickets.rows.map((r) => ({ ticketRef: r.ticketRef, action: r.action, performedAt: r.performedAt.toISOString(), userId: r.userId, userName: r.userName })) },
    },
  });
});

function Group({ id, title, total, more, children }: { id: string; title: string; total: number; more?: { to: string; label: string }; children: ReactNode }) {
  const { t, number } = useI18n();
  return (
    <section className="panel" aria-labelledby={`search-${id}`}>
      <h2 id={`search-${id}`}>
        {title} <span className="badge">{number(total)}</span>
      </h2>
      {total === 0 ? <p className="muted">{t("search.noneOfKind")}</p> : <ul className="plain search-results">{children}</ul>}
      {more && total > PER_KIND ? (
        <p>
          <Link to={more.to}>{more.label}</Link>
        </p>
      ) : null}
    </section>
  );
}

export default function Search() {
  const { t, time, locale } = useI18n();
  const data = useLoaderData<typeof loader>();
  const g = data.groups;
  const q = encodeURIComponent(data.q);
  return (
    <section aria-labelledby="search-title">
      <h1 id="search-title">{t("search.title")}</h1>
      <Form method="get" role="search" className="filters">
        <div className="field compact">
          <label htmlFor="search-page-q">{t("search.label")}</label>
          <input id="search-page-q" name="q" type="search" defaultValue={data.q} maxLength={100} />
        </div>
        <button type="submit" className="button secondary">
          {t("search.submit")}
        </button>
      </Form>
      <p className="muted">{t("search.hint")}</p>
      {data.tooShort ? <p role="status">{t("search.tooShort")}</p> : null}
      {g ? (
        <>
          <p role="status">{t("search.summary", { count: g.participants.total + g.users.total + g.credentials.total + g.tickets.total, q: data.q })}</p>
          <Group id="participants" title={t("search.participants")} total={g.participants.total} more={{ to: `/participants?q=${q}`, label: t("search.allParticipants") }}>
            {g.participants.rows.map((p) => (
              <li key={p.id}>
                <Link to={`/participants/${p.id}`}>
                  {p.id} · {locale === "zh-HK" ? p.nameZh : p.nameEn}
                </Link>{" "}
                <span className={`badge status-${p.status}`}>{t(`participantStatus.${p.status}` as MessageKey)}</span>
              </li>
            ))}
          </Group>
          <Group id="users" title={t("search.users")} total={g.users.total} more={{ to: `/users?q=${q}`, label: t("search.allUsers") }}>
            {g.users.rows.map((u) => (
              <li key={u.id}>
                <Link to={`/users/${u.id}`}>{u.name}</Link> · {u.email} · {u.participantId ?? "HKEX"}{" "}
                <span className={`badge user-${u.status}`}>{t(`userStatus.${u.status}` as MessageKey)}</span>
              </li>
            ))}
          </Group>
          <Group id="credentials" title={t("search.credentials")} total={g.credentials.total}>
            {g.credentials.rows.map((c) => (
              <li key={c.id}>
                <Link to={`/credentials/${c.id}`}>{c.clientId}</Link> · {c.name}
              </li>
            ))}
          </Group>
          <Group id="tickets" title={t("search.tickets")} total={g.tickets.total}>
            {g.tickets.rows.map((r, i) => (
              <li key={`${r.ticketRef}-${i}`}>
                {r.ticketRef} · <Link to={`/users/${r.userId}`}>{r.userName}</Link> · {t(`support.action.${r.action}` as MessageKey)} · {time(r.performedAt)}
              </li>
            ))}
          </Group>
        </>
      ) : null}
    </section>
  );
}
