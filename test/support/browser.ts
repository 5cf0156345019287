import { createRequire } from "node:module";
import { chromium, type Browser, type Page } from "playwright-core";
import { expect } from "vitest";
import { chromiumPath } from "./browser-path";
import { learnKey, nextCode } from "./totp";

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

export interface ConsolePageOptions {
  /** The browser's language (sent as Accept-Language). */
  locale?: string;
  /** The browser's own time zone; the console must show Hong Kong time whatever it is. */
  timezoneId?: string;
  /** Let scripts the page's CSP would refuse run anyway; off by default, so every page is tested under its CSP. */
  bypassCSP?: boolean;
}

const consoleErrors = new WeakMap<Page, string[]>();

/**
 * A page in a fresh browser context (no cookies) for the console. The page's console errors, uncaught exceptions
 * and CSP violations (which Chromium reports as console errors) are kept for `expectNoConsoleErrors`. axe-core is
 * injected through the DevTools protocol, which the page's CSP does not govern, so the CSP stays on.
 */
export async function newConsolePage(browser: Browser, options: string | ConsolePageOptions = {}): Promise<Page> {
  const { locale = "en-GB", timezoneId, bypassCSP = false } = typeof options === "string" ? { locale: options } : options;
  const context = await browser.newContext({ bypassCSP, locale, ...(timezoneId ? { timezoneId } : {}) });
  const page = await context.newPage();
  const errors: string[] = [];
  consoleErrors.set(page, errors);
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  page.on("pageerror", (error) => {
    errors.push(`uncaught: ${error.stack ?? error.message} [on ${page.url()}]`);
  });
  return page;
}

/** The console errors the page has logged so far (network failures, script errors, CSP violations). */
export function consoleErrorsOf(page: Page): string[] {
  return [...(consoleErrors.get(page) ?? [])];
}

/**
 * Fails on any console error, except the browser's own notes of HTTP statuses the test expects (a 401 for a
 * wrong password, the 404 of another participant's page): `allowStatuses: [404]`.
 */
export function expectNoConsoleErrors(page: Page, { allowStatuses = [] }: { allowStatuses?: number[] } = {}): void {
  const unexpected = consoleErrorsOf(page).filter((text) => {
    const status = /^Failed to load resource: the server responded with a status of (\d{3})/.exec(text)?.[1];
    return !(status && allowStatuses.includes(Number(status)));
  });
  expect(unexpected, `console errors on ${page.url()}`).toEqual([]);
}

/** Signs in through the form as a person would, and waits for the page it leads to. */
export async function signIn(page: Page, baseUrl: string, email: string, password: string): Promise<void> {
  if (!page.url().startsWith(`${baseUrl}/login`)) await page.goto(`${baseUrl}/login`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await completeSecondFactor(page, baseUrl, email);
}

/**
 * The second step of signing in, in the browser: on the enrolment page, reads the key as a person would copy it;
 * then types a fresh code from the tests' authenticator and waits for the page it leads to.
 */
export async function completeSecondFactor(page: Page, baseUrl: string, email: string): Promise<void> {
  await page.waitForURL((url) => !url.pathname.startsWith("/login"));
  const at = new URL(page.url()).pathname;
  if (!at.startsWith("/mfa/")) return;
  if (at === "/mfa/enrol") learnKey(baseUrl, email, await page.locator("#totp-key").innerText());
  // By the field's name, not its label: the page may be in either language.
  const form = page.locator("form", { has: page.locator('input[name="code"]') });
  await form.locator('input[name="code"]').fill(await nextCode(baseUrl, email));
  await form.locator('button[type="submit"]').click();
  await page.waitForURL((url) => !url.pathname.startsWith("/mfa/"));
}

/** What a keyboard user has reached: the focused element's role-ish tag, accessible-ish name and outline. */
export async function focusedElement(page: Page): Promise<{
  tag: string;
  name: string;
  id: string;
  outlineStyle: string;
  outlineWidth: string;
  inViewport: boolean;
}> {
  return page.evaluate(() => {
    const el = document.activeElement as HTMLElement | null;
    if (!el || el === document.body) {
      return { tag: "body", name: "", id: "", outlineStyle: "none", outlineWidth: "0px", inViewport: false };
    }
    const labelled = (el as HTMLInputElement).labels?.[0]?.textContent;
    const style = getComputedStyle(el);
    const box = el.getBoundingClientRect();
    return {
      tag: el.tagName.toLowerCase(),
      name: (el.getAttribute("aria-label") ?? labelled ?? el.textContent ?? "").trim(),
      id: el.id,
      outlineStyle: style.outlineStyle,
      outlineWidth: style.outlineWidth,
      inViewport: box.width > 0 && box.height > 0 && box.right > 0 && box.bottom > 0 && box.left < window.innerWidth,
    };
  });
}

/**
 * Runs axe-core on the page and fails on any serious or critical violation, naming each. It also fails if a script
 * of the page has thrown so far: every page a test visits is checked here.
 */
export async function expectAccessible(page: Page): Promise<void> {
  const thrown = consoleErrorsOf(page).filter((e) => e.startsWith("uncaught: "));
  expect(thrown, `uncaught errors in ${page.url()}`).toEqual([]);
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
