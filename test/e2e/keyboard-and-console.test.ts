import { describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { DEMO_PASSWORD } from "../../app/modules/demo";
import { consoleErrorsOf, expectAccessible, expectNoConsoleErrors, focusedElement, hasBrowser, newConsolePage, signIn, startSignedIn } from "../support/browser";
import { type RunningServer } from "../support/server";
import { useDemoConsole } from "../support/demo-console";
import { nextCode } from "../support/totp";

/** Presses Tab until the field labelled `label` has focus (at most `limit` presses), as a keyboard user would. */
async function tabTo(page: Page, label: string, limit = 15): Promise<void> {
  for (let i = 0; i <= limit; i++) {
    if ((await focusedElement(page)).name === label) return;
    await page.keyboard.press("Tab");
  }
  throw new Error(`Tab never reached "${label}"; focus is on ${JSON.stringify(await focusedElement(page))}`);
}

function expectVisibleFocus(focused: Awaited<ReturnType<typeof focusedElement>>) {
  expect(focused.outlineStyle, `outline of ${focused.tag} "${focused.name}"`).not.toBe("none");
  expect(Number.parseFloat(focused.outlineWidth), `outline width of ${focused.tag} "${focused.name}"`).toBeGreaterThanOrEqual(2);
  expect(focused.inViewport, `${focused.tag} "${focused.name}" is on screen`).toBe(true);
}

describe.skipIf(!hasBrowser())("keyboard use, console errors and CSP (browser)", () => {
  let server: RunningServer;
  let browser: Browser;
  useDemoConsole((demo) => ({ server, browser } = demo));

  it("signs in with the keyboard alone: Tab between the fields, Enter to send", async () => {
    const page = await newConsolePage(browser);
    await page.goto(`${server.baseUrl}/login`);
    await expectAccessible(page);
    await tabTo(page, "Email");
    expectVisibleFocus(await focusedElement(page));
    await page.keyboard.type("helpdesk@hkex.demo");
    await page.keyboard.press("Tab");
    expect((await focusedElement(page)).name).toBe("Password");
    expectVisibleFocus(await focusedElement(page));
    await page.keyboard.type(DEMO_PASSWORD);
    await page.keyboard.press("Enter");
    // The second factor: the code field has focus already; type the code, Enter.
    await page.getByRole("heading", { level: 1, name: "Two-factor authentication" }).waitFor();
    await expectAccessible(page);
    expect((await focusedElement(page)).name).toBe("Authentication code");
    expectVisibleFocus(await focusedElement(page));
    await page.keyboard.type(await nextCode(server.baseUrl, "helpdesk@hkex.demo"));
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { level: 1, name: "Welcome, Henry Helpdesk." }).waitFor();
    await expectAccessible(page);
    expectNoConsoleErrors(page);
    await page.context().close();
  });

  it("the first Tab reaches a visible skip link that takes focus to the main content", async () => {
    const page = await newConsolePage(browser);
    await startSignedIn(page, server.baseUrl, "compliance@hkex.demo");
    for (const path of ["/", "/participants"]) {
      await page.goto(server.baseUrl + path);
      await page.getByRole("main").waitFor();
      await page.keyboard.press("Tab");
      const skip = await focusedElement(page);
      expect(skip.tag).toBe("a");
      expect(skip.name).toBe("Skip to main content");
      expectVisibleFocus(skip);
      expect(await page.getByRole("link", { name: "Skip to main content" }).getAttribute("href")).toBe("#main");

      await page.keyboard.press("Enter");
      expect((await focusedElement(page)).id).toBe("main");
      // The next Tab continues inside the main content, past the header and the navigation.
      await page.keyboard.press("Tab");
      expect(await page.evaluate(() => Boolean(document.activeElement?.closest("main")))).toBe(true);
      await expectAccessible(page);
    }
    expectNoConsoleErrors(page);
    await page.context().close();
  });

  it("every control in the header and navigation shows where the focus is", async () => {
    const page = await newConsolePage(browser);
    await startSignedIn(page, server.baseUrl, "maker@b01234.demo");
    await page.goto(`${server.baseUrl}/`);
    await page.getByRole("main").waitFor();
    const navLinks = await page.getByRole("navigation", { name: "Main navigation" }).getByRole("link").allInnerTexts();
    expect(navLinks).toContain("Recent activity");
    const expected = ["Skip to main content", "Language", "Switch", "Search the console", "Search", "Sign out", ...navLinks];
    const reached: string[] = [];
    // The header's controls, the navigation, then the first control of the page itself.
    for (let i = 0; i <= expected.length; i++) {
      await page.keyboard.press("Tab");
      const focused = await focusedElement(page);
      expect(focused.tag, `Tab stop ${i + 1}`).not.toBe("body");
      expectVisibleFocus(focused);
      reached.push(focused.name);
    }
    expect(reached.slice(0, expected.length)).toEqual(expected);
    expect(await page.evaluate(() => Boolean(document.activeElement?.closest("main")))).toBe(true);
    await expectAccessible(page);
    expectNoConsoleErrors(page);
    await page.context().close();
  });

  it("pages load with no console errors and no CSP violations, under the real CSP", async () => {
    const page = await newConsolePage(browser);
    const first = await page.goto(`${server.baseUrl}/login`);
    const csp = first?.headers()["content-security-policy"] ?? "";
    expect(csp).toMatch(/script-src 'self' 'nonce-[A-Za-z0-9+/=]+'/);
    await expectAccessible(page);
    await signIn(page, server.baseUrl, "officer@hkex.demo", DEMO_PASSWORD);
    await page.getByRole("heading", { level: 1, name: "Welcome, Olivia Officer." }).waitFor();
    for (const path of ["/participants", "/participants/B01234"]) {
      await page.goto(server.baseUrl + path);
      await page.getByRole("main").getByRole("heading", { level: 1 }).waitFor();
      await expectAccessible(page);
    }
    // Client-side navigation and a form post, after hydration.
    await page.getByRole("link", { name: "Back to participants" }).click();
    await page.getByRole("heading", { level: 1, name: "Participants" }).waitFor();
    await page.getByLabel("Language").selectOption({ label: "繁體中文" });
    await page.getByRole("button", { name: "Switch" }).click();
    await page.getByRole("heading", { level: 1, name: "參與者" }).waitFor();
    await expectAccessible(page);
    await page.getByRole("button", { name: "登出" }).click();
    await page.waitForURL((url) => url.pathname === "/login");
    await page.getByRole("heading", { level: 1, name: "登入" }).waitFor();
    expectNoConsoleErrors(page);

    // The check itself works: the CSP is enforced here, and a refused inline script is caught as a console error.
    const ran = await page.evaluate(() => {
      const script = document.createElement("script");
      script.textContent = "window.__injected = true;";
      document.head.appendChild(script);
      return (window as unknown as { __injected?: boolean }).__injected === true;
    });
    expect(ran).toBe(false);
    await expect.poll(() => consoleErrorsOf(page).some((e) => e.includes("Content Security Policy"))).toBe(true);
    await page.context().close();
  });
});
