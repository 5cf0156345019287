import { eq, sql } from "drizzle-orm";
import { roles } from "../../db/schema";
import { afterAll, beforeAll, expect, it } from "vitest";
import { rowsOf } from "../../db/client.server";
import { checkImport } from "../../app/modules/users/import.server";
import { contextFor, createConsoleUser } from "../factories";
import { findCodeLikeTokens, readPage, type Finding } from "../support/crawl";
import { describeEachDatabase } from "../support/databases";
import { HttpClient, startServer, type RunningServer } from "../support/server";
import { createVerifiedSession } from "../support/sessions";

/**
 * Issue 14's crawl: every persona signs in, follows every link the console offers it (breadth first, same origin,
 * GET only, bounded), in English and in Traditional Chinese, and no page shows a code where words belong — no
 * snake_case or dotted identifier (a role code, an action code, an i18n key), no camelCase field name, no raw UUID
 * outside an identifier's `<code>`, no ISO timestamp, no "undefined"/"null"/"NaN"/"[object Object]", no unfilled
 * "{placeholder}"; and on Chinese pages no English word but names people typed, acronyms and ids (the short,
 * justified lists in test/support/crawl.ts).
 */

const TESTER = "tina.tester@harbourview.example";
const PERSONAS = [
  "officer@hkex.demo",
  "compliance@hkex.demo",
  "helpdesk@hkex.demo",
  "platform@hkex.demo",
  "maker@b01234.demo",
  "checker@b01234.demo",
  TESTER,
];
/** Pages per persona; enough for every page kind the navigation and the pages link to. */
const MAX_PAGES = 60;
/**
 * Visits of one page kind: its path with ids made generic, and of its query the names and the values that choose a
 * view (`report=sod`, `status=pending`); dates, ids, cursors and search text make no new kind, so a list's pages and
 * filters by value are one kind, and each report is its own.
 */
const PER_KIND = 1;

/** Not pages: downloads, signing out, machine answers, and the demo mailbox (outgoing mail has its own language work). */
function skipped(pathname: string): boolean {
  return /\/export$|\.csv$/.test(pathname) || /^\/(logout|language|healthz|readyz|jwks|simulator|mailbox|build|styles)(\/|$)/.test(pathname);
}

/** A list's sorting and paging: the same page in another order. */
const PAGING = new Set(["sort", "dir", "page", "size", "before", "cursor"]);

function kindOf(url: URL): string {
  const path = url.pathname
    .split("/")
    .map((part) => (/\d/.test(part) ? ":id" : part))
    .join("/");
  const query = [...url.searchParams]
    .filter(([name]) => !PAGING.has(name))
    .map(([name, value]) => (/^[a-z_]{1,20}$/.test(value) ? `${name}=${value}` : name))
    .sort()
    .join("&");
  return query ? `${path}?${query}` : path;
}

