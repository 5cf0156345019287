import { describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { eq } from "drizzle-orm";
import { users } from "../../db/schema";
import { DEMO_PASSWORD } from "../../app/modules/demo";
import { resendInvitation } from "../../app/modules/users/service.server";
import { contextFor, createConsoleUser } from "../factories";
import { expectAccessible, expectNoConsoleErrors, hasBrowser, newConsolePage, startSignedIn } from "../support/browser";
import { useDemoConsole, type DemoConsole } from "../support/demo-console";
import type { RunningServer } from "../support/server";
import { codeAt, currentStep, learnKey, nextCode } from "../support/totp";

const NEW_ADMIN = "dora.admin@harbourview.example";
const NEW_PASSWORD = "harbour lights over kowloon bay";

describe.skipIf(!hasBrowser())("two-factor authentication (browser)", () => {
  let database: DemoConsole["database"];
  let server: RunningServer;
  let browser: Browser;
  useDemoConsole((demo) => ({ database, server, browser } = demo));

  it("a new administrator activates the account, enrols an authenticator from the QR code page, and only then reaches the console", async () => {
    // B01234's new administrator, approved with no password and no authenticator yet; the activation mail goes out.
    const admin = await createConsoleUser(database.db, {
      email: NEW_ADMIN,
      displayName: "Dora Admin (B01234)",
      participantId: "B01234",
      roleCodes: ["da_maker"],
      password: null,
      totpSecret: null,
    });
    await resendInvitation({ ...(await contextFor(database.db, "maker@b01234.demo")), baseUrl: server.baseUrl }, { userId: admin.id });

    const page = await newConsolePage(browser);
    await page.goto(`${server.baseUrl}/mailbox`);
    await page.getByRole("listitem").filter({ hasText: NEW_ADMIN }).getByRole("link").first().click();
    await page.getByRole("heading", { level: 1, name: "Activate your account" }).waitFor();
    await page.getByLabel("New password", { exact: true }).fill(NEW_PASSWORD);
    await page.getByLabel("New password again").fill(NEW_PASSWORD);
    await page.getByRole("button", { name: "Set the password" }).click();
    await page.waitForURL((url) => url.pathname === "/login");

    await page.getByLabel("Email").fill(NEW_ADMIN);
    await page.getByLabel("Password").fill(NEW_PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL((url) => url.pathname === "/mfa/enrol");
    await page.getByRole("heading", { level: 1, name: "Set up two-factor authentication" }).waitFor();
    await expectAccessible(page);
    // The QR code is drawn, and the key is there in text for those who cannot scan.
    const qr = page.getByRole("img", { name: `QR code holding the authenticator key for ${NEW_ADMIN}` });
    const box = await qr.boundingBox();
    expect(box!.width).toBeGreaterThan(100);
    expect(await qr.evaluate((img) => (img as HTMLImageElement).complete && (img as HTMLImageElement).naturalWidth > 0)).toBe(true);
    const shown = await page.locator("#totp-key").innerText();
    expect(shown).toMatch(/^([A-Z2-7]{4} ){7}[A-Z2-7]{4}$/);
    // No navigation to anywhere else: the console waits for enrolment.
    expect(await page.getByRole("navigation", { name: "Main navigation" }).count()).toBe(0);
    await page.goto(`${server.baseUrl}/participants/B01234`);
    expect(new URL(page.url()).pathname).toBe("/mfa/enrol");

    // A mistyped code is explained by the field.
    const key = learnKey(server.baseUrl, NEW_ADMIN, shown);
    const wrong = codeAt(key, currentStep() + 5);
    await page.getByLabel("Authentication code").fill(wrong);
    await page.getByRole("button", { name: "Confirm and continue" }).click();
    await page.getByText(/That code is not right\. .* Attempts left: 4\./).waitFor();
    await expectAccessible(page);

    await page.getByLabel("Authentication code").fill(await nextCode(server.baseUrl, NEW_ADMIN));
    await page.getByRole("button", { name: "Confirm and continue" }).click();
    await page.getByRole("heading", { level: 1, name: "Participant B01234" }).waitFor();
    expect(new URL(page.url()).pathname).toBe("/participants/B01234");

    // Signed out and in again: a code is asked for, not enrolment.
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL((url) => url.pathname === "/login");
    await page.getByLabel("Email").fill(NEW_ADMIN);
    await page.getByLabel("Password").fill(NEW_PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { level: 1, name: "Two-factor authentication" }).waitFor();
    await page.getByLabel("Authentication code").fill(await nextCode(server.baseUrl, NEW_ADMIN));
    await page.getByRole("button", { name: "Verify" }).click();
    await page.getByRole("heading", { level: 1, name: "Welcome, Dora Admin (B01234)." }).waitFor();
    expectNoConsoleErrors(page, { allowStatuses: [400] });
    await page.context().close();
  });

  it("the helpdesk resets a user's 2FA; the user's next sign-in enrols a new authenticator", async () => {
    const page = await newConsolePage(browser);
    await startSignedIn(page, server.baseUrl, "helpdesk@hkex.demo");
    const [colin] = await database.db.select().from(users).where(eq(users.email, "checker@c00123.demo"));
    await page.goto(`${server.baseUrl}/users/${colin!.id}`);
    await page.getByRole("heading", { level: 1, name: /Calvin Checker/ }).waitFor();
    const support = page.getByRole("region", { name: "Helpdesk actions" });
    await support.getByLabel("Ticket reference").fill("INC-3141");
    await support.getByLabel("Reason").fill("Lost the phone with the authenticator; identity checked by call-back.");
    await support.getByRole("button", { name: "Reset two-factor authentication" }).click();
    // Asked first, naming the user and the consequence.
    const confirm = page.getByRole("alertdialog", { name: "Reset the second factor of Calvin Checker (C00123)?" });
    await confirm.getByText("authenticator stops working now and every session ends").waitFor();
    await confirm.getByRole("button", { name: "Reset the second factor" }).click();
    await page.getByText("Done. The action is recorded with the ticket reference.").waitFor();
    await page.context().close();

    const user = await newConsolePage(browser);
    await user.goto(`${server.baseUrl}/login`);
    await user.getByLabel("Email").fill("checker@c00123.demo");
    await user.getByLabel("Password").fill(DEMO_PASSWORD);
    await user.getByRole("button", { name: "Sign in" }).click();
    await user.getByRole("heading", { level: 1, name: "Set up two-factor authentication" }).waitFor();
    const key = learnKey(server.baseUrl, "checker@c00123.demo", await user.locator("#totp-key").innerText());
    expect(key).not.toBe("JBSWY3DPEHPK3PXP");
    await user.getByLabel("Authentication code").fill(await nextCode(server.baseUrl, "checker@c00123.demo"));
    await user.getByRole("button", { name: "Confirm and continue" }).click();
    await user.getByRole("heading", { level: 1, name: /^Welcome, / }).waitFor();
    await user.context().close();
  });
});
