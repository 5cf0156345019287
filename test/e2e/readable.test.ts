import { readFile } from "node:fs/promises";
import { parse } from "csv-parse/sync";
import { describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { expectAccessible, expectNoConsoleErrors, hasBrowser, newConsolePage, startSignedIn } from "../support/browser";
import { type RunningServer } from "../support/server";
import { useDemoConsole } from "../support/demo-console";

/**
 * Issue 14 in the browser: each persona's home page draws its charts (server-side SVG, figures as text too) in
 * English and in Chinese with axe clean; the explorer's chart narrows the view to a day and then an hour; a report
 * downloads as CSV that parses back to the rows on the page.
 */

const HOMES = [
  { email: "officer@hkex.demo", en: "Onboarding: participants at each step", zh: "開戶註冊進度：各步驟的參與者" },
  { email: "compliance@hkex.demo", en: "Audit events per day, last 14 days", zh: "最近 14 日每日審計事件" },
  { email: "checker@b01234.demo", en: "Users by status", zh: "按狀態劃分的用戶" },
  { email: "helpdesk@hkex.demo", en: "Recent tickets", zh: "最近的服務單" },
];

/** The main content's figure captions: what the charts are of. */
const captions = (page: Page) => page.getByRole("main").locator("figure figcaption").allInnerTexts();

describe.skipIf(!hasBrowser())("readable at a glance (issue 14)", () => {
  let server: RunningServer;
  let browser: Browser;
  useDemoConsole((demo) => ({ server, browser } = demo));

  it.each(HOMES)("draws the home dashboard of $email in English and in Chinese", async ({ email, en, zh }) => {
    for (const [locale, heading] of [["en-GB", en], ["zh-HK", zh]] as const) {
      const page = await newConsolePage(browser, locale);
      await startSignedIn(page, server.baseUrl, email);
      await page.getByRole("heading", { level: 2, name: heading }).first().waitFor();
      if (email !== "helpdesk@hkex.demo") {
        const shown = await captions(page);
        expect(shown.length, `${email} ${locale}`).toBeGreaterThan(0);
        // Every bar's figure is also text: a <title> in the drawing and a list for screen readers.
        expect(await page.locator("main figure svg title").count()).toBeGreaterThan(0);
        expect(await page.locator("main figure ul.visually-hidden li").count()).toBeGreaterThan(0);
      }
      await expectAccessible(page);
      if (locale === "en-GB") await page.screenshot({ path: `/tmp/readable-home-${email.split("@")[0]}-en.png`, fullPage: true });
      expectNoConsoleErrors(page);
      await page.context().close();
    }
  });

  it("narrows the explorer to a day and then an hour by its chart, in both languages", async () => {
    for (const [locale, perDay, perHour] of [
      ["en-GB", "Events per day", "Events per hour"],
      ["zh-HK", "每日事件數目", "每小時事件數目"],
    ] as const) {
      const page = await newConsolePage(browser, locale);
      page.setDefaultTimeout(8000);
      await startSignedIn(page, server.baseUrl, "compliance@hkex.demo", "/activity");
      await page.locator("#activity-chart-title").waitFor();
      expect(await page.locator("#activity-chart-title").innerText()).toContain(perDay);
      await expectAccessible(page);
      // The busiest day: its bar is a link named with its figure.
      const bars = page.locator("#activity-chart-title ~ svg a, figure[aria-labelledby='activity-chart-title'] svg a");
      const labels = await bars.evaluateAll((links) => links.map((a) => a.getAttribute("aria-label") ?? ""));
      const figures = labels.map((l) => Number(/(\d[\d,]*)$/.exec(l)?.[1]?.replace(/,/g, "") ?? 0));
      const busiest = figures.indexOf(Math.max(...figures));
      expect(figures[busiest]).toBeGreaterThan(0);
      await bars.nth(busiest).click();
      await page.waitForURL((url) => url.searchParams.has("from") && url.searchParams.get("from") === url.searchParams.get("to"));
      await expect.poll(async () => page.locator("#activity-chart-title").innerText()).toContain(perHour);
      const hours = await page.locator("figure[aria-labelledby='activity-chart-title'] svg a").count();
      expect(hours).toBe(24);
      await expectAccessible(page);
      if (locale === "en-GB") await page.screenshot({ path: "/tmp/readable-explorer-en.png", fullPage: true });
      expectNoConsoleErrors(page);
      await page.context().close();
    }
  });

  it("downloads a report as CSV that parses back to the rows on the page", async () => {
    const page = await newConsolePage(browser);
    page.setDefaultTimeout(8000);
    await startSignedIn(page, server.baseUrl, "compliance@hkex.demo", "/reports?report=access&participantId=B01234");
    await page.getByRole("heading", { level: 2, name: "Who held which role" }).waitFor();
    const table = page.getByRole("table");
    const shown = await table.locator("tbody tr").evaluateAll((rows) => rows.map((r) => [...r.querySelectorAll("td")].map((td) => (td.textContent ?? "").trim())));
    expect(shown.length).toBeGreaterThan(3);
    expect(await page.getByText(`${shown.length} rows`, { exact: true }).count()).toBe(1);
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("link", { name: "Download as CSV" }).click()]);
    expect(download.suggestedFilename()).toMatch(/^report-access-B01234-.+\.csv$/);
    const [headers, ...rows] = parse(await readFile((await download.path())!, "utf8"), { bom: true }) as string[][];
    expect(headers).toEqual(await table.locator("thead th").allInnerTexts());
    expect(rows).toEqual(shown);
    await expectAccessible(page);
    expectNoConsoleErrors(page);
    await page.context().close();
  });
});
