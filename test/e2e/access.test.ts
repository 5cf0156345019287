import { describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { participants } from "../../db/schema";
import { DEMO_PASSWORD } from "../../app/modules/demo";
import { completeSecondFactor, expectAccessible, expectNoConsoleErrors, hasBrowser, newConsolePage, startSignedIn } from "../support/browser";
import { type RunningServer } from "../support/server";
import { useDemoConsole, type DemoConsole } from "../support/demo-console";

function mainNavigation(page: Page) {
  return page.getByRole("navigation", { name: "Main navigation" });
}

/** The participant ids a page's table links to, sorted. */
async function participantLinks(page: Page): Promise<string[]> {
  const texts = await page.getByRole("table").getByRole("link").allInnerTexts();
  return texts
    .map((t) => t.trim())
    .filter((t) => /^[A-Z]\d{5}$/.test(t))
    .sort();
}

describe.skipIf(!hasBrowser())("sign-in failures, sign-out and participant scope (browser)", () => {
  let database: DemoConsole["database"];
  let server: RunningServer;
  let browser: Browser;
  useDemoConsole((demo) => ({ database, server, browser } = demo));

  it("a wrong password shows the message by the form, announced and focused, and signs nobody in", async () => {
    const page = await newConsolePage(browser);
    await page.goto(`${server.baseUrl}/login`);
    await page.getByLabel("Email").fill("officer@hkex.demo");
    await page.getByLabel("Password").fill("not-the-password");
    await page.getByRole("button", { name: "Sign in" }).click();

    const form = page.getByRole("region", { name: "Sign in" });
    const alert = form.getByRole("alert");
    await alert.waitFor();
    expect((await alert.innerText()).trim()).toBe("The email or password is incorrect.");
    expect(await alert.getAttribute("tabindex")).toBe("-1");
    await page.waitForFunction(() => document.activeElement?.getAttribute("role") === "alert");
    expect(new URL(page.url()).pathname).toBe("/login");
    expect(await mainNavigation(page).count()).toBe(0);
    await expectAccessible(page);

    // The right password then works from the same form.
    await page.getByLabel("Password").fill(DEMO_PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await completeSecondFactor(page, server.baseUrl, "officer@hkex.demo");
    await page.getByRole("heading", { level: 1, name: "Welcome, Olivia Officer." }).waitFor();
    expectNoConsoleErrors(page, { allowStatuses: [401] });
    await page.context().close();
  });

  it("signing out ends the session: going back or opening a page leads to the sign-in page", async () => {
    const page = await newConsolePage(browser);
    await startSignedIn(page, server.baseUrl, "checker@c00123.demo");
    await mainNavigation(page).getByRole("link", { name: "Participants" }).click();
    await page.getByRole("heading", { level: 1, name: "Participants" }).waitFor();

    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL((url) => url.pathname === "/login");
    expect((await page.getByRole("status").innerText()).trim()).toBe("You have signed out.");
    expect(await page.getByRole("button", { name: "Sign out" }).count()).toBe(0);
    await expectAccessible(page);

    await page.goBack();
    await page.waitForURL((url) => url.pathname === "/login" && url.searchParams.get("redirectTo") === "/participants");
    await page.getByRole("heading", { level: 1, name: "Sign in" }).waitFor();
    expect(await mainNavigation(page).count()).toBe(0);
    expect(await page.getByText("Lion Rock Custodian Services Limited").count()).toBe(0);

    await page.goto(`${server.baseUrl}/activity`);
    expect(new URL(page.url()).pathname).toBe("/login");
    await page.getByRole("heading", { level: 1, name: "Sign in" }).waitFor();
    await expectAccessible(page);

    // Signing in again returns to the page that was asked for.
    await page.getByLabel("Email").fill("checker@c00123.demo");
    await page.getByLabel("Password").fill(DEMO_PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await completeSecondFactor(page, server.baseUrl, "checker@c00123.demo");
    await page.getByRole("heading", { level: 1, name: "Recent activity" }).waitFor();
    expect(new URL(page.url()).pathname).toBe("/activity");
    expectNoConsoleErrors(page);
    await page.context().close();
  });

  it("a participant administrator sees only their participant; another's page is not found", async () => {
    const page = await newConsolePage(browser);
    await startSignedIn(page, server.baseUrl, "maker@b01234.demo");
    await mainNavigation(page).getByRole("link", { name: "Participants" }).click();
    await page.getByRole("heading", { level: 1, name: "Participants" }).waitFor();
    expect(await page.getByRole("main").innerText()).toContain("Your participant only: B01234.");
    expect(await participantLinks(page)).toEqual(["B01234"]);
    await expectAccessible(page);

    await page.getByRole("table").getByRole("link", { name: "B01234" }).click();
    await page.getByRole("heading", { level: 1, name: "Participant B01234" }).waitFor();
    expect(await page.getByRole("main").innerText()).toContain("Harbour View Securities Clearing Limited");
    await expectAccessible(page);

    for (const other of ["C00123", "A00003"]) {
      const response = await page.goto(`${server.baseUrl}/participants/${other}`);
      expect(response?.status()).toBe(404);
      await page.getByRole("heading", { level: 1, name: "Something stopped this page" }).waitFor();
      const alert = await page.getByRole("alert").innerText();
      expect(alert).toContain("404");
      expect(alert).toContain("We could not find that page or record.");
      expect(await page.getByRole("heading", { name: `Participant ${other}` }).count()).toBe(0);
      await expectAccessible(page);
    }
    expect(await page.getByText("Lion Rock Custodian Services Limited").count()).toBe(0);
    expectNoConsoleErrors(page, { allowStatuses: [404] });
    await page.context().close();
  });

  it("the onboarding officer sees every participant and can open any of them", async () => {
    const page = await newConsolePage(browser);
    await startSignedIn(page, server.baseUrl, "officer@hkex.demo");
    await mainNavigation(page).getByRole("link", { name: "Participants" }).click();
    await page.getByRole("heading", { level: 1, name: "Participants" }).waitFor();
    expect(await page.getByRole("main").innerText()).toContain("All participants registered for OCP onboarding.");
    // Every participant there is: the demo's three, and whatever else the seed registers.
    const everyId = (await database.db.select({ id: participants.id }).from(participants)).map((r) => r.id).sort();
    expect(everyId).toEqual(expect.arrayContaining(["A00003", "B01234", "C00123"]));
    expect(await participantLinks(page)).toEqual(everyId);
    await expectAccessible(page);

    await page.getByRole("table").getByRole("link", { name: "C00123" }).click();
    await page.getByRole("heading", { level: 1, name: "Participant C00123" }).waitFor();
    const detail = await page.getByRole("main").innerText();
    expect(detail).toContain("Lion Rock Custodian Services Limited");
    expect(detail).toContain("獅子山託管服務有限公司");
    expect(detail).toContain("Custodian Participant");
    await expectAccessible(page);
    expectNoConsoleErrors(page);
    await page.context().close();
  });
});
