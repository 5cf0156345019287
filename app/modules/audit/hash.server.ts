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
  const payload = {
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
  const text = canonicalize(payload);
  if (text === undefined) throw new Error("audit event cannot be serialised");
  return text;
}

export function eventHash(e: HashedFields): string {
  return createHash("sha256").update(canonicalEventPayload(e), "utf8").digest("hex");
}
