import { describe, expect, it } from "vitest";
import type { Browser, Locator, Page } from "playwright-core";
import { advanceCase, certifyParticipant, contextFor } from "../factories";
import { expectAccessible, expectNoConsoleErrors, hasBrowser, newConsolePage, startSignedIn } from "../support/browser";
import { stepOf } from "../support/onboarding";
import { type RunningServer } from "../support/server";
import { useDemoConsole, type DemoConsole } from "../support/demo-console";

const EVIDENCE = "Certification report: all mandatory trade-information and reference-data cases passed (program v1.2).";
const EVIDENCE_REF = "CERT-B01234-2026-001";

/** The timeline entry of one event on one step: its sentence names the person, what they did and the step. */
function timelineEntry(page: Page, sentence: string): Locator {
  return page.locator("ol.timeline > li").filter({ hasText: sentence });
}

describe.skipIf(!hasBrowser())("a participant administrator submits a step; an officer approves it (browser)", () => {
  let database: DemoConsole["database"];
  let server: RunningServer;
  let browser: Browser;
  useDemoConsole(
    (demo) => ({ database, server, browser } = demo),
    // In the demo, B01234's test credentials wait for an officer; a second officer approves them here, so API
    // certification, the participant's own step, is ready for its administrator.
    async (db) => {
      await advanceCase(db, "B01234", {
        officer: await contextFor(db, "officer@hkex.demo"),
        approver: await contextFor(db, "officer2@hkex.demo"),
        participant: await contextFor(db, "maker@b01234.demo"),
      }, "test_credentials");
      expect((await stepOf(db, "B01234", "api_certification")).state).toBe("ready");
      // The step's check reads the certification: B01234's run (mid-way in the demo) is finished and signed off.
      await certifyParticipant(db, "B01234", {
        maker: await contextFor(db, "maker@b01234.demo"),
        checker: await contextFor(db, "checker@b01234.demo"),
        officer: await contextFor(db, "officer2@hkex.demo"),
      });
    },
  );

  it("goes from the maker's queue, through evidence and submission, to the officer's approval, and the timeline shows both", async () => {
    // The maker of B01234, in one browser context.
    const maker = await newConsolePage(browser);
    await maker.goto(`${server.baseUrl}/login`);
    await expectAccessible(maker);
    await startSignedIn(maker, server.baseUrl, "maker@b01234.demo");
    await expectAccessible(maker);

    await maker.getByRole("navigation", { name: "Main navigation" }).getByRole("link", { name: "My work" }).click();
    await maker.getByRole("heading", { level: 1, name: "My work" }).waitFor();
    await expectAccessible(maker);
    const todo = maker.getByRole("row").filter({ has: maker.getByRole("link", { name: "API certification" }) });
    await expect.poll(() => todo.textContent()).toContain("To work on");
    await todo.getByRole("link", { name: "API certification" }).click();

    const makerHeading = maker.getByRole("heading", { level: 1, name: /API certification/ });
    await makerHeading.waitFor();
    expect(await makerHeading.textContent()).toContain("Ready");
    await expectAccessible(maker);

    await maker.getByRole("button", { name: "Start work" }).click();
    await maker.getByRole("heading", { level: 1, name: /API certification.*In progress/ }).waitFor();

    // Submitting without evidence is refused with a message that says what to do.
    await maker.getByRole("button", { name: "Submit for approval" }).click();
    await maker.getByRole("alert").filter({ hasText: "Attach at least one piece of evidence before submitting this step." }).waitFor();
    await expectAccessible(maker);

    await maker.getByRole("radio", { name: "Evidence" }).check();
    await maker.getByLabel("Text").fill(EVIDENCE);
    await maker.getByLabel("Document reference").fill(EVIDENCE_REF);
    await maker.getByRole("button", { name: "Add", exact: true }).click();
    await maker.locator("ol.entries").getByText(EVIDENCE).waitFor();
    await expectAccessible(maker);

    await maker.getByRole("button", { name: "Submit for approval" }).click();
    await maker.getByRole("heading", { level: 1, name: /API certification.*Submitted/ }).waitFor();
    await maker.getByText("Nothing for you to do on this step now.").waitFor();
    await expectAccessible(maker);
    expectNoConsoleErrors(maker, { allowStatuses: [400] });

    // An officer, in a second browser context, finds it in "My work" and approves it.
    const officer = await newConsolePage(browser);
    await startSignedIn(officer, server.baseUrl, "officer@hkex.demo");
    await officer.getByRole("navigation", { name: "Main navigation" }).getByRole("link", { name: "My work" }).click();
    await officer.getByRole("heading", { level: 1, name: "My work" }).waitFor();
    await expectAccessible(officer);
    const toApprove = officer
      .getByRole("row")
      .filter({ hasText: "B01234" })
      .filter({ has: officer.getByRole("link", { name: "API certification" }) });
    expect(await toApprove.count()).toBe(1);
    expect(await toApprove.textContent()).toContain("To approve");
    expect(await toApprove.textContent()).toContain("Submitted");
    await toApprove.getByRole("link", { name: "API certification" }).click();

    await officer.getByRole("heading", { level: 1, name: /API certification.*Submitted/ }).waitFor();
    const entry = officer.locator("ol.entries > li").filter({ hasText: EVIDENCE });
    expect(await entry.textContent()).toContain("Mandy Maker (B01234)");
    expect(await entry.textContent()).toContain(EVIDENCE_REF);
    await expectAccessible(officer);

    await officer.getByRole("button", { name: "Approve" }).click();
    await officer.getByRole("heading", { level: 1, name: /API certification.*Approved/ }).waitFor();
    await expectAccessible(officer);

    await officer.getByRole("link", { name: "Back to the case" }).click();
    await officer.getByRole("heading", { level: 1, name: /Participant B01234/ }).waitFor();
    expect(await officer.getByRole("heading", { level: 1 }).textContent()).toContain("Certified");
    const submitted = timelineEntry(officer, "submitted the step API certification for");
    const approved = timelineEntry(officer, "approved the step API certification for");
    expect(await submitted.count()).toBe(1);
    expect(await approved.count()).toBe(1);
    expect(await submitted.textContent()).toContain("Mandy Maker (B01234)");
    expect(await approved.textContent()).toContain("Olivia Officer");
    // Newest first: the approval above the submission.
    const order = await officer.locator("ol.timeline > li").allTextContents();
    const at = (text: string) => order.findIndex((t) => t.includes(text));
    expect(at("approved the step API certification")).toBeLessThan(at("submitted the step API certification"));
    await expectAccessible(officer);
    expectNoConsoleErrors(officer);

    // The maker sees the same outcome on their own case page.
    await maker.getByRole("link", { name: "Back to the case" }).click();
    await maker.getByRole("heading", { level: 1, name: /Participant B01234/ }).waitFor();
    expect(await maker.getByRole("heading", { level: 1 }).textContent()).toContain("Certified");
    expect(await timelineEntry(maker, "approved the step API certification for").count()).toBe(1);
    await expectAccessible(maker);

    const step = await stepOf(database.db, "B01234", "api_certification");
    const [makerCtx, officerCtx] = [await contextFor(database.db, "maker@b01234.demo"), await contextFor(database.db, "officer@hkex.demo")];
    expect(step).toMatchObject({ state: "approved", submittedBy: makerCtx.actor.userId, decidedBy: officerCtx.actor.userId });
    expect((await stepOf(database.db, "B01234", "readiness_verification")).state).toBe("locked");
  });
});
