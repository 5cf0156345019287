import { readFile } from "node:fs/promises";
import { parse } from "csv-parse/sync";
import { describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { expectAccessible, expectNoConsoleErrors, hasBrowser, newConsolePage, startSignedIn } from "../support/browser";
import { type RunningServer } from "../support/server";
import { useDemoConsole } from "../support/demo-console";

const mainNavigation = (page: Page) => page.getByRole("navigation", { name: "Main navigation" });

/** The action of each row of the explorer's table (a data attribute: the page itself shows sentences, not codes). */
async function actionCodes(page: Page): Promise<string[]> {
  return page.locator("table tbody tr[data-action]").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-action") ?? ""));
}

describe.skipIf(!hasBrowser())("compliance in the browser: explorer, export, integrity, reports", () => {
  let server: RunningServer;
  let browser: Browser;
  useDemoConsole((demo) => ({ server, browser } = demo));

  it("filters the explorer, pivots to one object's history, and downloads that view as CSV", async () => {
    const page = await newConsolePage(browser);
    await startSignedIn(page, server.baseUrl, "compliance@hkex.demo");
    await mainNavigation(page).getByRole("link", { name: "Recent activity" }).click();
    await page.getByRole("heading", { level: 1, name: "Recent activity" }).waitFor();
    expect(await page.getByText("Every audit event on the platform").count()).toBe(1);
    await expectAccessible(page);

    // Filter by an action chosen from the list grouped by area.
    await page.getByText("Filters", { exact: true }).click();
    await page.getByLabel("Action", { exact: true }).selectOption({ label: "Role requested" });
    await page.getByRole("button", { name: "Apply filters" }).click();
    await page.waitForURL((url) => url.searchParams.get("action") === "role.grant.requested");
    await expect.poll(async () => (await actionCodes(page)).filter((code) => code !== "role.grant.requested"), { timeout: 8000 }).toEqual([]);
    expect((await actionCodes(page)).length).toBeGreaterThan(5);
    expect(await page.locator("table tbody tr[data-action]").first().innerText()).toMatch(/requested the role .+ for .+\./);
    await expectAccessible(page);

    // Pivot: one grant request's history, from its request to its approval.
    const requested = page.locator('table tbody tr[data-action="role.grant.requested"]').first();
    await requested.getByTitle("Object's history").click();
    await page.waitForURL((url) => url.searchParams.get("entityType") === "grant_request" && url.searchParams.has("entityId"));
    const entityId = new URL(page.url()).searchParams.get("entityId")!;
    const entityCodes = () => page.locator("table tbody tr[data-entity-id]").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-entity-id")));
    await expect.poll(async () => [...new Set(await entityCodes())], { timeout: 8000 }).toEqual([entityId]);
    // The filter form shows the filters now applied, not what was typed for the view before.
    expect(await page.getByLabel("Action", { exact: true }).inputValue()).toBe("");
    expect(await page.getByLabel("Object type").inputValue()).toBe("grant_request");
    expect(await page.getByLabel("Object id").inputValue()).toBe(entityId);
    const history = await actionCodes(page);
    expect(history.length).toBeGreaterThanOrEqual(1);
    expect(history.at(-1)).toBe("role.grant.requested");
    expect(history.filter((code) => !code.startsWith("role.grant."))).toEqual([]);
    await expectAccessible(page);

    // The export link carries the same filters; the download is that same view.
    const link = page.getByRole("link", { name: "Export CSV" });
    expect(await link.getAttribute("href")).toContain(`entityId=${entityId}`);
    const [download] = await Promise.all([page.waitForEvent("download"), link.click()]);
    expect(download.suggestedFilename()).toMatch(/^audit-.+\.csv$/);
    const rows = parse(await readFile((await download.path())!, "utf8"), { columns: true }) as Record<string, string>[];
    expect(rows.map((r) => r.action)).toEqual(history);
    expect(new Set(rows.map((r) => r.entity_id))).toEqual(new Set([entityId]));

    // The JSON lines link, fetched with the page's own session.
    const jsonl = await page.request.get(server.baseUrl + (await page.getByRole("link", { name: "Export JSON lines" }).getAttribute("href"))!);
    expect(jsonl.status()).toBe(200);
    const lines = (await jsonl.text()).trim().split("\n").map((l) => JSON.parse(l) as { action: string; entity_id: string });
    expect(lines.map((l) => l.action)).toEqual(history);

    // Both downloads are in the trail now.
    await page.goto(`${server.baseUrl}/activity?action=audit.exported`);
    expect((await actionCodes(page)).slice(0, 2)).toEqual(["audit.exported", "audit.exported"]);
    expectNoConsoleErrors(page);
    await page.context().close();
  });

  it("views integrity and a point-in-time report", async () => {
    const page = await newConsolePage(browser);
    page.setDefaultTimeout(8000);
    await startSignedIn(page, server.baseUrl, "compliance@hkex.demo");

    await mainNavigation(page).getByRole("link", { name: "Integrity" }).click();
    await page.getByRole("heading", { level: 1, name: "Audit integrity" }).waitFor();
    // The page shows the recorded verifications; none has run in a fresh demo, so compliance starts one.
    expect(await page.getByRole("status").first().innerText()).toBe("No verification has run yet. Verify now to walk every chain.");
    await expectAccessible(page);
    await page.getByRole("button", { name: "Verify now" }).click();
    await page.getByText("Verification started.", { exact: false }).waitFor();
    await expect
      .poll(
        async () => {
          await page.reload();
          return page.getByRole("status").first().innerText();
        },
        { timeout: 20_000 },
      )
      .toMatch(/^All \d+ chains are intact\.$/);
    expect(await page.getByText(/started by Connie Compliance: \d+ chains, [\d,]+ events\./).count()).toBe(1);
    expect(await page.getByText("the signature verifies and every chain still holds the checkpointed events").count()).toBe(1);
    await expectAccessible(page);
    await page.getByRole("button", { name: "Sign a checkpoint of the current chain heads" }).click();
    await page.getByText("Checkpoint signed. Keep a copy outside this system.").waitFor();
    expect(await page.getByRole("link", { name: "Download the checkpoint (JWS)" }).count()).toBe(1);
    await expectAccessible(page);

    await mainNavigation(page).getByRole("link", { name: "Reports" }).click();
    await page.getByRole("heading", { level: 1, name: "Reports" }).waitFor();
    await page.getByRole("heading", { level: 2, name: "Who held which role" }).waitFor();
    // Market-wide, the report asks to be narrowed first, and offers the whole market as a download (issue 16).
    await page.getByText("Choose a participant or a role to list who has access.", { exact: false }).waitFor();
    expect(await page.getByRole("table").count()).toBe(0);
    expect(await page.getByRole("link", { name: "Download the whole market as CSV" }).count()).toBe(1);
    await expectAccessible(page);
    await page.getByLabel("Role").selectOption({ label: "Delegated Administrator (checker)" });
    await page.getByRole("button", { name: "Show" }).click();
    await page.waitForURL((url) => url.searchParams.get("role") === "da_checker");
    const checkers = await page.getByRole("table").locator("tbody tr").allInnerTexts();
    expect(checkers.length).toBeGreaterThan(1);
    for (const row of checkers) expect(row).toContain("Delegated Administrator (checker)");
    await page.getByLabel("Role").selectOption({ label: "Any role" });
    await page.getByLabel("Participant ID").fill("B01234");
    await page.getByRole("button", { name: "Show" }).click();
    await page.waitForURL((url) => url.searchParams.get("participantId") === "B01234");
    const table = page.getByRole("table");
    await expect.poll(async () => (await table.locator("tbody tr").allInnerTexts()).filter((row) => !row.startsWith("B01234")), { timeout: 8000 }).toEqual([]);
    const rows = await table.locator("tbody tr").allInnerTexts();
    expect(rows.length).toBeGreaterThan(3);
    // Provenance: Alice's roles were asked for by the maker and approved by the checker.
    const alice = rows.filter((r) => r.includes("Alice Tam"));
    expect(alice.length).toBe(2);
    for (const row of alice) {
      expect(row).toContain("Mandy Maker (B01234)");
      expect(row).toContain("Chris Checker (B01234)");
    }
    await expectAccessible(page);

    await page.getByRole("link", { name: "Separation-of-duties conflicts and waivers" }).click();
    await page.getByRole("heading", { level: 2, name: "Separation-of-duties conflicts and waivers" }).waitFor();
    // The tab is for every participant again, and the field says so.
    expect(await page.getByLabel("Participant (empty for all)").inputValue()).toBe("");
    expect(await page.getByRole("table").locator("tbody tr").count()).toBeGreaterThan(0);
    await expectAccessible(page);

    await mainNavigation(page).getByRole("link", { name: "Access reviews" }).click();
    await page.getByRole("heading", { level: 1, name: "Access reviews" }).waitFor();
    await page.getByRole("link", { name: "Q4 2026 OCP access review" }).click();
    await page.getByRole("heading", { level: 1, name: /Q4 2026 OCP access review/ }).waitFor();
    await expectAccessible(page);
    expectNoConsoleErrors(page);
    await page.context().close();
  });
});
