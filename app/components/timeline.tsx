import { Link } from "@remix-run/react";
import { useI18n } from "~/i18n/use-i18n";
import { EventSentence, ReadableChanges, type EventNamesView, type ReadableEvent } from "./audit-event";

export interface TimelineEvent extends ReadableEvent {
  id: number;
  occurredAt: string;
  reason: string | null;
}

/**
 * A case's history from the audit trail, told as the explorer tells it (app/components/audit-event.tsx): when, a
 * sentence with the people, role and participant named, the reason given, and each changed field with its label.
 */
export function Timeline({ events, olderHref, names }: { events: TimelineEvent[]; olderHref: string | null; names: EventNamesView }) {
  const { t, time } = useI18n();
  if (events.length === 0) return <p>{t("case.timelineEmpty")}</p>;
  return (
    <>
      <ol className="timeline">
        {events.map((e) => (
          <li key={e.id}>
            <div className="timeline-head">
              <time dateTime={e.occurredAt}>{time(e.occurredAt)}</time> · <EventSentence event={e} names={names} />
            </div>
            {e.reason ? <p className="timeline-reason">{e.reason}</p> : null}
            <ReadableChanges changes={e.changes} names={names} />
          </li>
        ))}
      </ol>
      {olderHref ? <Link to={olderHref}>{t("case.olderEvents")}</Link> : null}
    </>
  );
}
