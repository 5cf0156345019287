import { createHash } from "node:crypto";
import canonicalize from "canonicalize";
import type { FieldChanges } from "../../../db/schema";

export const GENESIS_HASH = "0".repeat(64);
/** Bumped only with a new canonical form; verification reads the version from each event's payload. */
export const HASH_VERSION = 1;

export interface HashedFields {
  chainKey: string;
  seq: number;
  prevHash: string;
  occurredAt: Date;
  actorUserId: string | null;
  actorName: string | null;
  actorPersona: string | null;
  onBehalfOfUserId: string | null;
  ticketRef: string | null;
  participantId: string | null;
  action: string;
  entityType: string;
  entityId: string | null;
  changes: FieldChanges | null;
  reason: string | null;
  requestId: string | null;
  ip: string | null;
  userAgent: string | null;
  metadata: Record<string, unknown> | null;
}

/**
 * Canonical serialisation (RFC 8785 JSON Canonicalization Scheme) of everything an event says, with explicit
 * nulls and the time as an ISO-8601 UTC string, so that the hash depends on the content, not on column order,
 * key order or the code that wrote it.
 */
export function canonicalEventPayload(e: HashedFields): string {
  const text = canonicalize(payloadOf(e));
  if (text === undefined) throw new Error("audit event cannot be serialised");
  return text;
}

function payloadOf(e: HashedFields) {
  return {
    v: HASH_VERSION,
    chainKey: e.chainKey,
    seq: e.seq,
    prevHash: e.prevHash,
    occurredAt: e.occurredAt.toISOString(),
    actorUserId: e.actorUserId,
    actorName: e.actorName,
    actorPersona: e.actorPersona,
    onBehalfOfUserId: e.onBehalfOfUserId,
    ticketRef: e.ticketRef,
    participantId: e.participantId,
    action: e.action,
    entityType: e.entityType,
    entityId: e.entityId,
    changes: e.changes,
    reason: e.reason,
    requestId: e.requestId,
    ip: e.ip,
    userAgent: e.userAgent,
    metadata: e.metadata,
  };
}

/**
 * The same canonical form cut around the two values only the database knows when one statement appends the event
 * (the chain head's seq and hash, locked by that statement): `a + prevHash + b + seq + c` is exactly
 * canonicalEventPayload's text. RFC 8785 sorts the members by key, and "prevHash" sorts before "seq"; a hex hash
 * and an integer need no escaping, so the database can put them in as they are.
 */
export function canonicalEventParts(e: Omit<HashedFields, "seq" | "prevHash">): [a: string, b: string, c: string] {
  const payload: Record<string, unknown> = payloadOf({ ...e, seq: 0, prevHash: "" });
  const pieces: string[] = [];
  let current = "{";
  Object.keys(payload)
    .sort()
    .forEach((key, i) => {
      current += `${i ? "," : ""}${JSON.stringify(key)}:`;
      if (key === "prevHash") {
        pieces.push(`${current}"`);
        current = '"';
      } else if (key === "seq") {
        pieces.push(current);
        current = "";
      } else {
        const value = canonicalize(payload[key]);
        if (value === undefined) throw new Error("audit event cannot be serialised");
        current += value;
      }
    });
  pieces.push(`${current}}`);
  if (pieces.length !== 3) throw new Error("audit canonical form: unexpected members");
  return pieces as [string, string, string];
}

export function eventHash(e: HashedFields): string {
  return createHash("sha256").update(canonicalEventPayload(e), "utf8").digest("hex");
}

/** An event as verification reads it, raw: the time as its ISO-8601 UTC text, the JSON columns as their text. */
export interface StoredEventText {
  chainKey: string;
  seq: number;
  prevHash: string;
  occurredAt: string;
  actorUserId: string | null;
  actorName: string | null;
  actorPersona: string | null;
  onBehalfOfUserId: string | null;
  ticketRef: string | null;
  participantId: string | null;
  action: string;
  entityType: string;
  entityId: string | null;
  changes: string | null;
  reason: string | null;
  requestId: string | null;
  ip: string | null;
  userAgent: string | null;
  metadata: string | null;
}

/** RFC 8785 of a JSON value as JSON.parse gives it (no undefined, no Date): sorted keys, JSON.stringify's scalars. */
function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) {
    let out = "[";
    for (let i = 0; i < value.length; i++) out += (i ? "," : "") + canonicalJson(value[i]);
    return `${out}]`;
  }
  const object = value as Record<string, unknown>;
  const keys = Object.keys(object).sort();
  let out = "{";
  for (let i = 0; i < keys.length; i++) out += `${i ? "," : ""}${JSON.stringify(keys[i])}:${canonicalJson(object[keys[i]!])}`;
  return `${out}}`;
}

/** RFC 8785 of a JSON column's text (null for SQL null). */
export function canonicalJsonText(text: string | null): string {
  return text === null ? "null" : canonicalJson(JSON.parse(text));
}

const q = JSON.stringify;

/**
 * canonicalEventPayload of a stored row, built straight from its text: the members in their RFC 8785 order written
 * out once, so that only the JSON columns are parsed and sorted. Verification's hot path; the unit test holds it
 * to canonicalEventPayload.
 */
export function storedEventPayload(e: StoredEventText): string {
  return (
    `{"action":${q(e.action)},"actorName":${q(e.actorName)},"actorPersona":${q(e.actorPersona)},"actorUserId":${q(e.actorUserId)}` +
    `,"chainKey":${q(e.chainKey)},"changes":${canonicalJsonText(e.changes)}` +
    `,"entityId":${q(e.entityId)},"entityType":${q(e.entityType)},"ip":${q(e.ip)}` +
    `,"metadata":${canonicalJsonText(e.metadata)}` +
    `,"occurredAt":${q(e.occurredAt)},"onBehalfOfUserId":${q(e.onBehalfOfUserId)},"participantId":${q(e.participantId)}` +
    `,"prevHash":${q(e.prevHash)},"reason":${q(e.reason)},"requestId":${q(e.requestId)},"seq":${q(e.seq)}` +
    `,"ticketRef":${q(e.ticketRef)},"userAgent":${q(e.userAgent)},"v":${HASH_VERSION}}`
  );
}

export function storedEventHash(e: StoredEventText): string {
  return createHash("sha256").update(storedEventPayload(e), "utf8").digest("hex");
}
