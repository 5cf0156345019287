import { json } from "@remix-run/node";
import { Link, useLoaderData } from "@remix-run/react";
import { protectedLoader } from "~/auth/guard.server";
import { useI18n } from "~/i18n/use-i18n";
import { isMessageKey } from "~/i18n/messages";
import { listRecentAuditEvents } from "~/modules/audit/service.server";

export const loader = /* @__PURE__ */ protectedLoader("audit:read", async ({ ctx, request }) => {
  const before = Number(new URL(request.url).searchParams.get("before"));
  const page = await listRecentAuditEvents(ctx, {
    before: Number.isSafeInteger(before) && before > 0 ? before : undefined,
    limit: 50,
  });
  return json({
    ownParticipant: ctx.actor.persona.startsWith("da_") ? ctx.actor.participantId : null,
    paged: Boolean(before),
    nextCursor: page.nextCursor,
    events: page.events.map((e) => ({
      id: e.id,
      chainKey: e.chainKey,
      seq: e.seq,
      occurredAt: e.occurredAt.toISOString(),
      actorName: e.actorName,
      actorPersona: e.actorPersona,
      action: e.action,
      entityType: e.entityType,
      entityId: e.entityId,
      participantId: e.participantId,
      reason: e.reason,
    })),
  });
});

export default function Activity() {
  const { t, time } = useI18n();
  const data = useLoaderData<typeof loader>();
  return (
    <section aria-labelledby="activity-title">
      <h1 id="activity-title">{t("activity.title")}</h1>
      <p>
        {data.ownParticipant
          ? t("activity.scopeOwn", { participant: data.ownParticipant })
          : t("activity.scopeAll")}
      </p>
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
                return (
                  <tr key={e.id}>
                    <td>{time(e.occurredAt)}</td>
                    <td>{e.actorName ?? t("activity.noActor")}</td>
                    <td>
                      {isMessageKey(label) ? t(label) : e.action}
                      <br />
                      <code className="muted">{e.action}</code>
                    </td>
                    <td>
                      {e.entityType}
                      {e.entityId ? <code className="muted"> {e.entityId.slice(0, 12)}</code> : null}
                    </td>
                    <td>{e.participantId ?? "—"}</td>
                    <td>{e.reason ?? ""}</td>
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
        {data.paged ? <Link to="/activity">{t("activity.newest")}</Link> : null}
        {data.nextCursor ? <Link to={`/activity?before=${data.nextCursor}`}>{t("activity.older")}</Link> : null}
      </p>
    </section>
  );
}
