import { describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { hongKongDayPlus } from "../../app/lib/hong-kong-time";
import { verificationAttendedCheck } from "../../app/modules/rollouts/readiness-check.server";
import { expectAccessible, hasBrowser, newConsolePage, startSignedIn } from "../support/browser";
import { useDemoConsole, type DemoConsole } from "../support/demo-console";
import type { RunningServer } from "../support/server";

const mainNavigation = (page: Page) => page.getByRole("navigation", { name: "Main navigation" });
const NAME = "OCP go-live, wave 2";

/** A Hong Kong local date-time some hours from now, as a datetime-local field takes it. */
const hkLocal = (hours: number) => new Date(Date.now() + hours * 3600 * 1000 + 8 * 3600 * 1000).toISOString().slice(0, 16);

describe.skipIf(!hasBrowser())("an officer creates a rollout, the DA records the verification session, the dashboard turns ready (browser)", () => {
  let database: DemoConsole["database"];
  let server: RunningServer;
  let browser: Browser;
  useDemoConsole((demo) => ({ database, server, browser } = demo));

  it("goes from the create form to a ready participant whose step 7 check passes", async () => {
    const officer = await newConsolePage(browser);
    await startSignedIn(officer, server.baseUrl, "officer@hkex.demo");
    await mainNavigation(officer).getByRole("link", { name: "Rollouts" }).click();
    await officer.getByRole("heading", { level: 1, name: "Rollouts" }).waitFor();
    // The demo's wave is listed.
    await officer.getByRole("link", { name: "OCP go-live, wave 1" }).waitFor();
    await expectAccessible(officer);

    await officer.getByLabel("Name", { exact: true }).fill(NAME);
    await officer.getByRole("checkbox", { name: /^Reference data/ }).check();
    await officer.getByLabel("Participants (IDs, separated by spaces or commas)").fill("B01234");
    await officer.getByLabel("End-of-day cutoff (the logins of this day carry over)").fill(hongKongDayPlus(new Date(), -2));
    await officer.getByLabel("Conversion day").fill(hongKongDayPlus(new Date(), -1));
    await officer.getByLabel("Verification session starts (Hong Kong time)").fill(hkLocal(-1));
    await officer.getByLabel("Verification session ends (Hong Kong time)").fill(hkLocal(24));
    await officer.getByLabel("Launch day").fill(hongKongDayPlus(new Date(), 3));
    await officer.getByRole("button", { name: "Create a rollout" }).click();
    await officer.getByRole("heading", { level: 1, name: new RegExp(NAME) }).waitFor();
    await expectAccessible(officer);
    await officer.getByRole("button", { name: "Take the carry-over snapshots now" }).click();
    await officer.getByRole("status").filter({ hasText: "1 snapshots taken." }).waitFor();
    const row = officer.getByRole("row", { name: /B01234/ });
    await expect(row.textContent()).resolves.toContain("No confirmed verification result");
    // The chart says its numbers as text.
    await expect(officer.getByRole("img", { name: "Participants by state" }).textContent()).resolves.toMatch(/Ready\s*0/);
    const rolloutUrl = server.baseUrl + new URL(officer.url()).pathname;

    // B01234's administrator records every result of the session and confirms the fallback checklist.
    const maker = await newConsolePage(browser);
    await startSignedIn(maker, server.baseUrl, "maker@b01234.demo", new URL(rolloutUrl).pathname + "/participants/B01234");
    await maker.getByRole("heading", { level: 1, name: /B01234/ }).waitFor();
    await expectAccessible(maker);
    const recordButtons = maker.getByRole("button", { name: /^Record: / });
    const subjects = await recordButtons.count();
    expect(subjects).toBeGreaterThanOrEqual(3);
    for (let i = 0; i < subjects; i++) {
      await recordButtons.nth(i).click();
      await expect.poll(() => maker.getByText("Waiting for an officer's confirmation").count()).toBe(i + 1);
    }
    const checklist = maker.getByRole("group", { name: "Fallback checklist" });
    for (const box of await checklist.getByRole("checkbox").all()) await box.check();
    await maker.getByRole("textbox", { name: /^Contact person/ }).fill("Mandy Wong, +852 2100 1234");
    await maker.getByRole("button", { name: "Confirm the checklist" }).click();
    await maker.getByRole("status").filter({ hasText: "Checklist confirmed." }).waitFor();
    await expectAccessible(maker);

    // The officer confirms each result; the participant turns ready.
    await officer.goto(rolloutUrl + "/participants/B01234");
    await officer.getByRole("heading", { level: 2, name: "Verification session results" }).waitFor();
    const confirmButtons = officer.getByRole("button", { name: /^Confirm: / });
    await expect(confirmButtons.count()).resolves.toBe(subjects);
    for (let i = 0; i < subjects; i++) {
      await confirmButtons.first().click();
      await expect.poll(() => confirmButtons.count()).toBe(subjects - i - 1);
    }
    await expectAccessible(officer);
    await officer.goto(rolloutUrl);
    await expect(officer.getByRole("row", { name: /B01234/ }).getByRole("cell").nth(1).textContent()).resolves.toBe("Ready");
    await expect(officer.getByRole("img", { name: "Participants by state" }).textContent()).resolves.toMatch(/Ready\s*1/);

    // Step 7 of B01234's case reads its check from the rollout: it passes now.
    expect(await verificationAttendedCheck(database.db, "B01234")).toMatchObject({ outcome: "pass", messageKey: "rollout.check.pass" });
    // A whole session of one participant, through three people's pages: longer than one page's test.
  }, 120_000);

  it("shows the demo's wave to E00789's checker in Traditional Chinese, with only E00789, and its sealed snapshot", async () => {
    const checker = await newConsolePage(browser, "zh-HK");
    await startSignedIn(checker, server.baseUrl, "checker@e00789.demo", "/rollouts");
    await checker.getByRole("heading", { level: 1, name: "推出", exact: true }).waitFor({ timeout: 10_000 });
    await checker.getByRole("link", { name: "OCP go-live, wave 1" }).click({ timeout: 10_000 });
    await checker.getByRole("heading", { level: 1, name: /OCP go-live, wave 1/ }).waitFor({ timeout: 10_000 });
    await expect(checker.getByText("推出前核實時段").first().isVisible()).resolves.toBe(true);
    await expect(checker.getByText("變更凍結生效中", { exact: false }).isVisible()).resolves.toBe(true);
    const rows = checker.getByRole("table").getByRole("row");
    await expect(rows.count()).resolves.toBe(2);
    await expect(rows.nth(1).textContent()).resolves.toContain("核實失敗");
    await expectAccessible(checker);
    await checker.getByRole("link", { name: /E00789/ }).click();
    await checker.getByRole("heading", { level: 2, name: "日終截止時的轉移記錄" }).waitFor();
    await expect(checker.getByText("摘要與封存的內容及審計記錄中的摘要相符。").isVisible()).resolves.toBe(true);
    await expectAccessible(checker);
  });
});
