import { chromium } from "playwright-core";
import * as OTPAuth from "otpauth";
const base = "http://localhost:3999";
const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32("JBSWY3DPEHPK3PXP"), digits: 6, period: 30 });
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"] });
async function signIn(email, locale) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  await page.goto(base + "/login");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("demo-password-2026");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/mfa/);
  await page.locator("input[name=code]").fill(totp.generate());
  await page.locator("form:has(input[name=code]) button[type=submit]").click();
  await page.waitForURL((u) => !u.pathname.startsWith("/mfa"));
  console.log("after mfa", page.url());
  if (locale === "zh-HK") { await page.locator("#language-select").selectOption("zh-HK"); await page.getByRole("button", { name: "Switch" }).click(); await page.waitForLoadState("networkidle"); }
  return page;
}
const [,, email, path, out, locale = "en"] = process.argv;
const page = await signIn(email, locale);
await page.goto(base + path); console.log("at", page.url());
await page.screenshot({ path: out, fullPage: false });
await browser.close();
