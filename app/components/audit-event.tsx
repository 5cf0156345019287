import { Link } from "@remix-run/react";
import type { ReactNode } from "react";
import { useI18n } from "~/i18n/use-i18n";
import { isMessageKey, type MessageKey } from "~/i18n/messages";

/** The names a page of events mentions (app/modules/audit/names.server.ts), as the loader sends them. */
export interface EventNamesView {
  users: Record<string, { name: string; email: string }>;
  roles: Record<string, { en: string; zh: string }>;
  participants: Record<string, { en: string; zh: string }>;
  clients: Record<string, { name: string; clientId: string }>;
}

export interface ReadableEvent {
  action: string;
  actorUserId: string | null;
  actorName: string | null;
  refs: { userId: string | null; roleCode: string | null; participantId: string | null; clientId: string | null; stepKey: string | null };
  changes: { [field: string]: { before?: unknown; after?: unknown } } | null;
}

const USER_FIELDS = new Set(["submittedBy", "decidedBy", "ownerUserId", "userId", "requestedBy", "approvedBy", "revokedBy", "createdBy"]);
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

/** Splits a message on its {placeholders} and puts a node (a link, a name) in each. */
function fill(template: string, nodes: Record<string, ReactNode>): ReactNode[] {
  return template.split(/(\{\w+\})/).map((part, i) => {
    const m = /^\{(\w+)\}$/.exec(part);
    return m && m[1]! in nodes ? <span key={i}>{nodes[m[1]!]}</span> : part;
  });
}

/** Links that narrow the explorer to one person, keeping nothing else (a pivot). */
export const activityOf = (filter: "actorUserId" | "userId", id: string) => `/activity?${new URLSearchParams({ [filter]: id }).toString()}`;

/** One event as a sentence in the reader's language, with the people, role, participant and client named. */
export function EventSentence({ event, names }: { event: ReadableEvent; names: EventNamesView }) {
  const { t, locale } = useI18n();
  const zh = locale === "zh-HK";
  const { refs } = event;
  const user = refs.userId ? names.users[refs.userId] : undefined;
  const role = refs.roleCode ? names.roles[refs.roleCode] : undefined;
  const participant = refs.participantId ? names.participants[refs.participantId] : undefined;
  const client = refs.clientId ? names.clients[refs.clientId] : undefined;
  const stepKey = `step.${refs.stepKey}.title`;
  const nodes: Record<string, ReactNode> = {
    actor: event.actorUserId ? (
      <Link to={activityOf("actorUserId", event.actorUserId)}>{event.actorName ?? names.users[event.actorUserId]?.name ?? t("explorer.someone")}</Link>
    ) : (
      (event.actorName ?? t("explorer.system"))
    ),
    user: refs.userId ? <Link to={activityOf("userId", refs.userId)}>{user?.name ?? t("explorer.someone")}</Link> : t("explorer.someone"),
    role: role ? (zh ? role.zh : role.en) : (client?.name ?? t("explorer.someone")),
    participant: participant ? `${zh ? participant.zh : participant.en} (${refs.participantId})` : (refs.participantId ?? ""),
    client: client ? client.name : t("explorer.someClient"),
    step: isMessageKey(stepKey) ? t(stepKey) : "",
  };
  const sentenceKey = `explorer.sentence.${event.action}`;
  const actionKey = `action.${event.action}`;
  const template = isMessageKey(sentenceKey) ? t(sentenceKey) : t("explorer.sentence.unknown", { action: isMessageKey(actionKey) ? t(actionKey) : event.action });
  return <p className="event-sentence">{fill(template, nodes)}</p>;
}

/** A changed value as a reader would say it: names for user ids and roles, Hong Kong times, words for states. */
function ChangedValue({ field, value, names }: { field: string; value: unknown; names: EventNamesView }) {
  const { t, time, locale } = useI18n();
  if (value === null || value === undefined || value === "") return <>—</>;
  if (typeof value === "string") {
    if (USER_FIELDS.has(field)) {
      const who = names.users[value];
      return <Link to={activityOf("userId", value)}>{who?.name ?? t("explorer.someone")}</Link>;
    }
    if (field === "roleCode" || field === "roleA" || field === "roleB") {
      const role = names.roles[value];
      return <>{role ? (locale === "zh-HK" ? role.zh : role.en) : value}</>;
    }
    if (ISO_INSTANT.test(value)) return <time dateTime={value}>{time(value)}</time>;
    const word = `explorer.value.${value}`;
    if (isMessageKey(word)) return <>{t(word)}</>;
    const step = `step.${value}.title`;
    if (field === "stepKey" && isMessageKey(step)) return <>{t(step)}</>;
    return <>{value.length > 160 ? `${value.slice(0, 157)}…` : value}</>;
  }
  if (typeof value === "boolean") return <>{t(value ? "explorer.value.true" : "explorer.value.false")}</>;
  if (Array.isArray(value) && value.every((v) => typeof v === "string")) {
    return (
      <>
        {(value as string[])
          .map((v) => (field === "roles" && names.roles[v] ? (locale === "zh-HK" ? names.roles[v]!.zh : names.roles[v]!.en) : v))
          .join(locale === "zh-HK" ? "、" : ", ")}
      </>
    );
  }
  if (typeof value === "object") {
    // A registered key: { kid, alg, expiresAt, type }; contacts and such: shown short, the export keeps them whole.
    const entries = Object.entries(value as Record<string, unknown>).map(([k, v]) =>
      typeof v === "string" && ISO_INSTANT.test(v) ? `${k} ${time(v)}` : `${k} ${typeof v === "object" ? JSON.stringify(v) : String(v)}`,
    );
    const text = entries.join("; ");
    return <>{text.length > 160 ? `${text.slice(0, 157)}…` : text}</>;
  }
  return <>{String(value)}</>;
}

/** An event's changed fields with translated labels, each before → after. */
export function ReadableChanges({ changes, names }: { changes: ReadableEvent["changes"]; names: EventNamesView }) {
  const { t } = useI18n();
  if (!changes || Object.keys(changes).length === 0) return null;
  return (
    <dl className="changes">
      {Object.entries(changes).map(([field, change]) => {
        const label = `explorer.field.${field}`;
        return (
          <div key={field}>
            <dt>{isMessageKey(label) ? t(label as MessageKey) : field}</dt>
            <dd>
              <del>
                <ChangedValue field={field} value={change.before} names={names} />
              </del>{" "}
              →{" "}
              <ins>
                <ChangedValue field={field} value={change.after} names={names} />
              </ins>
            </dd>
          </div>
        );
      })}
    </dl>
  );
}
