import { createHash } from "node:crypto";
import { mkdirSync, openSync, closeSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { expect, inject } from "vitest";
import { SESSION_COOKIE_NAME } from "../../app/auth/lucia.server";
import { CHROMIUM_ARGS, chromiumPath } from "./browser-path";
import { databaseOf } from "./server";
import { createVerifiedSession } from "./sessions";
import { learnKey, nextCode } from "./totp";

const require = createRequire(import.meta.url);
const axeSource: string = (require("axe-core") as { source: string }).source;

/** Whether this run has a browser; browser suites use `describe.skipIf(!hasBrowser())`. */
export function hasBrowser(): boolean {
  return chromiumPath() !== null;
}

let workerBrowser: Promise<Browser> | null = null;

/**
 * This worker's Chromium, launched by the first browser test file the worker runs and kept for the next ones (the
 * e2e project keeps its workers from file to file); Playwright closes it when the worker exits. Callers close the
 * contexts they open, not the browser.
 */
export async function launchBrowser(): Promise<Browser> {
  const running = workerBrowser && (await workerBrowser.catch(() => null));
  if (running?.isConnected()) return running;
  const executablePath = chromiumPath();
  if (!executablePath) throw new Error("Chromium not found");
  workerBrowser = chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS });
  return workerBrowser;
}

export interface ConsolePageOptions {
  /** The browser's language (sent as Accept-Language). */
  locale?: string;
  /** The browser's own time zone; the console must show Hong Kong time whatever it is. */
  timezoneId?: string;
  /** Let scripts the page's CSP would refuse run anyway; off by default, so every page is tested under its CSP. */
  bypassCSP?: boolean;
  /** Run with JavaScript off: every form must still work as plain HTML. */
  javaScriptEnabled?: boolean;
}

const consoleErrors = new WeakMap<Page, string[]>();

/**
 * A page in a fresh browser context (no cookies) for the console. The page's console errors, uncaught exceptions
 * and CSP violations (which Chromium reports as console errors) are kept for `expectNoConsoleErrors`. axe-core is
 * injected through the DevTools protocol, which the page's CSP does not govern, so the CSP stays on.
 */
export async function newConsolePage(browser: Browser, options: string | ConsolePageOptions = {}): Promise<Page> {
  const { locale = "en-GB", timezoneId, bypassCSP = false, javaScriptEnabled = true } = typeof options === "string" ? { locale: options } : options;
  const context = await browser.newContext({ bypassCSP, locale, javaScriptEnabled, ...(timezoneId ? { timezoneId } : {}) });
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

/**
 * Starts the page signed in, without the form: a session made in the server's database as a completed sign-in makes
 * it (second factor verified), its cookie set in the page's browser context, and the page opened at `pathname`. For
 * browser tests that are not about signing in; those sign in through the form with signIn.
 */
export async function startSignedIn(page: Page, baseUrl: string, email: string, pathname = "/"): Promise<void> {
  const sessionId = await createVerifiedSession(databaseOf(baseUrl), email);
  await page.context().addCookies([{ name: SESSION_COOKIE_NAME, value: sessionId, url: baseUrl, httpOnly: true, sameSite: "Lax" }]);
  await page.goto(baseUrl + pathname);
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

/**
 * Waits until the console has finished what it was loading: no navigation, revalidation or fetcher in flight in
 * Remix's router. What the page shows then is what the server answered (it replaces a wait for half a second of network
 * silence).
 */
export async function appSettled(page: Page): Promise<void> {
  await page.waitForFunction(() => {
    type State = { navigation: { state: string }; revalidation: string; fetchers: Map<string, { state: string }> };
    const router = (window as unknown as { __remixRouter?: { state: State } }).__remixRouter;
    if (!router) return document.readyState === "complete";
    const { navigation, revalidation, fetchers } = router.state;
    return navigation.state === "idle" && revalidation === "idle" && [...fetchers.values()].every((f) => f.state === "idle");
  });
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
 * Which page a page is, for axe: the Remix route it renders (or its error boundary), in its language. The same page
 * with other data is the same markup, so axe checks each once per run.
 */
async function pageKind(page: Page): Promise<string> {
  return page.evaluate(() => {
    const router = (window as unknown as { __remixRouter?: { state: { matches: { route: { id: string } }[]; errors: unknown } } }).__remixRouter;
    const route = router?.state.matches.at(-1)?.route.id ?? `path ${location.pathname}`;
    return `${route} | ${document.documentElement.lang} | ${router?.state.errors ? "error boundary" : "page"}`;
  });
}

const checkedHere = new Set<string>();

/** Whether axe has still to check this kind of page in this run: the first to ask claims it (across workers too). */
function firstVisitOf(kind: string): boolean {
  if (checkedHere.has(kind)) return false;
  checkedHere.add(kind);
  const runDir = inject("runDir");
  if (!runDir) return true;
  const folder = path.join(runDir, "axe-checked");
  mkdirSync(folder, { recursive: true });
  try {
    closeSync(openSync(path.join(folder, createHash("sha256").update(kind).digest("hex")), "wx"));
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  }
}

/**
 * Fails if a script of the page has thrown so far (every visit), and runs axe-core on the page the first time this
 * kind of page (route and language, see pageKind) is seen in the run, failing on any serious or critical violation.
 */
export async function expectAccessible(page: Page): Promise<void> {
  const thrown = consoleErrorsOf(page).filter((e) => e.startsWith("uncaught: "));
  expect(thrown, `uncaught errors in ${page.url()}`).toEqual([]);
  if (!firstVisitOf(await pageKind(page))) return;
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