describeEachDatabase("every page as every persona, in both languages (issue 14 crawl)", { demo: true }, (use) => {
  let server: RunningServer;
  beforeAll(async () => {
    const { db } = use();
    await createConsoleUser(db, { email: TESTER, displayName: "Tina Tester (B01234)", participantId: "B01234", roleCodes: ["certification_tester"] });
    server = await startServer(db);
  });
  afterAll(() => server?.close());

  /** What people typed, as the database holds it now (a test below adds an import). */
  async function typedNames(): Promise<{ en: string[]; "zh-HK": string[] }> {
    // Names, comments, reasons, evidence, imported files and the emails in them, the certification catalogue's steps
    // and expected results (written by HKEX in one language, quoting the API's own error codes). A participant's
    // English name is not among the Chinese page's names: a Chinese reader sees its Chinese name.
    const typed = rowsOf<{ text: string | null }>(
      await use().db.execute(sql`
        select display_name as text from users union select email from users
        union select name_zh from participants union select suspension_reason from participants
        union select name from participant_contacts union select title from participant_contacts union select email from participant_contacts
        union select name from api_clients union select revoke_reason from api_clients union select revoke_reason from api_keys
        union select name from review_campaigns union select comment from review_items
        union select revoke_reason from role_grants union select reason from sod_waivers union select decision_comment from sod_waivers
        union select decision_comment from grant_requests union select sod_justification from grant_requests
        union select name from rollouts union select reason from rollout_fallback_decisions
        union select evidence from rollout_results union select reason from rollout_results
        union select program_name from certification_runs union select vendor from certification_runs
        union select declaration from certification_runs union select return_reason from certification_runs
        union select evidence from certification_results union select jwt_check from certification_results
        union select return_reason from onboarding_steps union select body from onboarding_step_entries
        union select reference from onboarding_step_entries union select author_name from onboarding_step_entries
        union select reason from audit_events union select actor_name from audit_events
        union select steps from certification_cases union select expected_result from certification_cases
        union select file_name from import_runs union select line->>'email' from import_runs, jsonb_array_elements(report) as line
        union select steps from certification_run_cases union select expected_result from certification_run_cases`),
    )
      .map((r) => r.text)
      .filter((t): t is string => Boolean(t));
    const english = rowsOf<{ text: string }>(await use().db.execute(sql`select name_en as text from participants`)).map((r) => r.text);
    return { en: [...typed, ...english], "zh-HK": typed };
  }

  async function crawl(email: string): Promise<{ visited: string[]; findings: (Finding & { page: string; locale: string })[] }> {
    const client = new HttpClient(server.baseUrl).useSession(await createVerifiedSession(use().db, email));
    const queue = ["/"];
    const seen = new Set(queue);
    const kinds = new Map<string, number>();
    const visited: string[] = [];
    const findings: (Finding & { page: string; locale: string })[] = [];
    const names = await typedNames();
    while (queue.length > 0 && visited.length < MAX_PAGES) {
      const path = queue.shift()!;
      for (const locale of ["en", "zh-HK"] as const) {
        const res = await client.get(path, { "Accept-Language": locale });
        if (res.status >= 300 && res.status < 400) break;
        const type = res.headers.get("content-type") ?? "";
        if (!type.startsWith("text/html")) break;
        expect(res.status, `${email} ${path} ${locale}`).toBeLessThan(500);
        const page = readPage(await res.text());
        for (const f of findCodeLikeTokens(page, locale, names[locale])) findings.push({ ...f, page: path, locale });
        if (locale === "zh-HK") continue;
        visited.push(path);
        for (const href of page.links) {
          const url = new URL(href, server.baseUrl + path);
          if (url.origin !== server.baseUrl || skipped(url.pathname)) continue;
          const next = url.pathname + url.search;
          const kind = kindOf(url);
          if (seen.has(next) || (kinds.get(kind) ?? 0) >= PER_KIND) continue;
          seen.add(next);
          kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
          queue.push(next);
        }
      }
    }
    return { visited, findings };
  }

  it("words a bulk import's problems plainly, with roles by name and no rule id, in both languages", async () => {
    const { db } = use();
    const maker = await contextFor(db, "maker@b01234.demo");
    const file = ["email,display_name,roles,valid_from,valid_to,justification", "both.roles@harbourview.example,Both Roles,si_maker;si_checker,,,", "bad-email,Bad Email,trade_info_viewer,,,"].join("\n");
    const run = await checkImport(maker, { participantId: "B01234", fileName: "staff.csv", text: file });
    const client = new HttpClient(server.baseUrl).useSession(await createVerifiedSession(db, "maker@b01234.demo"));
    const role = async (code: string) => (await db.select().from(roles).where(eq(roles.code, code)))[0]!;
    const [siMaker, siChecker] = [await role("si_maker"), await role("si_checker")];
    const expected = {
      en: [`Refused by separation of duties: one person may not hold both ${siMaker.nameEn} and ${siChecker.nameEn}.`, "Not an email address."],
      "zh-HK": [`職責分離規則不容許同一人同時持有「${siMaker.nameZh}」及「${siChecker.nameZh}」。`, "不是有效的電郵地址。"],
    };
    for (const locale of ["en", "zh-HK"] as const) {
      const page = readPage(await (await client.get(`/imports/${run.id}`, { "Accept-Language": locale })).text());
      const text = page.segments.map((s) => s.text).join("").replace(/\s+/g, " ");
      for (const message of expected[locale]) expect(text).toContain(message);
      expect(findCodeLikeTokens(page, locale, (await typedNames())[locale]).map((f) => f.token)).toEqual([]);
    }
  });

  it.each(PERSONAS)("%s sees words, not codes, on every page it reaches", async (email) => {
    const { visited, findings } = await crawl(email);
    // The crawl reached the persona's pages, not just its home.
    expect(visited.length, visited.join("\n")).toBeGreaterThan(5);
    const report = findings.map((f) => `${f.locale} ${f.page}: ${f.rule} "${f.token}" in "${f.context}"`);
    expect([...new Set(report)]).toEqual([]);
  }, 60_000);
});
