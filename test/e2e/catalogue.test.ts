import { describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { expectAccessible, hasBrowser, newConsolePage, startSignedIn } from "../support/browser";
import { type RunningServer } from "../support/server";
import { useDemoConsole } from "../support/demo-console";

describe.skipIf(!hasBrowser())("the platform administrator changes and retires catalogue cases (browser)", () => {
  let server: RunningServer;
  let browser: Browser;
  useDemoConsole((demo) => ({ server, browser } = demo));

  it("changes a case as a new catalogue version and retires another; B01234's run keeps the text it started with", async () => {
    const admin = await newConsolePage(browser);
    await startSignedIn(admin, server.baseUrl, "platform@hkex.demo", "/certification/catalogue");
    await admin.getByRole("heading", { level: 1, name: "Test-case catalogue" }).waitFor();
    const intro = async () => (await admin.getByText(/catalogue version \d+/).first().textContent()) ?? "";
    const version = Number(/catalogue version (\d+)/.exec(await intro())![1]);
    const row = (code: string) => admin.getByRole("row").filter({ has: admin.getByRole("rowheader", { name: code, exact: true }) });
    const oldTitle = ((await row("REF-05").getByRole("cell").first().textContent()) ?? "").trim();

    // A title of spaces is refused on the field; then the change saves as the next version.
    await row("REF-05").getByText("Change", { exact: true }).click();
    const change = admin.getByRole("form", { name: "Change REF-05" });
    await change.getByLabel("Title (English)").fill("   ");
    await change.getByRole("button", { name: "Save as a new version" }).click();
    await change.getByText("This field is required.").waitFor();
    await expectAccessible(admin);
    await change.getByLabel("Title (English)").fill("Read the NCP/GCP mapping in force today");
    await change.getByRole("button", { name: "Save as a new version" }).click();
    await expect.poll(intro).toContain(`catalogue version ${version + 1}`);
    await expect(row("REF-05").textContent()).resolves.toContain("Read the NCP/GCP mapping in force today");

    // A reason too short is refused on the field before any question; then the administrator is asked, naming the
    // case, and the case stays current until the answer.
    await row("SIS-05").getByText("Retire", { exact: true }).click();
    const retire = admin.getByRole("form", { name: "Retire SIS-05" });
    const sisTitle = ((await row("SIS-05").getByRole("cell").first().textContent()) ?? "").trim();
    await retire.getByLabel("Reason").fill("old");
    await retire.getByRole("button", { name: "Retire the case" }).click();
    await retire.getByText("Give a reason of at least 5 characters.").waitFor();
    await expect(admin.getByRole("alertdialog").count()).resolves.toBe(0);
    await retire.getByLabel("Reason").fill("History paging moves to the replay case SIS-03");
    await retire.getByRole("button", { name: "Retire the case" }).click();
    const confirm = admin.getByRole("alertdialog", { name: `Retire case SIS-05, ${sisTitle}?` });
    await confirm.getByText("a retired case cannot be changed again", { exact: false }).waitFor();
    await expectAccessible(admin);
    await expect(row("SIS-05").textContent()).resolves.not.toContain("Retired");
    await expect(intro()).resolves.toContain(`catalogue version ${version + 1}`);
    await confirm.getByRole("button", { name: "Retire SIS-05" }).click();
    await expect.poll(() => row("SIS-05").textContent()).toContain("Retired");
    await expect(intro()).resolves.toContain(`catalogue version ${version + 2}`);

    // B01234's run, started before, still shows REF-05 as it was.
    const maker = await newConsolePage(browser);
    await startSignedIn(maker, server.baseUrl, "maker@b01234.demo", "/certification");
    await maker.getByRole("link", { name: "Harbour View OCP Gateway 3.2.0" }).click();
    await maker.getByRole("heading", { level: 1, name: "Certification run of B01234" }).waitFor();
    await expect(maker.getByRole("main").textContent()).resolves.toContain(oldTitle);
    await expect(maker.getByRole("main").textContent()).resolves.not.toContain("Read the NCP/GCP mapping in force today");
  }, 120_000);
});
