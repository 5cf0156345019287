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
  /** OCP services, where a page's events change a participant's services. */
  services?: Record<string, { en: string; zh: string }>;
}

export interface ReadableEvent {
  action: string;
  actorUserId: string | null;
  actorName: string | null;
  refs: { userId: string | null; roleCode: string | null; participantId: string | null; clientId: string | null; stepKey: string | null };
  changes: { [field: string]: { before?: unknown; after?: unknown } } | null;
  /** The names the event's subject had when it was written, where the event recorded them (see freezeNames). */
  frozen?: {
    user?: string;
    role?: { en: string; zh: string };
    participant?: { en: string; zh: string };
    client?: string;
  } | null;
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
  // The name the event had when it was written, else the name of today (events written before names were frozen).
  const frozen = event.frozen ?? {};
  const user = refs.userId ? (frozen.user !== undefined ? { name: frozen.user } : names.users[refs.userId]) : undefined;
  const role = refs.roleCode ? (frozen.role ?? names.roles[refs.roleCode]) : undefined;
  const participant = refs.participantId ? (frozen.participant ?? names.participants[refs.participantId]) : undefined;
  const client = refs.clientId ? (frozen.client !== undefined ? { name: frozen.client } : names.clients[refs.clientId]) : undefined;
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

/** A changed value as a reader would say it: names for user ids, roles and services, Hong Kong times, words for codes. */
function ChangedValue({ field, value, names }: { field: string; value: unknown; names: EventNamesView }) {
  const { t, time, locale } = useI18n();
  const zh = locale === "zh-HK";
  if (typeof value === "string" && USER_FIELDS.has(field) && value) {
    const who = names.users[value];
    return <Link to={activityOf("userId", value)}>{who?.name ?? t("explorer.someone")}</Link>;
  }
  // A code said in words: a role's or a service's name, a state, a checklist item, a step.
  const word = (v: string, f: string): string => {
    if ((f === "roleCode" || f === "roleA" || f === "roleB" || f === "roles") && names.roles[v]) return zh ? names.roles[v]!.zh : names.roles[v]!.en;
    if ((f === "services" || f === "serviceCodes" || f === "service" || f === "serviceCode") && names.services?.[v]) return zh ? names.services[v]!.zh : names.services[v]!.en;
    if (ISO_INSTANT.test(v)) return time(v);
    for (const key of [`explorer.value.${v}`, `rollout.checklist.item.${v}`, `step.${v}.title`, `participantType.${v}`]) if (isMessageKey(key)) return t(key);
    return v;
  };
  const label = (k: string): string | null => {
    const key = `explorer.field.${k}`;
    return isMessageKey(key) ? t(key) : null;
  };
  const say = (v: unknown, f: string): string => {
    if (v === null || v === undefined || v === "") return "";
    if (typeof v === "string") return word(v, f);
    if (typeof v === "boolean") return t(v ? "explorer.value.true" : "explorer.value.false");
    if (Array.isArray(v)) return v.map((x) => say(x, f)).filter(Boolean).join(zh ? "、" : ", ");
    if (typeof v === "object") {
      // A registered key ({ kid, alg, expiresAt, type }), a contact ({ name, email, phone, title }): the parts a
      // reader knows by a label keep it; the rest (a name, an email) speak for themselves.
      return Object.entries(v as Record<string, unknown>)
        .map(([k, x]) => {
          const said = say(x, k);
          if (!said) return "";
          const l = k === "name" || k === "email" || k === "title" || k === "phone" ? null : label(k);
          return l ? `${l} ${said}` : said;
        })
        .filter(Boolean)
        .join(zh ? "；" : "; ");
    }
    return String(v);
  };
  if (typeof value === "string" && field === "apiClientId" && value) return <>{names.clients[value]?.name ?? t("explorer.someClient")}</>;
  if (typeof value === "string" && ISO_INSTANT.test(value)) return <time dateTime={value}>{time(value)}</time>;
  // An English name is English on a Chinese page too, and marked so.
  if (typeof value === "string" && field === "nameEn" && value) return <span lang="en">{value}</span>;
  const text = say(value, field);
  if (!text) return <>—</>;
  // Long values (contact lists) are cut here; the export and the object's history keep them whole.
  return <>{text.length > 160 ? `${text.slice(0, 157)}…` : text}</>;
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
            <dt>{isMessageKey(label) ? t(label as MessageKey) : field.startsWith("case.") ? t("explorer.field.case", { code: field.slice(5) }) : field}</dt>
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
