import { parse } from "csv-parse/sync";
import { afterAll, beforeAll, expect, it } from "vitest";
import { accessAt, accessBatchesAt } from "../../app/modules/reports/service.server";
import { reportTable } from "../../app/modules/reports/tables.server";
import type { ServiceContext } from "../../app/modules/context.server";
import { contextFor } from "../factories";
import { createFirm, type Firm } from "../support/access";
import { describeEachDatabase } from "../support/databases";
import { startServer, type RunningServer } from "../support/server";
import { verifiedClients } from "../support/sessions";

/**
 * The access report at market scale (issue 16): a reader who sees every participant chooses a participant or a role
 * before anything is listed or counted, the whole market is the streamed CSV, and a participant's administrator
 * lists their own participant as before. Filters that cannot be read are said by their field, never a 500.
 */

interface ReportData {
  own: string | null;
  needsFilter: boolean;
  problems: Partial<Record<"participantId" | "roleCode", string>>;
  info: { total: number; page: number; size: number };
  table: { headers: string[]; rows: { key: string; cells: string[] }[] };
  exportHref: string;
  marketExportHref: string;
}

/** A datetime-local value in Hong Kong time, as the page's "at" field sends it. */
const hkLocal = (d: Date) => new Date(d.getTime() + 8 * 3600 * 1000).toISOString().slice(0, 23);
const parseCsv = (text: string) => parse(text, { bom: true, record_delimiter: ["\r\n"] }) as string[][];
const inert = (cell: string) => (/^[=+\-@\t\r]/.test(cell) ? `'${cell}` : cell);

