import { json } from "@remix-run/node";
import { Form, Link, useLoaderData } from "@remix-run/react";
import { protectedLoader } from "~/auth/guard.server";
import { readerOf } from "~/context";
import { mayOn, tenantOf } from "~/modules/tenancy.server";
import { EventSentence, ReadableChanges, activityOf } from "~/components/audit-event";
import { ColumnChart } from "~/components/charts";
import { useI18n } from "~/i18n/use-i18n";
import { isMessageKey, type MessageKey } from "~/i18n/messages";
import { exploreAudit, parseAuditFilters, type AuditFilters } from "~/modules/audit/explorer.server";
import { activityOverTime } from "~/modules/audit/activity.server";
import { findPeople, frozenNamesOf, namesForEvents, personById, referencesOf, type PersonMatch } from "~/modules/audit/names.server";
import { AUDIT_ACTIONS } from "~/modules/audit/actions";
import { hongKongDay, hongKongDayPlus } from "~/lib/hong-kong-time";
import { titled } from "~/lib/meta";

/** The audit explorer (SPEC §8): filters, keyset pages, events as sentences, activity over time, pivots, exports. */

/** No user has this id: a name that matches nobody shows nothing rather than everything. */
const NOBODY = "-";

/** The actor or user a person typed (a name, an email or an id), resolved among the users they may see. */
async function resolvePerson(ctx: Parameters<typeof findPeople>[0], typed: string | null, id: string | undefined) {
  if (id) {
    const match = id === NOBODY ? undefined : await personById(ctx, id);
    return { id, text: match?.email ?? "", candidates: [] as PersonMatch[], unmatched: null as string | null };
  }
  const text = typed?.trim() ?? "";
  const none: PersonMatch[] = [];
  if (!text) return { id: undefined, text: "", candidates: none, unmatched: null };
  const matches = await findPeople(ctx, text);
  if (matches.length === 1) return { id: matches[0]!.id, text: matches[0]!.email, candidates: none, unmatched: null };
  return { id: NOBODY, text, candidates: matches, unmatched: text as string | null };
}

/** Filters as a query string, without the empty ones. */
const queryOf = (f: AuditFilters) => new URLSearchParams(Object.entries(f).filter((e): e is [string, string] => Boolean(e[1]))).toString();

export const meta = titled("activity.title");
export const loader = /* @__PURE__ */ protectedLoader("audit:read", async ({ ctx: primary, request, context }) => {
  // Read from the read replica when one is configured (DATABASE_READ_URL).
  const ctx = { ...primary, db: readerOf(context) };
  const params = new URL(request.url).searchParams;
  const parsed = parseAuditFilters(params);
  const [actor, about] = await Promise.all([resolvePerson(ctx, params.get("actor"), parsed.actorUserId), resolvePerson(ctx, params.get("user"), parsed.userId)]);
  const filters: AuditFilters = { ...parsed, actorUserId: actor.id, userId: about.id };
  const [page, chart] = await Promise.all([exploreAudit(ctx, filters, params.get("cursor"), 50), activityOverTime(ctx, filters)]);
  const names = await namesForEvents(ctx, page.events);
  const own = tenantOf(ctx.actor, "audit:read") !== null;
  const now = new Date();
  const today = hongKongDay(now);
  return json({
    ownParticipant: own ? ctx.actor.participantId : null,
    canExport: mayOn(ctx.actor, "audit:export", ctx.actor.participantId),
    filters,
    people: { actor: { text: actor.text, candidates: actor.candidates, unmatched: actor.unmatched }, user: { text: about.text, candidates: about.candidates, unmatched: about.unmatched } },
    presets: { today, week: hongKongDayPlus(now, -6), month: hongKongDayPlus(now, -29) },
    paged: params.has("cursor"),
    query: queryOf(filters),
    nextCursor: page.nextCursor,
    names,
    chart,
    events: page.events.map((e) => ({
      id: e.id,
      chainKey: e.chainKey,
      seq: e.seq,
      occurredAt: e.occurredAt.toISOString(),
      actorUserId: e.actorUserId,
      actorName: e.actorName,
      actorPersona: e.actorPersona,
      onBehalfOfUserId: e.onBehalfOfUserId,
      ticketRef: e.ticketRef,
      action: e.action,
      entityType: e.entityType,
      entityId: e.entityId,
      participantId: e.participantId,
      reason: e.reason,
      changes: e.changes,
      refs: referencesOf(e),
      frozen: frozenNamesOf(e),
    })),
  });
});

