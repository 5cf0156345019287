import { afterAll, beforeAll, expect, it } from "vitest";
import { DEMO_PASSWORD } from "../../app/modules/demo";
import { sql } from "drizzle-orm";
import { myWork, pipelineBoard, pipelineList, pipelineSummary } from "../../app/modules/onboarding/service.server";
import { contextFor } from "../factories";
import { createFirm, type Firm } from "../support/access";
import { describeEachDatabase } from "../support/databases";
import { HttpClient, startServer, type RunningServer } from "../support/server";
import { createVerifiedSession } from "../support/sessions";

interface Page<R> {
  info: { total: number; page: number; size: number };
  rows?: R[];
}
interface UsersData extends Page<never> {
  users: { id: string; displayName: string; participantId: string | null }[];
}
interface ParticipantsData extends Page<never> {
  participants: { id: string; nameEn: string }[];
}
interface SearchData {
  groups: Record<"participants" | "users" | "credentials" | "tickets", { total: number; rows: Record<string, string | null>[] }> | null;
  tooShort: boolean;
}

/** Lists with totals and pages, and the global search, each within the reader's tenancy (issue 13). */
describeEachDatabase("lists with totals and the global search", { demo: true }, (use) => {
  const db = () => use().db;
  let server: RunningServer;
  let firm: Firm;
  const as = async (email: string) => new HttpClient(server.baseUrl).useSession(await createVerifiedSession(db(), email));
  const data = async <T,>(client: HttpClient, path: string, route: string): Promise<T> => {
    const res = await client.get(`${path}${path.includes("?") ? "&" : "?"}_data=${encodeURIComponent(route)}`);
    expect(res.status, path).toBe(200);
    return (await res.json()) as T;
  };

  beforeAll(async () => {
    server = await startServer(db());
    firm = await createFirm(db(), { nameEn: "Harbourfront Zebra Securities Limited", nameZh: "海港斑馬證券有限公司" });
    for (let i = 0; i < 230; i++) await firm.addUser([], `Zebra Staff ${String(i).padStart(3, "0")}`);
  }, 120_000);
  afterAll(() => server.close());

  it("pages a firm's 232 users with a total instead of stopping at 200, without a repeat or a gap", async () => {
    const maker = await as(firm.makerEmail);
    const ids: string[] = [];
    for (let page = 1; page <= 3; page++) {
      const d = await data<UsersData>(maker, `/users?size=100&page=${page}&sort=name`, "routes/users._index");
      expect(d.info).toEqual({ total: 232, page, size: 100 });
      ids.push(...d.users.map((u) => u.id));
      expect(d.users.every((u) => u.participantId === firm.participant.id)).toBe(true);
    }
    expect(ids).toHaveLength(232);
    expect(new Set(ids).size).toBe(232);
    const html = await (await maker.get("/users?size=100&page=2")).text();
    expect(html).toContain("Showing 101–200 of 232");
  });

  it("finds a participant by part of its ID, English name or Chinese name, and pages the list", async () => {
    const officer = await as("officer@hkex.demo");
    for (const q of [firm.participant.id.slice(1), "zebra", "斑馬"]) {
      const d = await data<ParticipantsData>(officer, `/participants?q=${encodeURIComponent(q)}`, "routes/participants._index");
      expect(d.participants.map((p) => p.id), q).toEqual([firm.participant.id]);
    }
    const all = await data<ParticipantsData>(officer, "/participants?size=25&sort=nameEn&dir=desc", "routes/participants._index");
    expect(all.info.total).toBeGreaterThan(3);
    const names = all.participants.map((p) => p.nameEn);
    expect([...names].sort((a, b) => b.localeCompare(a))).toEqual(names);
  });

  it("searches every kind an officer may read, and only its own participant for a DA", async () => {
    const officer = await as("officer@hkex.demo");
    const found = await data<SearchData>(officer, "/search?q=zebra", "routes/search");
    expect(found.groups!.participants.total).toBe(1);
    expect(found.groups!.users.total).toBe(230);
    expect(found.groups!.users.rows).toHaveLength(10);

    // The demo firm B01234's administrator searches for the new firm's staff: nothing, not even a count.
    const other = new HttpClient(server.baseUrl);
    expect((await other.signIn("maker@b01234.demo", DEMO_PASSWORD)).status).toBe(302);
    const outside = await data<SearchData>(other, "/search?q=zebra", "routes/search");
    expect(outside.groups!.participants.total).toBe(0);
    expect(outside.groups!.users.total).toBe(0);
    const own = await data<SearchData>(other, "/search?q=b01234", "routes/search");
    expect(own.groups!.participants.rows.map((p) => p.id)).toEqual(["B01234"]);
    expect(own.groups!.users.total).toBeGreaterThan(0);
    expect(own.groups!.users.rows.every((u) => u.participantId === "B01234")).toBe(true);
  });

  it("summarises the pipeline per step with one query, agreeing with the board, and lists the open steps in pages", async () => {
    const officer = await contextFor(db(), "officer@hkex.demo");
    const [summary, board] = await Promise.all([pipelineSummary(officer), pipelineBoard(officer)]);
    expect(summary.steps.map((s) => [s.stepKey, s.open, s.overdue])).toEqual(board.columns.map((c) => [c.stepKey, c.cards.length, c.overdue]));
    expect(summary.live).toBe(board.live.length);
    const open = summary.steps.reduce((n, s) => n + s.open, 0);
    const ids: string[] = [];
    for (let page = 1; page <= Math.ceil(open / 2); page++) {
      const { rows, info } = await pipelineList(officer, {}, { page, size: 2, sort: "dueDate", dir: "asc" });
      expect(info.total).toBe(open);
      ids.push(...rows.map((r) => `${r.participantId}/${r.stepKey}`));
    }
    expect(new Set(ids).size).toBe(open);
    const overdue = await pipelineList(officer, { overdueOnly: true }, { page: 1, size: 50, sort: "participant", dir: "asc" });
    expect(overdue.info.total).toBe(summary.steps.reduce((n, s) => n + s.overdue, 0));
    expect(overdue.rows.every((r) => r.overdue)).toBe(true);
    // A participant's administrator sees their own participant only.
    const own = await pipelineSummary(firm.maker);
    expect(own.total).toBe(1);
    const ownList = await pipelineList(firm.maker, {}, { page: 1, size: 50, sort: "step", dir: "asc" });
    expect(ownList.rows.every((r) => r.participantId === firm.participant.id)).toBe(true);
    const officerPage = await (await as("officer@hkex.demo")).get("/pipeline?step=users_and_roles&sort=dueDate&page=1");
    expect(officerPage.status).toBe(200);
  });

  it("shows a long report a page at a time with its total, while the CSV has every row", async () => {
    const big = await createFirm(db());
    for (let i = 0; i < 205; i++) await big.addUser(["trade_info_viewer"], `Viewer ${String(i).padStart(3, "0")}`);
    const compliance = await as("compliance@hkex.demo");
    type Report = { info: { total: number; page: number; size: number }; table: { rows: { cells: string[] }[] }; exportHref: string };
    const first = await data<Report>(compliance, `/reports?report=access&participantId=${big.participant.id}`, "routes/reports");
    expect(first.info).toEqual({ total: 207, page: 1, size: 200 });
    expect(first.table.rows).toHaveLength(200);
    const second = await data<Report>(compliance, `/reports?report=access&participantId=${big.participant.id}&page=2`, "routes/reports");
    expect(second.table.rows).toHaveLength(7);
    const csv = await (await compliance.get(first.exportHref)).text();
    expect(csv.trim().split("\r\n")).toHaveLength(208);
    // The database cuts the page (issue 16): the two pages are the CSV's rows in the CSV's order.
    const names = (rows: { cells: string[] }[]) => rows.map((r) => r.cells[1]);
    const csvNames = csv.trim().split("\r\n").slice(1).map((line) => line.split(",")[1]);
    expect([...names(first.table.rows), ...names(second.table.rows)]).toEqual(csvNames);
    // A page past the end shows the last one.
    const past = await data<Report>(compliance, `/reports?report=access&participantId=${big.participant.id}&page=99`, "routes/reports");
    expect(past.info).toEqual({ total: 207, page: 2, size: 200 });
    expect(names(past.table.rows)).toEqual(names(second.table.rows));
  }, 120_000);

  it("shows an officer's work a page at a time, the most urgent first, every item once", async () => {
    // 70 more participants whose application (an officer's step) is open: more than one page of work.
    await db().execute(sql`insert into participants (id, name_en, name_zh, type, status)
      select 'W' || lpad(i::text, 5, '0'), 'Work Test ' || i, '工作測試' || i, 'GCP', 'onboarding' from generate_series(1, 70) as i`);
    await db().execute(sql`insert into onboarding_steps (participant_id, step_key, state, due_date)
      select 'W' || lpad(i::text, 5, '0'), 'application', 'in_progress', current_date + i from generate_series(1, 70) as i`);
    type Work = { items: { participantId: string; stepKey: string }[]; info: { total: number; page: number; size: number } };
    const officer = await as("officer@hkex.demo");
    const first = await data<Work>(officer, "/my-work", "routes/my-work");
    expect(first.info.total).toBeGreaterThanOrEqual(70);
    expect(first.items).toHaveLength(50);
    const pages = [first];
    for (let page = 2; page <= Math.ceil(first.info.total / 50); page++) pages.push(await data<Work>(officer, `/my-work?page=${page}`, "routes/my-work"));
    const keys = pages.flatMap((p) => p.items.map((w) => `${w.participantId}/${w.stepKey}`));
    expect(new Set(keys).size).toBe(first.info.total);
    expect(keys.filter((k) => k.startsWith("W")).length).toBe(70);
    // The same work as the whole list, in its order (the home page's count reads the whole list).
    const all = await myWork(await contextFor(db(), "officer@hkex.demo"));
    expect(keys).toEqual(all.map((w) => `${w.participantId}/${w.stepKey}`));
    const html = await (await officer.get("/my-work?page=2")).text();
    expect(html).toContain(`of ${first.info.total}`);
  }, 120_000);

  it("answers hostile or short queries with a page, never an error", async () => {
    const officer = await as("officer@hkex.demo");
    expect((await data<SearchData>(officer, "/search?q=a", "routes/search")).tooShort).toBe(true);
    for (const q of ["%", "_", "\\", "'; drop table users; --", "x".repeat(5000), "%%__\\\\"]) {
      const res = await officer.get(`/search?q=${encodeURIComponent(q)}`);
      expect(res.status, q.slice(0, 20)).toBe(200);
    }
    const literal = await data<SearchData>(officer, `/search?q=${encodeURIComponent("%_")}`, "routes/search");
    expect(literal.groups!.users.total).toBe(0);
  });
});