describeEachDatabase("the access report asks for a participant or a role (issue 16)", { demo: true }, (use) => {
  let server: RunningServer;
  let compliance: ServiceContext;
  let firm: Firm;
  let beforeFirm: Date;
  const as = verifiedClients(() => server.baseUrl, () => use().db);
  async function page(email: string, query: string, status = 200, language = "en"): Promise<ReportData> {
    const res = await (await as(email)).get(`/reports?${query}&_data=routes%2Freports`, { "Accept-Language": language });
    expect(res.status, query).toBe(status);
    return (await res.json()) as ReportData;
  }

  beforeAll(async () => {
    const { db } = use();
    compliance = await contextFor(db, "compliance@hkex.demo");
    beforeFirm = new Date(Date.now() - 1000);
    // A firm whose viewers hold trade information from now on: after `beforeFirm`, not at it.
    firm = await createFirm(db);
    for (const name of ["Ada Viewer", "Bo Viewer", "Cy Viewer"]) await firm.addUser(["trade_info_viewer"], name);
    server = await startServer(db);
  }, 60_000);
  afterAll(() => server?.close());

  it("opens market-wide with the prompt and the whole market's CSV, and lists nothing until narrowed", async () => {
    const data = await page("compliance@hkex.demo", "report=access");
    expect(data.needsFilter).toBe(true);
    expect(data.table.rows).toEqual([]);
    expect(data.info.total).toBe(0);
    expect(data.marketExportHref).toMatch(/^\/reports\/export\?report=access&at=/);
    const html = await (await (await as("compliance@hkex.demo")).get("/reports")).text();
    expect(html).toContain("Choose a participant or a role to list who has access.");
    expect(html).toContain("Download the whole market as CSV");
    expect(html).not.toContain("<table");
    expect(html).not.toMatch(/\d+ rows/);
    const zh = await (await (await as("compliance@hkex.demo")).get("/reports", { "Accept-Language": "zh-HK" })).text();
    expect(zh).toContain("請選擇參與者或角色");
    expect(zh).toContain("下載全市場資料（CSV）");
    // The module refuses to read a page of the whole market, whoever asks it.
    const table = await reportTable(compliance, { report: "access", at: new Date(), from: new Date(), to: new Date(), invalid: {} }, "en", { offset: 0, limit: 200 });
    expect(table).toMatchObject({ rows: [], total: 0, needsFilter: true });
  });

  it("lists a participant's grants only, with its total", async () => {
    const data = await page("compliance@hkex.demo", "report=access&participantId=b01234");
    expect(data.needsFilter).toBe(false);
    const expected = await accessAt(compliance, new Date(), { participantId: "B01234" });
    expect(data.info.total).toBe(expected.length);
    expect(data.table.rows.map((r) => r.key)).toEqual(expected.map((r) => r.grantId));
    expect(new Set(data.table.rows.map((r) => r.cells[0]))).toEqual(new Set(["B01234"]));
    expect(data.exportHref).toContain("participantId=B01234");
  });

  it("lists a role's holders across the market, HKEX's own staff included, and a role within a participant", async () => {
    const everyone = await accessAt(compliance, new Date());
    const viewers = await page("compliance@hkex.demo", "report=access&role=trade_info_viewer");
    const expected = everyone.filter((r) => r.roleCode === "trade_info_viewer");
    expect(viewers.info.total).toBe(expected.length);
    expect(viewers.table.rows.map((r) => r.key)).toEqual(expected.map((r) => r.grantId));
    expect(new Set(viewers.table.rows.map((r) => r.cells[2]))).toEqual(new Set(["Trade information viewer"]));
    expect(new Set(viewers.table.rows.map((r) => r.cells[0])).size).toBeGreaterThan(1);
    expect(viewers.exportHref).toContain("role=trade_info_viewer");

    const staff = await page("compliance@hkex.demo", "report=access&role=compliance_reviewer");
    expect(staff.table.rows.length).toBeGreaterThan(0);
    expect(new Set(staff.table.rows.map((r) => r.cells[0]))).toEqual(new Set(["HKEX"]));

    const both = await page("compliance@hkex.demo", `report=access&role=trade_info_viewer&participantId=${firm.participant.id}`);
    expect(both.table.rows.map((r) => r.cells[1])).toEqual(["Ada Viewer", "Bo Viewer", "Cy Viewer"]);
    expect(both.info.total).toBe(3);
  });

  it("keeps the point-in-time view with a filter: a grant made later is not held at an earlier instant", async () => {
    const at = encodeURIComponent(hkLocal(beforeFirm));
    const earlier = await page("compliance@hkex.demo", `report=access&role=trade_info_viewer&at=${at}`);
    const now = await page("compliance@hkex.demo", "report=access&role=trade_info_viewer");
    const names = (d: ReportData) => d.table.rows.map((r) => r.cells[1]);
    expect(names(earlier)).not.toContain("Ada Viewer");
    expect(names(now)).toContain("Ada Viewer");
    expect(now.info.total).toBe(earlier.info.total + 3);
    expect((await page("compliance@hkex.demo", `report=access&participantId=${firm.participant.id}&at=${at}`)).info.total).toBe(0);
    // The CSV is taken at the same instant as the page.
    const csv = parseCsv(await (await (await as("compliance@hkex.demo")).get(earlier.exportHref)).text()).slice(1);
    expect(csv).toEqual(earlier.table.rows.map((r) => r.cells.map(inert)));
  });

  it("downloads the whole market as CSV, in the report's order, streamed a few participants at a time", async () => {
    const data = await page("compliance@hkex.demo", "report=access");
    const res = await (await as("compliance@hkex.demo")).get(data.marketExportHref);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-disposition")).toMatch(/^attachment; filename="report-access-\d{4}.+\.csv"$/);
    const [headers, ...rows] = parseCsv(await res.text());
    const at = new Date(`${new URL(data.marketExportHref, server.baseUrl).searchParams.get("at")!}+08:00`);
    expect(Math.abs(at.getTime() - Date.now())).toBeLessThan(60_000);
    // The same rows as one read of the whole report (the table the CSV used to be built from).
    const whole = await reportTable(compliance, { report: "access", at, from: at, to: at, invalid: {} }, "en");
    expect(headers).toEqual(whole.headers);
    expect(rows).toEqual(whole.rows.map((r) => r.cells.map(inert)));
    expect(new Set(rows.map((r) => r[0])).size).toBeGreaterThan(3);
    expect(rows.map((r) => r[0])).toContain(firm.participant.id);
    expect(rows.at(-1)![0]).toBe("HKEX");
    expect(rows.length).toBeGreaterThan(20);
    // Read two participants at a time, the parts add up to the one read, in its order, with a role filter too.
    for (const filter of [undefined, { roleCode: "trade_info_viewer" }]) {
      const parts: string[][] = [];
      for await (const part of accessBatchesAt(compliance, at, filter, 2)) parts.push(part.map((r) => r.grantId));
      expect(parts.length).toBeGreaterThan(2);
      expect(parts.flat()).toEqual((await accessAt(compliance, at, filter)).map((r) => r.grantId));
    }
  });

  it("lists a participant's administrator's own participant without asking, whatever participant the query names", async () => {
    const own = await page("checker@b01234.demo", "report=access");
    expect(own.needsFilter).toBe(false);
    expect(own.own).toBe("B01234");
    expect(own.table.rows.length).toBeGreaterThan(0);
    expect(new Set(own.table.rows.map((r) => r.cells[0]))).toEqual(new Set(["B01234"]));
    const other = await page("checker@b01234.demo", "report=access&participantId=C00123");
    expect(other.table.rows.map((r) => r.key)).toEqual(own.table.rows.map((r) => r.key));
    expect(other.problems).toEqual({});
    expect(other.exportHref).not.toContain("C00123");
    const html = await (await (await as("checker@b01234.demo")).get("/reports?participantId=C00123")).text();
    // No participant field to set, and the page says whose report it is.
    expect(html).not.toContain('name="participantId"');
    expect(html).toContain("Your participant only: B01234.");
    // A role within their own participant.
    const role = await page("checker@b01234.demo", "report=access&role=da_maker&participantId=C00123");
    expect(role.table.rows.length).toBeGreaterThan(0);
    expect(new Set(role.table.rows.map((r) => `${r.cells[0]} ${r.cells[2]}`))).toEqual(new Set(["B01234 Delegated Administrator (maker)"]));
    // The whole-market link gives them their own participant only.
    const csv = parseCsv(await (await (await as("checker@b01234.demo")).get(own.marketExportHref)).text()).slice(1);
    expect(new Set(csv.map((r) => r[0]))).toEqual(new Set(["B01234"]));
  });

  it("says what is wrong with a filter by its field, in both languages, and lists nothing", async () => {
    const cases: [string, "participantId" | "roleCode", string, string][] = [
      ["participantId=B0123", "participantId", "A participant ID is one capital letter and five digits, such as B01234.", "參與者編號為一個大寫英文字母加五位數字"],
      ["participantId=%3Cscript%3E", "participantId", "A participant ID is one capital letter and five digits, such as B01234.", "參與者編號為一個大寫英文字母加五位數字"],
      ["participantId=Z99999", "participantId", "There is no participant with this ID.", "沒有此編號的參與者。"],
      ["role=no_such_role", "roleCode", "Choose a role from the list.", "請從清單中選擇角色。"],
      ["role=%27%3B%20drop%20table%20roles", "roleCode", "Choose a role from the list.", "請從清單中選擇角色。"],
    ];
    const client = await as("compliance@hkex.demo");
    for (const [query, field, en, zh] of cases) {
      const data = await page("compliance@hkex.demo", `report=access&${query}`, 400);
      expect(Object.keys(data.problems), query).toEqual([field]);
      expect(data.table.rows).toEqual([]);
      const html = await client.get(`/reports?report=access&${query}`);
      expect(html.status, query).toBe(400);
      const text = await html.text();
      expect(text).toContain(en);
      expect(text).toMatch(/aria-invalid="true"/);
      expect(text).not.toContain("<table");
      expect(await (await client.get(`/reports?report=access&${query}`, { "Accept-Language": "zh-HK" })).text()).toContain(zh);
      // Nor does the download widen a bad filter to the whole market.
      expect((await client.get(`/reports/export?report=access&${query}`)).status, query).toBe(400);
    }
  });
});