function PersonField({ id, name, label, person, pick }: { id: string; name: string; label: string; person: { text: string; candidates: PersonMatch[]; unmatched: string | null }; pick: (p: PersonMatch) => string }) {
  const { t } = useI18n();
  return (
    <div className="field compact">
      <label htmlFor={id}>{label}</label>
      <input id={id} name={name} type="search" defaultValue={person.text} autoComplete="off" aria-describedby={person.unmatched !== null ? `${id}-note` : undefined} />
      {person.unmatched !== null ? (
        <div id={`${id}-note`} className="small">
          {person.candidates.length === 0 ? (
            <p>{t("explorer.noMatch", { text: person.unmatched })}</p>
          ) : (
            <>
              <p>{t("explorer.candidates", { text: person.unmatched })}</p>
              <ul>
                {person.candidates.map((c) => (
                  <li key={c.id}>
                    <Link to={pick(c)}>
                      {c.name} ({c.email})
                    </Link>
                  </li>
                ))}
              </ul>
            </>
          )}
        </div>
      ) : null}
    </div>
  );
}

export default function Activity() {
  const { t, time, locale, number } = useI18n();
  const data = useLoaderData<typeof loader>();
  const f = data.filters;
  const zh = locale === "zh-HK";
  /** The current filters with some replaced (undefined removes one): pivots and presets keep the rest. */
  const narrowed = (changes: Partial<Record<keyof AuditFilters, string | undefined>>) => {
    const query = queryOf({ ...f, ...changes });
    return `/activity${query ? `?${query}` : ""}`;
  };
  const presets: { key: string; label: MessageKey; from?: string; to?: string }[] = [
    { key: "today", label: "explorer.preset.today", from: data.presets.today, to: data.presets.today },
    { key: "7d", label: "explorer.preset.7d", from: data.presets.week, to: data.presets.today },
    { key: "30d", label: "explorer.preset.30d", from: data.presets.month, to: data.presets.today },
    { key: "any", label: "explorer.preset.any" },
  ];
  const knownActions = new Set<string>(Object.values(AUDIT_ACTIONS).flat());
  const actionLabel = (a: string) => (isMessageKey(`action.${a}`) ? t(`action.${a}` as MessageKey) : a);
  const chartTitle = t(data.chart.unit === "day" ? "explorer.chart.day" : "explorer.chart.hour", { total: number(data.chart.total) });
  const bars = data.chart.buckets.map((b) => {
    const day = b.label.slice(0, 10);
    const hour = b.label.slice(11, 13);
    return {
      key: b.label,
      label: data.chart.unit === "day" ? day.slice(5) : hour,
      description: data.chart.unit === "day" ? day : t("explorer.chart.hourOf", { day, hour }),
      value: b.count,
      href: narrowed({ from: b.from, to: b.to }),
    };
  });
  const participantName = (id: string | null) => {
    if (!id) return "HKEX";
    const p = data.names.participants[id];
    return p ? `${zh ? p.zh : p.en} (${id})` : id;
  };
  return (
    <section aria-labelledby="activity-title">
      <h1 id="activity-title">{t("activity.title")}</h1>
      <p>{data.ownParticipant ? t("activity.scopeOwn", { participant: data.ownParticipant }) : t("activity.scopeAll")}</p>
      <nav aria-label={t("explorer.period")}>
        <ul className="presets">
          {presets.map((p) => (
            <li key={p.key}>
              <Link to={narrowed({ from: p.from, to: p.to })} aria-current={(f.from ?? "") === (p.from ?? "") && (f.to ?? "") === (p.to ?? "") ? "true" : undefined}>
                {t(p.label)}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      <details className="panel filters-panel" open={Boolean(data.query) || data.people.actor.unmatched !== null || data.people.user.unmatched !== null}>
        <summary>{t("explorer.filters")}</summary>
        {/* Keyed by the applied filters: after a pivot the fields show what is applied, not what was typed before. */}
        <Form method="get" className="filters" key={data.query}>
          {data.ownParticipant ? null : (
            <div className="field compact">
              <label htmlFor="f-participant">
                {/* The keyword is typed as it is, in either language. */}
                {t("explorer.participant").split("{platform}").flatMap((part, i) => (i === 0 ? [part] : [<code key={i}>platform</code>, part]))}
              </label>
              <input id="f-participant" name="participantId" defaultValue={f.participantId ?? ""} />
            </div>
          )}
          <div className="field compact">
            <label htmlFor="f-action">{t("explorer.actionLabel")}</label>
            <select id="f-action" name="action" defaultValue={f.action ?? ""}>
              <option value="">{t("explorer.actionAny")}</option>
              {f.action && !knownActions.has(f.action) && !Object.keys(AUDIT_ACTIONS).some((area) => `${area}.*` === f.action) ? <option value={f.action}>{f.action}</option> : null}
              {Object.entries(AUDIT_ACTIONS).map(([area, actions]) => {
                const areaName = t(`explorer.area.${area}` as MessageKey);
                const sharesPrefix = actions.every((a) => a.startsWith(`${area}.`));
                return (
                  <optgroup key={area} label={areaName}>
                    {sharesPrefix ? <option value={`${area}.*`}>{t("explorer.actionArea", { area: areaName })}</option> : null}
                    {actions.map((a) => (
                      <option key={a} value={a}>
                        {actionLabel(a)}
                      </option>
                    ))}
                  </optgroup>
                );
              })}
            </select>
          </div>
          <PersonField id="f-actor" name="actor" label={t("explorer.actorSearch")} person={data.people.actor} pick={(p) => narrowed({ actorUserId: p.id })} />
          <PersonField id="f-user" name="user" label={t("explorer.userSearch")} person={data.people.user} pick={(p) => narrowed({ userId: p.id })} />
          <div className="field compact">
            <label htmlFor="f-entity-type">{t("explorer.entityType")}</label>
            <input id="f-entity-type" name="entityType" defaultValue={f.entityType ?? ""} />
          </div>
          <div className="field compact">
            <label htmlFor="f-entity-id">{t("explorer.entityId")}</label>
            <input id="f-entity-id" name="entityId" defaultValue={f.entityId ?? ""} />
          </div>
          <div className="field compact">
            <label htmlFor="f-from">{t("explorer.from")}</label>
            <input id="f-from" name="from" type={f.from && f.from.length === 10 ? "date" : "datetime-local"} defaultValue={f.from ?? ""} />
          </div>
          <div className="field compact">
            <label htmlFor="f-to">{t("explorer.to")}</label>
            <input id="f-to" name="to" type={f.to && f.to.length === 10 ? "date" : "datetime-local"} step={f.to && f.to.length > 16 ? "0.001" : undefined} defaultValue={f.to ?? ""} />
          </div>
          <button type="submit" className="button secondary">
            {t("explorer.apply")}
          </button>
          <Link to="/activity">{t("explorer.clear")}</Link>
        </Form>
        <p className="small muted">{t("explorer.preset.custom")}</p>
      </details>
      {data.chart.buckets.length > 0 ? (
        <>
          <ColumnChart id="activity-chart" bars={bars} title={chartTitle} valueLabel={t("explorer.chart.events")} />
          <p className="small muted">{t("explorer.chart.hint")}</p>
        </>
      ) : null}
      {data.canExport ? (
        <p className="actions">
          <a href={`/activity/export?format=csv&${data.query}`} download>
            {t("explorer.exportCsv")}
          </a>
          <a href={`/activity/export?format=jsonl&${data.query}`} download>
            {t("explorer.exportJsonl")}
          </a>
        </p>
      ) : null}
      {data.events.length === 0 ? (
        <p>{t("activity.empty")}</p>
      ) : (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">{t("activity.time")}</th>
                <th scope="col">{t("explorer.who")}</th>
                <th scope="col">{t("explorer.what")}</th>
                <th scope="col">{t("activity.participant")}</th>
              </tr>
            </thead>
            <tbody>
              {data.events.map((e) => {
                const entityLink =
                  e.entityType === "user" && e.entityId ? activityOf("userId", e.entityId) : e.entityId ? `/activity?${new URLSearchParams({ entityType: e.entityType, entityId: e.entityId }).toString()}` : null;
                const onBehalf = e.onBehalfOfUserId ? data.names.users[e.onBehalfOfUserId]?.name : null;
                return (
                  <tr key={e.id} data-action={e.action} data-entity-id={e.entityId ?? undefined}>
                    <td>
                      <time dateTime={e.occurredAt}>{time(e.occurredAt)}</time>
                    </td>
                    <td>
                      {e.actorUserId ? (
                        <Link to={activityOf("actorUserId", e.actorUserId)} title={t("explorer.actorActivity")}>
                          {e.actorName ?? data.names.users[e.actorUserId]?.name ?? t("explorer.someone")}
                        </Link>
                      ) : (
                        (e.actorName ?? t("explorer.system"))
                      )}
                      {e.actorPersona && isMessageKey(`persona.${e.actorPersona}`) ? <p className="small muted">{t(`persona.${e.actorPersona}` as MessageKey)}</p> : null}
                      {e.ticketRef ? <p className="small">{t("explorer.ticket", { ticket: e.ticketRef })}</p> : null}
                      {e.onBehalfOfUserId && e.onBehalfOfUserId !== e.refs.userId ? (
                        <p className="small">
                          <Link to={activityOf("userId", e.onBehalfOfUserId)}>{t("explorer.onBehalf", { name: onBehalf ?? t("explorer.someone") })}</Link>
                        </p>
                      ) : null}
                    </td>
                    <td>
                      <EventSentence event={e} names={data.names} />
                      {e.reason ? <p className="timeline-reason">{e.reason}</p> : null}
                      <ReadableChanges changes={e.changes} names={data.names} />
                      {entityLink ? (
                        <p className="small">
                          <Link to={entityLink} title={t("explorer.objectHistory")}>
                            {t("explorer.objectHistory")}
                          </Link>
                        </p>
                      ) : null}
                    </td>
                    <td>{participantName(e.participantId)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      <p className="pager">
        {data.paged ? <Link to={`/activity?${data.query}`}>{t("activity.newest")}</Link> : null}
        {data.nextCursor ? <Link to={`/activity?${data.query}${data.query ? "&" : ""}cursor=${data.nextCursor}`}>{t("activity.older")}</Link> : null}
      </p>
    </section>
  );
}
