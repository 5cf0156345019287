import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { grantRequests, roleGrants, users } from "../../db/schema";
import { expectAccessible, expectNoConsoleErrors, hasBrowser, newConsolePage, startSignedIn } from "../support/browser";
import { type RunningServer } from "../support/server";
import { useDemoConsole, type DemoConsole } from "../support/demo-console";

const MAKER = "Mandy Maker (B01234)";
const CHECKER = "Chris Checker (B01234)";
const COMMENT = "Access form AF-2026-114 signed by the head of operations.";

const mainNavigation = (page: Page) => page.getByRole("navigation", { name: "Main navigation" });

describe.skipIf(!hasBrowser())("a maker requests a role; a checker approves it in another browser (browser)", () => {
  let database: DemoConsole["database"];
  let server: RunningServer;
  let browser: Browser;
  useDemoConsole((demo) => ({ database, server, browser } = demo));

  it("goes from the maker's request on the user page to the checker's approval, and the user's access shows both", async () => {
    // The maker of B01234, in one browser context.
    const maker = await newConsolePage(browser);
    await maker.goto(`${server.baseUrl}/login`);
    await expectAccessible(maker);
    await startSignedIn(maker, server.baseUrl, "maker@b01234.demo");
    await mainNavigation(maker).getByRole("link", { name: "Users" }).click();
    await maker.getByRole("heading", { level: 1, name: "Users" }).waitFor();
    await expectAccessible(maker);
    await maker.getByRole("link", { name: "Sam Lau" }).click();
    await maker.getByRole("heading", { level: 1, name: /Sam Lau/ }).waitFor();
    await expectAccessible(maker);

    const access = maker.getByRole("region", { name: "Effective access" });
    await expect(access.getByRole("row", { name: /Reference data viewer/ }).count()).resolves.toBe(0);
    await maker.getByLabel("Role", { exact: true }).selectOption({ label: "Reference data viewer" });
    await maker.getByRole("button", { name: "Send to a checker" }).click();
    const pendingPanel = maker.getByRole("region", { name: "Pending requests" });
    await pendingPanel.getByRole("listitem").filter({ hasText: "Reference data viewer" }).waitFor();
    await expect(pendingPanel.getByRole("listitem").filter({ hasText: "Reference data viewer" }).textContent()).resolves.toContain(MAKER);
    // The maker cannot decide: no approve button for them, and a withdraw button for their own request.
    await expect(pendingPanel.getByRole("button", { name: "Approve" }).count()).resolves.toBe(0);
    await expect(pendingPanel.getByRole("button", { name: "Withdraw" }).count()).resolves.toBeGreaterThan(0);
    await expectAccessible(maker);

    // The checker of B01234, in a second browser context.
    const checker = await newConsolePage(browser);
    await checker.goto(`${server.baseUrl}/login`);
    await startSignedIn(checker, server.baseUrl, "checker@b01234.demo");
    await mainNavigation(checker).getByRole("link", { name: "Approvals" }).click();
    await checker.getByRole("heading", { level: 1, name: "Approvals" }).waitFor();
    await expectAccessible(checker);
    const awaiting = checker.getByRole("region", { name: "Awaiting your decision" });
    // The queue is a table with the role's name, who asked and a box to tick; the decision is given below it.
    const item = awaiting.getByRole("row").filter({ hasText: "Reference data viewer" }).filter({ has: checker.getByRole("link", { name: "Sam Lau" }) });
    await item.waitFor();
    await expect(item.textContent()).resolves.toContain(MAKER);
    await item.getByRole("checkbox").check();
    await awaiting.getByLabel("Comment").fill(COMMENT);
    await awaiting.getByRole("button", { name: "Approve" }).click();
    await awaiting.getByRole("status").filter({ hasText: "1 approved." }).waitFor();
    await item.waitFor({ state: "detached" });
    await expectAccessible(checker);

    // The checker opens the user: the role is held, with who asked and who approved.
    await mainNavigation(checker).getByRole("link", { name: "Users" }).click();
    await checker.getByRole("heading", { level: 1, name: "Users" }).waitFor();
    await expectAccessible(checker);
    await checker.getByRole("link", { name: "Sam Lau" }).click();
    await checker.getByRole("heading", { level: 1, name: /Sam Lau/ }).waitFor();
    const row = checker.getByRole("region", { name: "Effective access" }).getByRole("row", { name: /Reference data viewer/ });
    await row.waitFor();
    const cells = await row.getByRole("cell").allTextContents();
    expect(cells[1]).toBe(MAKER);
    expect(cells[2]).toBe(CHECKER);
    expect(cells[5]).toBe("Maker-checker request");
    await expectAccessible(checker);

    // The maker sees the same after reloading, and the request's outcome in their list.
    await maker.reload();
    const makerRow = maker.getByRole("region", { name: "Effective access" }).getByRole("row", { name: /Reference data viewer/ });
    await makerRow.waitFor();
    const makerCells = await makerRow.getByRole("cell").allTextContents();
    expect(makerCells.slice(1, 3)).toEqual([MAKER, CHECKER]);
    await expect(maker.getByRole("region", { name: "Past grants and decisions" }).textContent()).resolves.toContain(COMMENT);
    await mainNavigation(maker).getByRole("link", { name: "Approvals" }).click();
    const mine = maker.getByRole("region", { name: "Your requests and their outcomes" });
    const outcome = mine.getByRole("row").filter({ has: maker.getByRole("link", { name: "Sam Lau" }) }).filter({ hasText: "Reference data viewer" });
    await outcome.waitFor();
    await expect(outcome.textContent()).resolves.toMatch(/Approved.*Chris Checker \(B01234\)/);
    await expectAccessible(maker);

    // And the database agrees: one approved request, one grant carrying both names.
    const [sam] = await database.db.select().from(users).where(eq(users.email, "sam.lau@harbourview.example"));
    const [request] = await database.db
      .select()
      .from(grantRequests)
      .where(and(eq(grantRequests.userId, sam!.id), eq(grantRequests.roleCode, "ref_data_viewer")));
    expect(request).toMatchObject({ status: "approved", decisionComment: COMMENT });
    const grants = await database.db.select().from(roleGrants).where(and(eq(roleGrants.userId, sam!.id), eq(roleGrants.roleCode, "ref_data_viewer")));
    expect(grants).toHaveLength(1);
    expect(grants[0]!.requestId).toBe(request!.id);

    expectNoConsoleErrors(maker);
    expectNoConsoleErrors(checker);
  });
});
