import { json } from "@remix-run/node";
import { Form, Link, useLoaderData } from "@remix-run/react";
import { protectedLoader } from "~/auth/guard.server";
import { mayOn, tenantOf } from "~/modules/tenancy.server";
import { ChangesList } from "~/components/timeline";
import { useI18n } from "~/i18n/use-i18n";
import { isMessageKey } from "~/i18n/messages";
import { exploreAudit, parseAuditFilters } from "~/modules/audit/explorer.server";
import { titled } from "~/lib/meta";

/** The audit explorer (SPEC §8): filters, keyset pages, readable events, pivots, exports. */

export const meta = titled("activity.title");
export const loader = /* @__PURE__ */ protectedLoader("audit:read", async ({ ctx, request }) => {
  const params = new URL(request.url).searchParams;
  const filters = parseAuditFilters(params);
  const page = await exploreAudit(ctx, filters, params.get("cursor"), 50);
  const own = tenantOf(ctx.actor, "audit:read") !== null;
  return json({
    ownParticipant: own ? ctx.actor.participantId : null,
    canExport: mayOn(ctx.actor, "audit:export", ctx.actor.participantId),
    filters,
    paged: params.has("cursor"),
    query: new URLSearchParams(Object.entries(filters).filter((e): e is [string, string] => Boolean(e[1]))).toString(),
    nextCursor: page.nextCursor,
    userNames: page.userNames,
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
      requestId: e.requestId,
      ip: e.ip,
    })),
  });
});

export default function Activity() {
  const { t, time } = useI18n();
  const data = useLoaderData<typeof loader>();
  const f = data.filters;
  const withFilters = (extra: Record<string, string>) => `/activity?${new URLSearchParams(extra).toString()}`;
  return (
    <section aria-labelledby="activity-title">
      <h1 id="activity-title">{t("activity.title")}</h1>
      <p>{data.ownParticipant ? t("activity.scopeOwn", { participant: data.ownParticipant }) : t("activity.scopeAll")}</p>
      <details className="panel filters-panel" open={Boolean(data.query)}>
        <summary>{t("explorer.filters")}</summary>
        {/* Keyed by the applied filters: after a pivot the fields show what is applied, not what was typed before. */}
        <Form method="get" className="filters" key={data.query}>
          {data.ownParticipant ? null : (
            <div className="field compact">
              <label htmlFor="f-participant">{t("explorer.participant")}</label>
              <input id="f-participant" name="participantId" defaultValue={f.participantId ?? ""} />
            </div>
          )}
          <div className="field compact">
            <label htmlFor="f-action">{t("explorer.action")}</label>
            <input id="f-action" name="action" defaultValue={f.action ?? ""} placeholder="role.grant.*" />
          </div>
          <div className="field compact">
            <label htmlFor="f-actor">{t("explorer.actor")}</label>
            <input id="f-actor" name="actorUserId" defaultValue={f.actorUserId ?? ""} />
          </div>
          <div className="field compact">
            <label htmlFor="f-user">{t("explorer.user")}</label>
            <input id="f-user" name="userId" defaultValue={f.userId ?? ""} />
          </div>
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
            <input id="f-from" name="from" type="datetime-local" defaultValue={f.from ?? ""} />
          </div>
          <div className="field compact">
            <label htmlFor="f-to">{t("explorer.to")}</label>
            <input id="f-to" name="to" type="datetime-local" defaultValue={f.to ?? ""} />
          </div>
          <button type="submit" className="button secondary">
            {t("explorer.apply")}
          </button>
          <Link to="/activity">{t("explorer.clear")}</Link>
        </Form>
      </details>
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
                <th scope="col">{t("activity.actor")}</th>
                <th scope="col">{t("activity.action")}</th>
                <th scope="col">{t("activity.entity")}</th>
                <th scope="col">{t("activity.participant")}</th>
                <th scope="col">{t("activity.reason")}</th>
                <th scope="col">{t("activity.chain")}</th>
              </tr>
            </thead>
            <tbody>
              {data.events.map((e) => {
                const label = `action.${e.action}`;
                const entityLink =
                  e.entityType === "user" && e.entityId
                    ? withFilters({ userId: e.entityId })
                    : e.entityId
                      ? withFilters({ entityType: e.entityType, entityId: e.entityId })
                      : null;
                return (
                  <tr key={e.id}>
                    <td>{time(e.occurredAt)}</td>
                    <td>
                      {e.actorUserId ? (
                        <Link to={withFilters({ actorUserId: e.actorUserId })} title={t("explorer.actorActivity")}>
                          {e.actorName ?? e.actorUserId}
                        </Link>
                      ) : (
                        (e.actorName ?? t("activity.noActor"))
                      )}
                      {e.actorPersona ? <p className="small muted">{e.actorPersona}</p> : null}
                      {e.ticketRef ? <p className="small">{t("explorer.ticket", { ticket: e.ticketRef })}</p> : null}
                      {e.onBehalfOfUserId ? <p className="small">{t("explorer.onBehalf", { name: data.userNames[e.onBehalfOfUserId] ?? e.onBehalfOfUserId })}</p> : null}
                    </td>
                    <td>
                      {isMessageKey(label) ? t(label) : e.action}
                      <br />
                      <code className="muted">{e.action}</code>
                    </td>
                    <td>
                      {e.entityType}
                      {entityLink ? (
                        <>
                          {" "}
                          <Link to={entityLink} title={t("explorer.objectHistory")}>
                            <code>{e.entityId!.slice(0, 24)}</code>
                          </Link>
                        </>
                      ) : null}
                    </td>
                    <td>{e.participantId ?? "—"}</td>
                    <td>
                      {e.reason ? <p className="timeline-reason">{e.reason}</p> : null}
                      <ChangesList changes={e.changes} userNames={data.userNames} />
                    </td>
                    <td>
                      <code>
                        {e.chainKey} #{e.seq}
                      </code>
                    </td>
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
