import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { roleGrants, users } from "../../db/schema";
import { expectAccessible, expectNoConsoleErrors, hasBrowser, newConsolePage, startSignedIn } from "../support/browser";
import { useDemoConsole, type DemoConsole } from "../support/demo-console";
import type { RunningServer } from "../support/server";

/**
 * What takes access away asks first, naming what it takes (issue 13): without JavaScript too, since the question is
 * a page of its own and the answer a second submit.
 */
describe.skipIf(!hasBrowser())("confirmations of destructive actions (browser)", () => {
  let database: DemoConsole["database"];
  let server: RunningServer;
  let browser: Browser;
  useDemoConsole((demo) => ({ database, server, browser } = demo));

  it("the helpdesk sees exactly what a reset to baseline removes and keeps, confirms, and sees it done — with JavaScript off", async () => {
    const [alice] = await database.db.select().from(users).where(eq(users.email, "alice.tam@harbourview.example"));
    const page = await newConsolePage(browser, { javaScriptEnabled: false });
    await startSignedIn(page, server.baseUrl, "helpdesk@hkex.demo", `/users/${alice!.id}`);
    await page.getByRole("heading", { level: 1, name: /Alice Tam/ }).waitFor();
    const support = page.getByRole("region", { name: "Helpdesk actions" });
    await support.getByLabel("Ticket reference").fill("INC-7788");
    await support.getByLabel("Reason").fill("Moved to the back office; access to be reviewed.");
    await support.getByRole("button", { name: "Reset roles to the baseline template" }).click();

    const confirm = page.getByRole("alertdialog", { name: "Reset the roles of Alice Tam to the baseline?" });
    await confirm.waitFor();
    // The GCP baseline keeps trade information and drops the SI maker role.
    await expect(confirm.getByRole("list").first().textContent()).resolves.toContain("SI maker");
    await expect(confirm.textContent()).resolves.toContain("Trade information viewer");
    const active = async () => (await database.db.select().from(roleGrants).where(eq(roleGrants.userId, alice!.id))).filter((g) => g.status === "active").map((g) => g.roleCode).sort();
    expect(await active()).toEqual(["si_maker", "trade_info_viewer"]);

    await confirm.getByRole("button", { name: "Reset the roles to the baseline" }).click();
    await page.getByText("Done. The action is recorded with the ticket reference.").waitFor();
    expect(await active()).toEqual(["trade_info_viewer"]);
    expectNoConsoleErrors(page);
  });

  it("an officer asked to confirm a suspension sees the question once, by the suspension form, and cancelling changes nothing", async () => {
    const page = await newConsolePage(browser);
    await startSignedIn(page, server.baseUrl, "officer@hkex.demo", "/participants/B01234");
    const suspend = page.getByRole("form", { name: "Suspend", exact: true });
    await suspend.getByLabel("Reason").fill("Unpaid fees, pending review");
    await suspend.getByRole("button", { name: "Suspend", exact: true }).click();
    const confirm = suspend.getByRole("alertdialog", { name: /^Suspend .+ \(B01234\)\?$/ });
    await confirm.waitFor();
    await expect(page.getByRole("alertdialog").count()).resolves.toBe(1);
    await confirm.getByRole("link", { name: "Cancel" }).click();
    await confirm.waitFor({ state: "detached" });
    await expect(page.getByRole("button", { name: "Suspend", exact: true }).count()).resolves.toBe(1);
    expectNoConsoleErrors(page);
  });

  it("a maker asked to confirm a key's revocation can cancel, and nothing changes", async () => {
    const page = await newConsolePage(browser);
    await startSignedIn(page, server.baseUrl, "maker@b01234.demo", "/credentials");
    await page.getByRole("link", { name: "Trade feed (simulator)" }).click();
    const keys = page.getByRole("table").first();
    await keys.getByLabel("Reason").first().fill("Suspected leak on a laptop");
    await keys.getByRole("button", { name: "Revoke now" }).first().click();
    const confirm = page.getByRole("alertdialog", { name: /^Revoke key .+ of client b01234-simu-/ });
    await confirm.getByText("Tokens signed with this key stop working now").waitFor();
    await expectAccessible(page);
    await confirm.getByRole("link", { name: "Cancel" }).click();
    await confirm.waitFor({ state: "detached" });
    await expect(page.getByRole("cell", { name: "Valid", exact: true }).count()).resolves.toBeGreaterThan(0);
    expectNoConsoleErrors(page);
  });
});
