import { describe, expect, it } from "vitest";
import { GENESIS_HASH, canonicalEventParts, canonicalEventPayload, eventHash, storedEventHash, storedEventPayload, type HashedFields } from "~/modules/audit/hash.server";

/** One fixed event. Its hash is pinned below: every stored chain depends on this exact computation. */
const EVENT: HashedFields = {
  chainKey: "B01234",
  seq: 7,
  prevHash: "9f".repeat(32),
  occurredAt: new Date("2026-01-15T02:30:45.123Z"),
  actorUserId: "4f1c2b7e-0a59-4d0b-9a51-2f8f3f1d8e11",
  actorName: "Chris Checker (B01234)",
  actorPersona: "da_checker",
  onBehalfOfUserId: null,
  ticketRef: null,
  participantId: "B01234",
  action: "role.grant.approved",
  entityType: "role_grant",
  entityId: "grant-0001",
  changes: { status: { before: "requested", after: "active" }, approvedBy: { before: null, after: "u-2" } },
  reason: "Quarterly onboarding of the SI team",
  requestId: "req-12345678",
  ip: "203.0.113.7",
  userAgent: "Mozilla/5.0",
  metadata: { roleCode: "si_maker", userId: "u-9", nested: { b: 2, a: 1 } },
};

// Cross-checked once by hand: SHA-256 of JSON.stringify of the payload with keys sorted at every level.
const PINNED_HASH = "efdea47c0e1f2ad6552334bbc46bc7e322a6d70cd7f47e1bd3a29afdaac5ce08";

/** The same content with every key, at every level, in reverse order. */
function reversedKeys<T>(value: T): T {
  if (Array.isArray(value)) return value.map(reversedKeys) as T;
  if (value && typeof value === "object" && !(value instanceof Date)) {
    return Object.fromEntries(
      Object.entries(value)
        .reverse()
        .map(([k, v]) => [k, reversedKeys(v)]),
    ) as T;
  }
  return value;
}

describe("audit event hash", () => {
  it("is pinned: a change to the canonical form or the hash function breaks every stored chain", () => {
    expect(eventHash(EVENT)).toBe(PINNED_HASH);
  });

  it("does not depend on the order of keys, at any depth", () => {
    const reordered = reversedKeys(EVENT);
    expect(Object.keys(reordered)[0]).toBe("metadata");
    expect(canonicalEventPayload(reordered)).toBe(canonicalEventPayload(EVENT));
    expect(eventHash(reordered)).toBe(eventHash(EVENT));
  });

  it("gives the same answer every time", () => {
    expect(eventHash(structuredClone(EVENT))).toBe(eventHash(EVENT));
  });

  it("writes keys sorted, times in UTC and absent values as explicit nulls", () => {
    const text = canonicalEventPayload(EVENT);
    expect(text).toContain('"occurredAt":"2026-01-15T02:30:45.123Z"');
    expect(text).toContain('"ticketRef":null');
    expect(text).toContain('"nested":{"a":1,"b":2}');
    expect(text.startsWith('{"action":')).toBe(true);
    expect(JSON.parse(text)).toMatchObject({ v: 1, seq: 7 });
  });

  it.each([
    ["seq", { seq: 8 }],
    ["link to the previous event", { prevHash: GENESIS_HASH }],
    ["time, by one millisecond", { occurredAt: new Date("2026-01-15T02:30:45.124Z") }],
    ["actor's name", { actorName: "Mallory" }],
    ["reason", { reason: "Quarterly onboarding of the SI team." }],
    ["changed field", { changes: { status: { before: "requested", after: "revoked" } } }],
    ["metadata", { metadata: { roleCode: "si_checker", userId: "u-9", nested: { b: 2, a: 1 } } }],
    ["a null made an empty string", { ticketRef: "" }],
  ] as const)("changes when the %s changes", (_what, change) => {
    expect(eventHash({ ...EVENT, ...change } as HashedFields)).not.toBe(eventHash(EVENT));
  });

  it("is a SHA-256 in hex, like the genesis link", () => {
    expect(eventHash(EVENT)).toMatch(/^[0-9a-f]{64}$/);
    expect(GENESIS_HASH).toMatch(/^0{64}$/);
  });

  it("cut around the head's seq and hash (the one-statement append), is the same canonical form", () => {
    for (const event of [
      EVENT,
      { ...EVENT, seq: 1, prevHash: GENESIS_HASH, metadata: { prevHash: "x", seq: 3, "\"seq\":": "y" }, reason: '","seq":1,"' },
      { ...EVENT, seq: 123456789, changes: null, metadata: null, actorName: "陳大文 \u0000 😀", entityId: null },
    ]) {
      const { seq, prevHash, ...rest } = event;
      const [a, b, c] = canonicalEventParts(rest);
      expect(a + prevHash + b + String(seq) + c).toBe(canonicalEventPayload(event));
    }
  });

  it("built from a stored row's text (verification's fast path), is the same canonical form", () => {
    for (const event of [
      EVENT,
      { ...EVENT, changes: null, metadata: null, reason: null, actorName: '陳大文 "\\ \u0001 \u2028 😀', seq: 1 },
      { ...EVENT, metadata: { list: [3, "a", { z: 1, a: [null, true, 1.5, 1e21] }], "é": 1, e: 2, "": 0 } },
    ] as HashedFields[]) {
      const stored = {
        ...event,
        occurredAt: event.occurredAt.toISOString(),
        changes: event.changes === null ? null : JSON.stringify(reversedKeys(event.changes)),
        metadata: event.metadata === null ? null : JSON.stringify(reversedKeys(event.metadata)),
      };
      expect(storedEventPayload(stored)).toBe(canonicalEventPayload(event));
    }
    expect(storedEventHash({ ...EVENT, occurredAt: EVENT.occurredAt.toISOString(), changes: JSON.stringify(EVENT.changes), metadata: JSON.stringify(EVENT.metadata) })).toBe(PINNED_HASH);
  });
});
