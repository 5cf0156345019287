import { describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { appSettled, expectAccessible, expectNoConsoleErrors, hasBrowser, newConsolePage, startSignedIn } from "../support/browser";
import { type RunningServer } from "../support/server";
import { useDemoConsole } from "../support/demo-console";

/**
 * Each demo persona, written out as a person reads the page (SPEC §1). `audit` says whether the persona reads the
 * audit history ("Recent activity"): compliance and the participants' administrators do; the rest never see it.
 */
const PERSONAS = [
  { email: "officer@hkex.demo", name: "Olivia Officer", persona: "Onboarding officer", audit: false },
  { email: "compliance@hkex.demo", name: "Connie Compliance", persona: "Compliance reviewer", audit: true },
  { email: "helpdesk@hkex.demo", name: "Henry Helpdesk", persona: "Helpdesk", audit: false },
  { email: "platform@hkex.demo", name: "Patrick Platform", persona: "Platform administrator", audit: false },
  {
    email: "maker@b01234.demo",
    name: "Mandy Maker (B01234)",
    persona: "Delegated administrator (maker)",
    participant: "B01234",
    audit: true,
  },
  {
    email: "checker@b01234.demo",
    name: "Chris Checker (B01234)",
    persona: "Delegated administrator (checker)",
    participant: "B01234",
    audit: true,
  },
  {
    email: "maker@c00123.demo",
    name: "Mei Maker (C00123)",
    persona: "Delegated administrator (maker)",
    participant: "C00123",
    audit: true,
  },
  {
    email: "checker@c00123.demo",
    name: "Calvin Checker (C00123)",
    persona: "Delegated administrator (checker)",
    participant: "C00123",
    audit: true,
  },
];

const mainNavigation = (page: Page) => page.getByRole("navigation", { name: "Main navigation" });
const ERROR_HEADING = "Something stopped this page";

describe.skipIf(!hasBrowser())("each persona's sign-in and navigation (browser)", () => {
  let server: RunningServer;
  let browser: Browser;
  useDemoConsole((demo) => ({ server, browser } = demo));

  it.each(PERSONAS)("$email lands on a home page naming them; the navigation offers what they may use", async (who) => {
    const page = await newConsolePage(browser);
    await page.goto(`${server.baseUrl}/login`);
    await expectAccessible(page);
    await startSignedIn(page, server.baseUrl, who.email);

    await page.getByRole("heading", { level: 1, name: `Welcome, ${who.name}.` }).waitFor();
    expect(new URL(page.url()).pathname).toBe("/");
    const main = await page.getByRole("main").innerText();
    expect(main).toContain(`You act as ${who.persona}.`);
    expect(main).toContain(who.participant ? `You act for participant ${who.participant}.` : "You act for HKEX.");
    const banner = await page.getByRole("banner").innerText();
    expect(banner).toContain(`Signed in as ${who.name} · ${who.persona}`);
    if (who.participant) expect(banner).toContain(`· ${who.participant}`);
    else expect(banner).not.toMatch(/· [A-Z]\d{5}/);

    const nav = await mainNavigation(page).getByRole("link").allInnerTexts();
    expect(nav[0]).toBe("Home");
    expect(nav).toContain("Participants");
    expect(nav.includes("Recent activity"), `"Recent activity" in ${JSON.stringify(nav)}`).toBe(who.audit);
    expect(new Set(nav).size).toBe(nav.length);
    // The home page offers the same pages, less itself.
    const offered = await page.getByRole("main").getByRole("region", { name: "What you can do here" }).getByRole("list").first().getByRole("link").allInnerTexts();
    expect(offered).toEqual(nav.slice(1));
    await expectAccessible(page);

    // Every page offered opens for this persona (no 403 or 404 behind a link), and is accessible.
    for (const label of nav.slice(1)) {
      const link = mainNavigation(page).getByRole("link", { name: label, exact: true });
      const href = await link.getAttribute("href");
      await link.click();
      await page.waitForURL((url) => url.pathname === href);
      // The address changes as the new page's data arrives; let it render before reading it.
      await appSettled(page);
      await page.getByRole("main").getByRole("heading", { level: 1 }).first().waitFor();
      expect(await page.getByRole("heading", { name: ERROR_HEADING }).count(), `${label} (${href})`).toBe(0);
      if (label === "Recent activity") {
        await page.getByRole("heading", { level: 1, name: "Recent activity" }).waitFor();
        expect(await page.getByRole("main").innerText()).toContain(
          who.participant ? `Audit events of participant ${who.participant}` : "Every audit event on the platform",
        );
      }
      await expectAccessible(page);
    }
    expectNoConsoleErrors(page);

    if (!who.audit) {
      // Not offered, and not reachable by typing the address either.
      const response = await page.goto(`${server.baseUrl}/activity`);
      expect(response?.status()).toBe(403);
      await page.getByRole("heading", { level: 1, name: ERROR_HEADING }).waitFor();
      expect(await page.getByRole("alert").innerText()).toContain("You do not have permission to do that.");
      await expectAccessible(page);
      expectNoConsoleErrors(page, { allowStatuses: [403] });
    }
    await page.context().close();
  });
});
