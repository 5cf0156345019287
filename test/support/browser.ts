import { createRequire } from "node:module";
import { chromium, type Browser, type Page } from "playwright-core";
import { expect } from "vitest";
import { chromiumPath } from "./browser-path";

const require = createRequire(import.meta.url);
const axeSource: string = (require("axe-core") as { source: string }).source;

/** Whether this run has a browser; browser suites use `describe.skipIf(!hasBrowser())`. */
export function hasBrowser(): boolean {
  return chromiumPath() !== null;
}

/** Debian's Chromium, headless, with no network of its own (this machine's network is closed). */
export async function launchBrowser(): Promise<Browser> {
  const executablePath = chromiumPath();
  if (!executablePath) throw new Error("Chromium not found");
  return chromium.launch({
    executablePath,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-dev-shm-usage",
    ],
  });
}

/**
 * A browser context for the console. bypassCSP lets axe-core be injected into pages whose strict CSP (rightly)
 * refuses inline scripts; the console's own scripts run under the CSP's nonce as usual.
 */
export async function newConsolePage(browser: Browser, locale = "en-GB"): Promise<Page> {
  const context = await browser.newContext({ bypassCSP: true, locale });
  const page = await context.newPage();
  page.on("pageerror", (error) => {
    throw error;
  });
  return page;
}

/** Runs axe-core on the page and fails on any serious or critical violation, naming each. */
export async function expectAccessible(page: Page): Promise<void> {
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (ctx: Document, opts: object) => Promise<{ violations: { id: string; impact: string | null; help: string; nodes: { target: unknown }[] }[] }> } }).axe;
    const result = await axe.run(document, { resultTypes: ["violations"] });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      targets: v.nodes.map((n) => JSON.stringify(n.target)).slice(0, 3),
    }));
  });
  const bad = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(bad, `axe violations on ${page.url()}:\n${JSON.stringify(bad, null, 2)}`).toEqual([]);
}
