import { describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { DEMO_PASSWORD } from "../../app/modules/demo";
import { completeSecondFactor, expectAccessible, hasBrowser, newConsolePage } from "../support/browser";
import { type RunningServer } from "../support/server";
import { useDemoConsole } from "../support/demo-console";

describe.skipIf(!hasBrowser())("browser smoke", () => {
  let server: RunningServer;
  let browser: Browser;
  useDemoConsole((demo) => ({ server, browser } = demo));

  it("signs in as the officer and sees all participants", async () => {
    const page = await newConsolePage(browser);
    await page.goto(`${server.baseUrl}/login`);
    await expectAccessible(page);
    await page.getByLabel("Email").fill("officer@hkex.demo");
    await page.getByLabel("Password").fill(DEMO_PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    // The second step: a code from the authenticator (the demo accounts' key is published in demo mode).
    await page.getByRole("heading", { level: 1, name: "Two-factor authentication" }).waitFor();
    await expectAccessible(page);
    await completeSecondFactor(page, server.baseUrl, "officer@hkex.demo");
    await page.getByRole("heading", { name: /Welcome/ }).waitFor();
    await page.getByRole("navigation", { name: "Main navigation" }).getByRole("link", { name: "Participants" }).click();
    await page.getByRole("heading", { level: 1, name: "Participants" }).waitFor();
    expect(await page.getByRole("link", { name: "C00123" }).count()).toBe(1);
    await expectAccessible(page);
  });
});
