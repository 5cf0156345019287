import { describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { expectAccessible, hasBrowser, newConsolePage, startSignedIn } from "../support/browser";
import { type RunningServer } from "../support/server";
import { useDemoConsole } from "../support/demo-console";

describe.skipIf(!hasBrowser())("a GCP's non-clearing participants on the participant page (browser)", () => {
  let server: RunningServer;
  let browser: Browser;
  useDemoConsole((demo) => ({ server, browser } = demo));

  it("an officer adds an NCP, is told what is wrong with a bad one, and ends one; the GCP's administrator reads the list", async () => {
    const officer = await newConsolePage(browser);
    await startSignedIn(officer, server.baseUrl, "officer@hkex.demo", "/participants/B01234");
    const section = officer.getByRole("region", { name: "Non-clearing participants" });
    await section.waitFor();
    await expectAccessible(officer);
    const rowOf = (id: string) => section.getByRole("row").filter({ has: officer.getByRole("rowheader", { name: id }) });
    await expect(rowOf("E10001").textContent()).resolves.toContain("Active");
    await expect(rowOf("E10003").textContent()).resolves.toContain("Ended");

    // An ID already cleared by another GCP on those days: refused, with the reason on the field.
    const add = officer.getByRole("form", { name: "Add a non-clearing participant" });
    await add.getByLabel("Exchange participant ID").fill("E10004");
    await add.getByLabel("English name").fill("Tai Tam Securities Limited");
    await add.getByLabel("Chinese name").fill("大潭證券有限公司");
    await add.getByLabel("Agreement starts").fill("2026-06-01");
    await add.getByRole("button", { name: "Add the agreement" }).click();
    await add.getByText("E10004 is already cleared by E00789 from 2026-04-01").waitFor();
    await expect(add.getByLabel("Exchange participant ID").getAttribute("aria-invalid")).resolves.toBe("true");

    await add.getByLabel("Exchange participant ID").fill("E10005");
    await add.getByRole("button", { name: "Add the agreement" }).click();
    await expect.poll(() => rowOf("E10005").count()).toBe(1);
    await expect(rowOf("E10005").textContent()).resolves.toContain("Tai Tam Securities Limited");

    // End it on a day before it starts: refused on that row; then on a later day.
    const end = officer.getByRole("form", { name: "End the agreement E10005" });
    await end.getByLabel("Agreement ends").fill("2026-05-31");
    await end.getByRole("button", { name: "End on this day" }).click();
    await end.getByText("The agreement cannot end before it starts.").waitFor();
    // Asked first, with the NCP and its last day named; cancelling leaves it in force.
    await end.getByLabel("Agreement ends").fill("2026-06-30");
    await end.getByRole("button", { name: "End on this day" }).click();
    const confirm = section.getByRole("alertdialog", { name: "End the clearing agreement with Tai Tam Securities Limited (E10005) on 2026-06-30?" });
    await confirm.getByText("2026-06-30 is the last day this participant clears for Tai Tam Securities Limited.", { exact: false }).waitFor();
    await expectAccessible(officer);
    // Asked once, in this section: the suspension form's place to ask stays empty.
    await expect(officer.getByRole("alertdialog").count()).resolves.toBe(1);
    await expect(rowOf("E10005").textContent()).resolves.toContain("Active");
    await expect(rowOf("E10005").textContent()).resolves.not.toContain("2026-06-30");
    await confirm.getByRole("link", { name: "Cancel" }).click();
    await confirm.waitFor({ state: "detached" });
    await expect(rowOf("E10005").textContent()).resolves.toContain("Active");

    await end.getByLabel("Agreement ends").fill("2026-06-30");
    await end.getByRole("button", { name: "End on this day" }).click();
    await confirm.getByRole("button", { name: "End the agreement on 2026-06-30" }).click();
    await expect.poll(() => rowOf("E10005").textContent()).toContain("Ended");
    await expect(rowOf("E10005").textContent()).resolves.toContain("2026-06-30");
    await expectAccessible(officer);

    // The GCP's own administrator sees the list, in Chinese names first when reading Chinese, without the forms.
    const maker = await newConsolePage(browser, "zh-HK");
    await startSignedIn(maker, server.baseUrl, "maker@b01234.demo", "/participants/B01234");
    const own = maker.getByRole("region", { name: "非結算參與者" });
    await own.waitFor();
    await expect(own.textContent()).resolves.toContain("大潭證券有限公司");
    await expect(own.getByRole("form").count()).resolves.toBe(0);
    await expectAccessible(maker);
  });
});
