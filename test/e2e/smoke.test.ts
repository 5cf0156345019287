import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { seedDemo } from "../../db/seed";
import { DEMO_PASSWORD } from "../../app/modules/demo";
import { createTestDatabase, type TestDatabase } from "../support/databases";
import { expectAccessible, hasBrowser, launchBrowser, newConsolePage } from "../support/browser";
import { startServer, type RunningServer } from "../support/server";

describe.skipIf(!hasBrowser())("browser smoke", () => {
  let database: TestDatabase & { drop(): Promise<void> };
  let server: RunningServer;
  let browser: Browser;
  beforeAll(async () => {
    database = await createTestDatabase("pglite");
    await seedDemo(database.db);
    server = await startServer(database.db);
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await database?.drop();
  });

  it("signs in as the officer and sees all participants", async () => {
    const page = await newConsolePage(browser);
    await page.goto(`${server.baseUrl}/login`);
    await expectAccessible(page);
    await page.getByLabel("Email").fill("officer@hkex.demo");
    await page.getByLabel("Password").fill(DEMO_PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: /Welcome/ }).waitFor();
    await page.getByRole("link", { name: "Participants" }).first().click();
    await page.getByRole("heading", { name: "Participants" }).waitFor();
    expect(await page.getByRole("link", { name: "C00123" }).count()).toBe(1);
    await expectAccessible(page);
  });
});
