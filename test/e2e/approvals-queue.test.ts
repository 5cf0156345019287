import { and, count, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { grantRequests } from "../../db/schema";
import { expectAccessible, expectNoConsoleErrors, hasBrowser, newConsolePage, startSignedIn } from "../support/browser";
import { useDemoConsole, type DemoConsole } from "../support/demo-console";
import type { RunningServer } from "../support/server";

/**
 * A checker works through an import's 600 role requests (issue 13): filters the queue, approves a whole page in one
 * submission, then rejects two ticked rows — each decision audited on its own. "All matching the filters" (600 in
 * one submission) is tested over HTTP in test/integration/approvals-queue.test.ts.
 */
describe.skipIf(!hasBrowser())("approvals queue with bulk decisions (browser)", () => {
  let database: DemoConsole["database"];
  let server: RunningServer;
  let browser: Browser;
  useDemoConsole((demo) => ({ database, server, browser } = demo));

  const pending = async (roleCode?: string) =>
    Number(
      (
        await database.db
          .select({ n: count() })
          .from(grantRequests)
          .where(and(eq(grantRequests.participantId, "E00789"), eq(grantRequests.status, "pending"), roleCode ? eq(grantRequests.roleCode, roleCode) : undefined))
      )[0]!.n,
    );

  it("filters by role, approves a ticked page in one go, and rejects two ticked rows", async () => {
    const page = await newConsolePage(browser);
    await startSignedIn(page, server.baseUrl, "checker@e00789.demo", "/");
    await page.getByRole("link", { name: "600 decisions wait for you in Approvals." }).click();
    await page.getByRole("heading", { level: 1, name: "Approvals" }).waitFor();
    const queue = page.getByRole("region", { name: /Awaiting your decision/ });
    await queue.getByText("Showing 1–50 of 600").waitFor();
    await expectAccessible(page);

    // One role, 25 to a page: tick the page with the header box and approve it under one comment.
    await queue.getByLabel("Role", { exact: true }).selectOption({ label: "SI status subscriber" });
    await queue.getByLabel("Rows per page").selectOption("25");
    await queue.getByRole("button", { name: "Apply filters" }).click();
    await queue.getByText("Showing 1–25 of 200").waitFor();
    await queue.getByLabel("Select every request on this page").check();
    await expect(queue.locator('input[name="requestId"]:checked').count()).resolves.toBe(25);
    await queue.getByLabel("Comment").fill("Settlement desk onboarding, batch 1");
    await queue.getByRole("button", { name: "Approve", exact: true }).click();
    await queue.getByRole("status").filter({ hasText: "25 approved." }).waitFor();
    await queue.getByText("Showing 1–25 of 175").waitFor();
    expect(await pending("si_status_subscriber")).toBe(175);

    // Two rows ticked by hand and rejected; the rest of the queue is untouched.
    const boxes = queue.locator('input[name="requestId"]');
    await boxes.nth(0).check();
    await boxes.nth(1).check();
    await queue.getByLabel("Comment").fill("Not on the signed access form");
    await queue.getByRole("button", { name: "Reject", exact: true }).click();
    await queue.getByRole("status").filter({ hasText: "2 rejected." }).waitFor();
    expect(await pending()).toBe(573);
    await expectAccessible(page);
    expectNoConsoleErrors(page);
  }, 120_000);
});
