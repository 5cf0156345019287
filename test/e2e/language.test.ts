import { describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { DEMO_PASSWORD } from "../../app/modules/demo";
import { completeSecondFactor, expectAccessible, expectNoConsoleErrors, hasBrowser, newConsolePage, signIn } from "../support/browser";
import { type RunningServer } from "../support/server";
import { useDemoConsole } from "../support/demo-console";

const htmlLang = (page: Page) => page.locator("html").getAttribute("lang");

/** Picks a language with the switch in the page header, as a person would. */
async function switchLanguage(page: Page, { label, switchButton }: { label: string; switchButton: string }, to: string) {
  await page.getByLabel(label, { exact: true }).selectOption({ label: to });
  await page.getByRole("button", { name: switchButton }).click();
}

async function signInInChinese(page: Page, email: string) {
  await page.getByLabel("電郵地址").fill(email);
  await page.getByLabel("密碼").fill(DEMO_PASSWORD);
  await page.getByRole("button", { name: "登入" }).click();
  await page.waitForURL((url) => url.pathname === "/mfa/verify");
  await page.getByRole("heading", { level: 1, name: "雙重認證" }).waitFor();
  await page.getByLabel("驗證碼").waitFor();
  await completeSecondFactor(page, baseUrlOf(page), email);
}

const baseUrlOf = (page: Page) => new URL(page.url()).origin;

/** "22/11/2026, 07:37:35" (en-GB) or "22/11/2026 07:37:35" (zh-HK), read as Hong Kong time (UTC+8, no DST). */
function parseHongKongTime(text: string): number {
  const m = /(\d{2})\/(\d{2})\/(\d{4}),? (\d{2}):(\d{2}):(\d{2})/.exec(text);
  if (!m) throw new Error(`not a console time: ${text}`);
  const [, dd, mm, yyyy, hh, mi, ss] = m.map(Number) as number[];
  return Date.UTC(yyyy!, mm! - 1, dd!, hh! - 8, mi!, ss!);
}

describe.skipIf(!hasBrowser())("language and Hong Kong time (browser)", () => {
  let server: RunningServer;
  let browser: Browser;
  useDemoConsole((demo) => ({ server, browser } = demo));

  it("switches to Traditional Chinese, keeps it across reloads and sign-out, and switches back", async () => {
    const page = await newConsolePage(browser);
    await page.goto(`${server.baseUrl}/login`);
    await page.getByRole("heading", { level: 1, name: "Sign in" }).waitFor();
    expect(await htmlLang(page)).toBe("en");

    await switchLanguage(page, { label: "Language", switchButton: "Switch" }, "繁體中文");
    await page.getByRole("heading", { level: 1, name: "登入" }).waitFor();
    expect(await htmlLang(page)).toBe("zh-HK");
    expect(await page.getByLabel("電郵地址").count()).toBe(1);
    expect(await page.getByLabel("密碼").count()).toBe(1);
    expect(await page.getByRole("heading", { name: "示範帳戶" }).count()).toBe(1);
    await expectAccessible(page);

    await page.reload();
    await page.getByRole("heading", { level: 1, name: "登入" }).waitFor();
    expect(await htmlLang(page)).toBe("zh-HK");

    await signInInChinese(page, "compliance@hkex.demo");
    await page.getByRole("heading", { level: 1, name: "歡迎，Connie Compliance。" }).waitFor();
    expect(await htmlLang(page)).toBe("zh-HK");
    const nav = page.getByRole("navigation", { name: "主選單" });
    const chineseNav = await nav.getByRole("link").allInnerTexts();
    expect(chineseNav[0]).toBe("主頁");
    expect(chineseNav).toEqual(expect.arrayContaining(["參與者", "最近活動"]));
    // Acronyms (API, OCP, JWT) are written the same in both languages; anything else in Latin letters is untranslated.
    for (const label of chineseNav) {
      expect(label.replace(/\b(API|OCP|JWT|JWKS|CSV)\b/g, ""), "a navigation label left in English").not.toMatch(/[A-Za-z]/);
    }
    expect(await page.getByRole("main").innerText()).toContain("你的身份：合規審查員。");
    await expectAccessible(page);

    await nav.getByRole("link", { name: "參與者" }).click();
    await page.getByRole("heading", { level: 1, name: "參與者" }).waitFor();
    // A sorted column shows its direction as an arrow (aria-sort says it to a screen reader).
    expect((await page.getByRole("columnheader").allInnerTexts()).map((h) => h.replace(/\s*[▲▼]$/, ""))).toContain("參與者編號");
    await expectAccessible(page);

    // The choice outlives the session: sign out, and sign in again.
    await page.getByRole("button", { name: "登出" }).click();
    await page.waitForURL((url) => url.pathname === "/login");
    expect((await page.getByRole("status").innerText()).trim()).toBe("你已登出。");
    expect(await htmlLang(page)).toBe("zh-HK");
    await expectAccessible(page);
    await signInInChinese(page, "compliance@hkex.demo");
    await page.getByRole("heading", { level: 1, name: "歡迎，Connie Compliance。" }).waitFor();

    await switchLanguage(page, { label: "語言", switchButton: "切換" }, "English");
    await page.getByRole("heading", { level: 1, name: "Welcome, Connie Compliance." }).waitFor();
    expect(await htmlLang(page)).toBe("en");
    const englishNav = await page.getByRole("navigation", { name: "Main navigation" }).getByRole("link").allInnerTexts();
    expect(englishNav).toHaveLength(chineseNav.length);
    expect(englishNav[0]).toBe("Home");
    expect(englishNav).toEqual(expect.arrayContaining(["Participants", "Recent activity"]));
    await page.reload();
    await page.getByRole("heading", { level: 1, name: "Welcome, Connie Compliance." }).waitFor();
    expect(await htmlLang(page)).toBe("en");
    await expectAccessible(page);
    expectNoConsoleErrors(page);
    await page.context().close();
  });

  it("a browser that prefers Chinese gets Chinese on its first visit", async () => {
    const page = await newConsolePage(browser, { locale: "zh-HK" });
    await page.goto(`${server.baseUrl}/login`);
    await page.getByRole("heading", { level: 1, name: "登入" }).waitFor();
    expect(await htmlLang(page)).toBe("zh-HK");
    await expectAccessible(page);
    expectNoConsoleErrors(page);
    await page.context().close();
  });

  it("shows activity times in Hong Kong time, whatever the browser's own time zone", async () => {
    // New York is 12 or 13 hours behind Hong Kong: a time shown in the browser's zone could not pass.
    const page = await newConsolePage(browser, { timezoneId: "America/New_York" });
    const before = Date.now();
    await signIn(page, server.baseUrl, "checker@b01234.demo", DEMO_PASSWORD);
    const after = Date.now();
    await page.getByRole("navigation", { name: "Main navigation" }).getByRole("link", { name: "Recent activity" }).click();
    await page.getByRole("heading", { level: 1, name: "Recent activity" }).waitFor();
    expect(await page.getByRole("main").innerText()).toContain("Times are Hong Kong time.");
    expect((await page.getByRole("columnheader").allInnerTexts())[0]).toBe("Time (HKT)");

    const signInRow = page.getByRole("row").filter({ hasText: "Chris Checker (B01234)" }).filter({ hasText: "Signed in" });
    const shown = await signInRow.first().getByRole("cell").first().innerText();
    const instant = parseHongKongTime(shown);
    expect(instant).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 - 1000);
    expect(instant).toBeLessThanOrEqual(after + 1000);
    await expectAccessible(page);

    // The same instant in Chinese.
    await switchLanguage(page, { label: "Language", switchButton: "Switch" }, "繁體中文");
    await page.getByRole("heading", { level: 1, name: "最近活動" }).waitFor();
    expect((await page.getByRole("columnheader").allInnerTexts())[0]).toBe("時間（香港）");
    const shownZh = await page.getByRole("row").filter({ hasText: "Chris Checker (B01234)" }).filter({ hasText: "登入成功" })
      .first().getByRole("cell").first().innerText();
    expect(parseHongKongTime(shownZh)).toBe(instant);
    await expectAccessible(page);
    expectNoConsoleErrors(page);
    await page.context().close();
  });
});
