import { parse } from "csv-parse/sync";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, expect, it } from "vitest";
import { reviewCampaigns } from "../../db/schema";
import { decideRequest } from "../../app/modules/roles/service.server";
import { createUser } from "../../app/modules/users/service.server";
import { contextFor } from "../factories";
import { describeEachDatabase } from "../support/databases";
import { startServer, type RunningServer } from "../support/server";
import { verifiedClients } from "../support/sessions";

/**
 * Every report of /reports and an access review's outcome download as CSV (issue 14): the download parses back, with
 * a standard parser, to exactly the rows and headers the page shows, in the reader's language, with every cell a
 * spreadsheet would run made inert; and the page counts its rows with proper plurals.
 */

const REPORTS = ["access", "diff", "sod", "dormant", "mfa", "expiring", "pending"] as const;
interface ReportData {
  table: { headers: string[]; linkColumn: number; rows: { key: string; cells: string[] }[] };
  exportHref: string;
}
const inert = (cell: string) => (/^[=+\-@\t\r]/.test(cell) ? `'${cell}` : cell);
const parseCsv = (text: string) => parse(text, { bom: true, relax_quotes: false, relax_column_count: false, record_delimiter: ["\r\n"] }) as string[][];

describeEachDatabase("report and review exports (issue 14)", { demo: true }, (use) => {
  let server: RunningServer;
  const EVIL = "=HYPERLINK(\"https://evil.example\",\"x\") Tam";
  beforeAll(async () => {
    const { db } = use();
    // A user whose name a spreadsheet would run as a formula, holding a role (asked for and approved).
    const maker = await contextFor(db, "maker@b01234.demo");
    const checker = await contextFor(db, "checker@b01234.demo");
    const created = await createUser(maker, { participantId: "B01234", email: "evil.tam@harbourview.example", displayName: EVIL, roles: ["trade_info_viewer"] });
    await decideRequest(checker, { requestId: created.requests[0]!, decision: "approve", comment: "+ok" });
    server = await startServer(db);
  });
  afterAll(() => server?.close());

  const as = verifiedClients(() => server.baseUrl, () => use().db);

  it.each(REPORTS)("the %s report downloads as CSV that parses back to the page's rows, in both languages", async (report) => {
    for (const language of ["en", "zh-HK"]) {
      const client = await as("compliance@hkex.demo");
      // The access report lists only once narrowed (issue 16): here to a role, across every participant.
      const filter = report === "access" ? "&role=trade_info_viewer" : "";
      const res = await client.get(`/reports?report=${report}${filter}&_data=routes%2Freports`, { "Accept-Language": language });
      expect(res.status).toBe(200);
      const page = (await res.json()) as ReportData;
      const download = await client.get(page.exportHref, { "Accept-Language": language });
      expect(download.status).toBe(200);
      expect(download.headers.get("content-type")).toBe("text/csv; charset=utf-8");
      expect(download.headers.get("content-disposition")).toMatch(new RegExp(`^attachment; filename="report-${report}-${report === "access" ? "trade_info_viewer-" : ""}.+\\.csv"$`));
      const [headers, ...rows] = parseCsv(await download.text());
      if (report === "access") expect(rows.length).toBeGreaterThan(1);
      expect(headers).toEqual(page.table.headers);
      expect(rows).toEqual(page.table.rows.map((r) => r.cells.map(inert)));
      for (const row of rows) for (const cell of row) expect(/^[=+\-@\t\r]/.test(cell), cell).toBe(false);
    }
  });

  it("makes a formula-looking name inert in the CSV and leaves it as written on the page", async () => {
    const client = await as("compliance@hkex.demo");
    const page = (await (await client.get("/reports?report=access&participantId=B01234&_data=routes%2Freports")).json()) as ReportData;
    const row = page.table.rows.find((r) => r.cells[1] === EVIL);
    expect(row).toBeDefined();
    const rows = parseCsv(await (await client.get(page.exportHref)).text());
    const evil = rows.find((r) => r[1] === `'${EVIL}`);
    expect(evil).toEqual(row!.cells.map(inert));
    expect(page.exportHref).toContain("participantId=B01234");
    expect(rows.slice(1).every((r) => r[0] === "B01234")).toBe(true);
  });

  it("gives a participant administrator only their own participant, whatever the link asks for", async () => {
    const client = await as("checker@b01234.demo");
    const rows = parseCsv(await (await client.get("/reports/export?report=access&participantId=C00123")).text()).slice(1);
    expect(rows.length).toBeGreaterThan(0);
    expect(new Set(rows.map((r) => r[0]))).toEqual(new Set(["B01234"]));
  });

  it("counts rows with proper plurals in both languages", async () => {
    const client = await as("compliance@hkex.demo");
    const one = await (await client.get("/reports?report=access&participantId=B01234")).text();
    expect(one).toMatch(/\d+ rows/);
    expect(one).not.toMatch(/\b1 rows\b/);
    const zh = await (await client.get("/reports?report=access&participantId=B01234", { "Accept-Language": "zh-HK" })).text();
    expect(zh).toMatch(/\d+ 行/);
  });

  it("downloads an access review's outcome, the items each reader may see", async () => {
    const [campaign] = await use().db.select().from(reviewCampaigns).where(eq(reviewCampaigns.name, "Q4 2026 OCP access review"));
    expect(campaign).toBeDefined();
    const compliance = await as("compliance@hkex.demo");
    const pageData = (await (await compliance.get(`/reviews/${campaign!.id}?_data=routes%2Freviews.%24campaignId`)).json()) as { items: { participantId: string; userName: string }[] };
    const res = await compliance.get(`/reviews/${campaign!.id}/export`);
    expect(res.status).toBe(200);
    const [headers, ...rows] = parseCsv(await res.text());
    expect(headers).toEqual(["Participant", "User", "Email (login name)", "Access", "Outcome", "Decided by", "Decided at", "Comment"]);
    expect(rows.map((r) => [r[0], r[1]])).toEqual(pageData.items.map((i) => [i.participantId, inert(i.userName)]));

    const da = await as("checker@b01234.demo");
    const own = parseCsv(await (await da.get(`/reviews/${campaign!.id}/export`)).text()).slice(1);
    expect(own.length).toBeGreaterThan(0);
    expect(new Set(own.map((r) => r[0]))).toEqual(new Set(["B01234"]));
    const zh = parseCsv(await (await da.get(`/reviews/${campaign!.id}/export`, { "Accept-Language": "zh-HK" })).text());
    expect(zh[0]![0]).not.toBe("Participant");
  });
});
