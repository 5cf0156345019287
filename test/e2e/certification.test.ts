import { describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { advanceCase, contextFor } from "../factories";
import { expectAccessible, hasBrowser, newConsolePage, startSignedIn } from "../support/browser";
import { type RunningServer } from "../support/server";
import { useDemoConsole } from "../support/demo-console";

// The demo's participant user with the Certification tester role.
const TESTER = "tester@b01234.demo";

describe.skipIf(!hasBrowser())("a certification run from the tester's results to the officer's sign-off, and stale on a new version (browser)", () => {
  let server: RunningServer;
  let browser: Browser;
  useDemoConsole(
    (demo) => ({ server, browser } = demo),
    // B01234 is mid-certification in the demo; its test credentials are approved here so that step 6 is open.
    async (db) => {
      await advanceCase(db, "B01234", {
        officer: await contextFor(db, "officer@hkex.demo"),
        approver: await contextFor(db, "officer2@hkex.demo"),
        participant: await contextFor(db, "maker@b01234.demo"),
      }, "test_credentials");
    },
  );

  async function openRun(page: Page): Promise<void> {
    await page.getByRole("navigation", { name: "Main navigation" }).getByRole("link", { name: "Developer Corner" }).click();
    await page.getByRole("heading", { level: 1, name: /Developer Corner/ }).waitFor();
    await page.getByRole("link", { name: "Harbour View OCP Gateway 3.2.0" }).click();
    await page.getByRole("heading", { level: 1, name: "Certification run of B01234" }).waitFor();
  }

  const rowOf = (page: Page, code: string) => page.getByRole("table").getByRole("row").filter({ has: page.getByRole("rowheader", { name: new RegExp(`^${code}`) }) });

  it("goes through tester, maker, checker and officer; the step's check turns green by itself; a new version makes it stale", async () => {
    // The tester retests the three mandatory cases that failed or were blocked.
    const tester = await newConsolePage(browser);
    await tester.goto(`${server.baseUrl}/login`);
    await startSignedIn(tester, server.baseUrl, TESTER);
    await openRun(tester);
    await expectAccessible(tester);
    await expect(rowOf(tester, "CON-02").textContent()).resolves.toContain("Failed");
    await expect(rowOf(tester, "SIS-03").textContent()).resolves.toContain("Blocked");
    await expect(rowOf(tester, "SIS-05").textContent()).resolves.toContain("Not run");
    // A tester records; submitting is the maker's.
    await expect(tester.getByRole("button", { name: "Submit the run" }).count()).resolves.toBe(0);
    for (const code of ["CON-02", "REF-05", "SIS-03"]) {
      await tester.getByLabel("Case", { exact: true }).selectOption(code);
      await tester.getByLabel("Outcome", { exact: true }).selectOption("passed");
      await tester.getByLabel("Evidence notes").fill(`Retested ${code} on build 3.2.0: as expected.`);
      await tester.getByRole("button", { name: "Record the result" }).click();
      await expect.poll(() => rowOf(tester, code).textContent()).toContain("Passed");
    }
    // History kept: CON-02's failure is attempt 1, its pass attempt 2.
    const con02 = await rowOf(tester, "CON-02").getByRole("cell").allInnerTexts();
    expect(con02[1]).toContain("Failed");
    expect(con02[2]).toContain("Passed");
    await tester.getByText("13 of 13 mandatory cases passed").waitFor();

    // The maker submits.
    const maker = await newConsolePage(browser);
    await maker.goto(`${server.baseUrl}/login`);
    await startSignedIn(maker, server.baseUrl, "maker@b01234.demo");
    await openRun(maker);
    await maker.getByRole("button", { name: "Submit the run" }).click();
    await maker.getByText("Submitted, waiting for the checker").waitFor();

    // The checker confirms.
    const checker = await newConsolePage(browser);
    await checker.goto(`${server.baseUrl}/login`);
    await startSignedIn(checker, server.baseUrl, "checker@b01234.demo");
    await openRun(checker);
    await checker.getByRole("button", { name: "Confirm the run" }).click();
    await checker.getByText("Confirmed, waiting for HKEX sign-off").waitFor();

    // The officer signs off with the declaration.
    const officer = await newConsolePage(browser);
    await officer.goto(`${server.baseUrl}/login`);
    await startSignedIn(officer, server.baseUrl, "officer@hkex.demo", "/certification?participant=B01234");
    await officer.getByRole("link", { name: "Harbour View OCP Gateway 3.2.0" }).click();
    await officer.getByRole("heading", { level: 1, name: "Certification run of B01234" }).waitFor();
    await expectAccessible(officer);
    await expect(officer.getByLabel("Declaration").inputValue()).resolves.toContain("meets the OCP API certification requirements");
    await officer.getByRole("button", { name: "Sign off" }).click();
    await officer.getByText(/Signed off by Olivia Officer/).waitFor();
    await expect(officer.getByRole("button", { name: "Sign off" }).count()).resolves.toBe(0);

    // Step 6's check reads it: green, without anyone judging by hand.
    await officer.goto(`${server.baseUrl}/participants/B01234/steps/api_certification`);
    await officer.getByText("A current certification of program version 3.2.0 is signed off for every subscribed service.").waitFor();
    await officer.goto(`${server.baseUrl}/participants/B01234`);
    await expect(officer.locator("dl.facts").textContent()).resolves.toContain("Signed off 3.2.0");

    // The printable summary for the officer's file.
    await officer.goto(`${server.baseUrl}/certification`);
    await officer.getByRole("link", { name: "Harbour View OCP Gateway 3.2.0" }).click();
    await officer.getByRole("link", { name: "Printable summary" }).click();
    await officer.getByRole("heading", { level: 1, name: /Certification summary/ }).waitFor();
    await expectAccessible(officer);
    await officer.getByText("Retested CON-02 on build 3.2.0: as expected.").waitFor();
    // The catalogue the runs draw on.
    await officer.goto(`${server.baseUrl}/certification/catalogue`);
    await officer.getByRole("heading", { level: 1, name: "Test-case catalogue" }).waitFor();
    await expectAccessible(officer);

    // The maker declares version 3.3.0: the sign-off goes stale and the check fails again.
    await maker.goto(`${server.baseUrl}/certification`);
    await maker.getByLabel("Program version").last().fill("3.3.0");
    await maker.getByRole("button", { name: "Declare the new version" }).click();
    await maker.getByText("Stale: re-certification needed").first().waitFor();
    await officer.goto(`${server.baseUrl}/participants/B01234/steps/api_certification`);
    await officer.getByText("No current signed-off certification covering every subscribed service.").waitFor();
  }, 120_000);
});
