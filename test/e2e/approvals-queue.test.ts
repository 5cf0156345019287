import { and, count, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { grantRequests } from "../../db/schema";
import { expectAccessible, expectNoConsoleErrors, hasBrowser, newConsolePage, startSignedIn } from "../support/browser";
import { useDemoConsole, type DemoConsole } from "../support/demo-console";
import type { RunningServer } from "../support/server";

/**
 * A checker works through an import's 600 role requests (issue 13): filters the queue, approves every request
 * of one role in one submission, then rejects a ticked page — each decision audited on its own.
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

  it("filters by role, approves all matching in one go, and rejects the ticked page", async () => {
    const page = await newConsolePage(browser);
    await startSignedIn(page, server.baseUrl, "checker@e00789.demo", "/");
    await page.getByRole("link", { name: "600 decisions wait for you in Approvals." }).click();
    await page.getByRole("heading", { level: 1, name: "Approvals" }).waitFor();
    const queue = page.getByRole("region", { name: /Awaiting your decision/ });
    await queue.getByText("Showing 1–50 of 600").waitFor();
    await expectAccessible(page);

    await queue.getByLabel("Role", { exact: true }).selectOption({ label: "SI status subscriber" });
    await queue.getByRole("button", { name: "Apply filters" }).click();
    await queue.getByText("Showing 1–50 of 200").waitFor();
    await queue.getByLabel("All 200 requests matching the filters").check();
    await queue.getByLabel("Comment").fill("Settlement desk onboarding, batch 1");
    await queue.getByRole("button", { name: "Approve", exact: true }).click();
    await queue.getByRole("status").filter({ hasText: "200 approved." }).waitFor();
    expect(await pending("si_status_subscriber")).toBe(0);
    expect(await pending()).toBe(400);

    // Back to everything; tick the whole first page with the header box, and reject it.
    await queue.getByLabel("Role", { exact: true }).selectOption({ label: "All" });
    await queue.getByRole("button", { name: "Apply filters" }).click();
    await queue.getByText("Showing 1–50 of 400").waitFor();
    await queue.getByLabel("Select every request on this page").check();
    await expect(queue.locator('input[name="requestId"]:checked').count()).resolves.toBe(50);
    await queue.getByLabel("Comment").fill("Not on the signed access form");
    await queue.getByRole("button", { name: "Reject", exact: true }).click();
    await queue.getByRole("status").filter({ hasText: "50 rejected." }).waitFor();
    await queue.getByText("Showing 1–50 of 350").waitFor();
    expect(await pending()).toBe(350);
    await expectAccessible(page);
    expectNoConsoleErrors(page);
  }, 120_000);
});
