import { Link } from "@remix-run/react";
import { useI18n } from "~/i18n/use-i18n";
import { isMessageKey } from "~/i18n/messages";

export interface TimelineEvent {
  id: number;
  occurredAt: string;
  actorName: string | null;
  actorPersona: string | null;
  action: string;
  entityType: string;
  entityId: string | null;
  reason: string | null;
  changes: { [field: string]: { before?: unknown; after?: unknown } } | null;
}

export function showValue(value: unknown, names: Record<string, string>): string {
  if (value === null || value === undefined || value === "") return "—";
  const text = typeof value === "string" ? (names[value] ?? value) : JSON.stringify(value);
  // Long values (contact lists, metadata) are cut here; the export and the entity's history keep them whole.
  return text.length > 160 ? `${text.slice(0, 157)}…` : text;
}

/** A case's or an entity's history from the audit trail: who did what, when, and each field before and after. */
export function Timeline({
  events,
  olderHref,
  userNames = {},
}: {
  events: TimelineEvent[];
  olderHref: string | null;
  /** Display names for user ids that appear in the changes. */
  userNames?: Record<string, string>;
}) {
  const { t, time } = useI18n();
  if (events.length === 0) return <p>{t("case.timelineEmpty")}</p>;
  return (
    <>
      <ol className="timeline">
        {events.map((e) => {
          const label = `action.${e.action}`;
          return (
            <li key={e.id}>
              <p className="timeline-head">
                <time dateTime={e.occurredAt}>{time(e.occurredAt)}</time> ·{" "}
                <strong>{isMessageKey(label) ? t(label) : e.action}</strong>
                {e.entityId ? <span className="muted"> · {e.entityId}</span> : null} ·{" "}
                {e.actorName ?? t("activity.noActor")}
              </p>
              {e.reason ? <p className="timeline-reason">{e.reason}</p> : null}
              <ChangesList changes={e.changes} userNames={userNames} />
            </li>
          );
        })}
      </ol>
      {olderHref ? <Link to={olderHref}>{t("case.olderEvents")}</Link> : null}
    </>
  );
}

/** An event's changed fields, each before → after; user ids shown as names. */
export function ChangesList({ changes, userNames }: { changes: TimelineEvent["changes"]; userNames: Record<string, string> }) {
  if (!changes || Object.keys(changes).length === 0) return null;
  return (
    <dl className="changes">
      {Object.entries(changes).map(([field, change]) => (
        <div key={field}>
          <dt>{field}</dt>
          <dd>
            <del>{showValue(change.before, userNames)}</del> → <ins>{showValue(change.after, userNames)}</ins>
          </dd>
        </div>
      ))}
    </dl>
  );
}
