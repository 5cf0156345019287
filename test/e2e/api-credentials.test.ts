import { randomUUID } from "node:crypto";
import { SignJWT, calculateJwkThumbprint, importPKCS8, type JWK } from "jose";
import type { Browser } from "playwright-core";
import { describe, expect, it } from "vitest";
import { CLAIM_RULES } from "../../app/modules/credentials/claim-rules";
import { expectAccessible, expectNoConsoleErrors, hasBrowser, newConsolePage, startSignedIn } from "../support/browser";
import { type RunningServer } from "../support/server";
import { useDemoConsole } from "../support/demo-console";

describe.skipIf(!hasBrowser())("a participant administrator registers an API key made in the browser and checks a token with it (browser)", () => {
  let server: RunningServer;
  let browser: Browser;
  useDemoConsole((demo) => ({ server, browser } = demo));

  it("gets a challenge, generates a key pair in the browser, registers it, and sees a token signed with it accepted", async () => {
    const page = await newConsolePage(browser);
    // Everything the browser sends, to show the private key never leaves it.
    const sent: string[] = [];
    page.on("request", (request) => {
      const body = request.postData();
      if (body) sent.push(body);
    });
    await page.goto(`${server.baseUrl}/login`);
    await startSignedIn(page, server.baseUrl, "maker@b01234.demo");
    await page.getByRole("navigation", { name: "Main navigation" }).getByRole("link", { name: "API credentials" }).click();
    await page.getByRole("heading", { level: 1, name: "API credentials" }).waitFor();
    await expectAccessible(page);
    const row = page.getByRole("row").filter({ has: page.getByRole("link", { name: "Trade feed (simulator)" }) });
    await expect(row.textContent()).resolves.toContain("Mandy Maker (B01234)");

    await row.getByRole("link", { name: "Trade feed (simulator)" }).click();
    await page.getByRole("heading", { level: 1, name: /Trade feed \(simulator\)/ }).waitFor();
    await expectAccessible(page);
    const keysTable = page.getByRole("region", { name: "Keys" }).getByRole("table");
    await expect(keysTable.getByRole("row").count()).resolves.toBe(2);

    await page.getByRole("button", { name: "Get a challenge" }).click();
    await page.getByText(/^Challenge \(nonce\), valid until/).waitFor();
    await expectAccessible(page);

    await page.getByRole("button", { name: "Generate an EC P-256 key pair in this browser" }).click();
    await page.getByRole("status").filter({ hasText: "Key pair generated" }).waitFor();
    await expectAccessible(page);
    const publicJwk = JSON.parse(await page.getByLabel("Public key (PEM or JWK)").inputValue()) as JWK;
    expect(Object.keys(publicJwk).sort()).toEqual(["crv", "kty", "x", "y"]);
    expect(await page.getByLabel("Proof of possession (signed JWT)").inputValue()).toMatch(/^eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+$/);
    const href = await page.getByRole("link", { name: "Download the private key (PKCS#8 PEM)" }).getAttribute("href");
    const privatePem = decodeURIComponent(href!.slice(href!.indexOf(",") + 1));
    expect(privatePem).toMatch(/^-----BEGIN PRIVATE KEY-----/);

    await page.getByRole("button", { name: "Register a key" }).click();
    const kid = await calculateJwkThumbprint(publicJwk, "sha256");
    const newRow = keysTable.getByRole("row").filter({ hasText: kid });
    await newRow.waitFor();
    await expect(newRow.textContent()).resolves.toContain("ES256");
    await expect(newRow.textContent()).resolves.toContain("Valid");
    await expectAccessible(page);

    // The private key the browser made signs a token for the gateway; the check accepts it.
    const clientId = (await page.locator("dl.facts code").first().textContent())!.trim();
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: "ES256", kid, typ: "JWT" })
      .setIssuer(clientId)
      .setSubject(clientId)
      .setAudience(CLAIM_RULES.simulator.audience)
      .setIssuedAt()
      .setExpirationTime("5m")
      .setJti(randomUUID())
      .sign(await importPKCS8(privatePem, "ES256"));
    const check = page.getByRole("region", { name: "JWT connection check" });
    await check.getByLabel("JWT", { exact: true }).fill(token);
    await check.getByRole("button", { name: "Check", exact: true }).click();
    const verdict = check.getByRole("status");
    await verdict.getByText("The token would be accepted.").waitFor();
    await expect(verdict.textContent()).resolves.toContain(`Key ${kid} is registered and valid.`);
    await expectAccessible(page);

    // An unsigned copy of it is refused, in plain words.
    const [, payload] = token.split(".");
    const unsigned = `${Buffer.from(JSON.stringify({ alg: "none", kid })).toString("base64url")}.${payload}.`;
    await check.getByLabel("JWT", { exact: true }).fill(unsigned);
    await check.getByRole("button", { name: "Check", exact: true }).click();
    await verdict.getByText("The token would be refused:").waitFor();
    await expect(verdict.textContent()).resolves.toContain('Unsigned tokens (alg "none") are never accepted.');
    await expectAccessible(page);

    // The public key, the proof and the tokens were sent; the private key never was.
    const privateBody = privatePem.replace(/-----[^-]+-----|\s/g, "");
    expect(sent.some((body) => new URLSearchParams(body).get("intent") === "register")).toBe(true);
    for (const body of sent) {
      const decoded = decodeURIComponent(body.replace(/\+/g, " "));
      expect(decoded).not.toContain("PRIVATE KEY");
      expect(decoded.replace(/\s/g, "")).not.toContain(privateBody.slice(0, 40));
    }

    // The published JWKS has the new key.
    const published = (await (await page.request.get(`${server.baseUrl}/jwks/simulator`)).json()) as { keys: { kid: string }[] };
    expect(published.keys.map((k) => k.kid)).toContain(kid);
    expectNoConsoleErrors(page);
  });

  it("shows compliance the client without the controls to change it, and the demo mailbox its expiry notice", async () => {
    const page = await newConsolePage(browser);
    await page.goto(`${server.baseUrl}/login`);
    await startSignedIn(page, server.baseUrl, "compliance@hkex.demo");
    await page.goto(`${server.baseUrl}/credentials`);
    await page.getByRole("heading", { level: 1, name: "API credentials" }).waitFor();
    await expectAccessible(page);
    await expect(page.getByRole("heading", { name: "Create an API client" }).count()).resolves.toBe(0);
    await page.getByRole("link", { name: "Trade feed (simulator)" }).click();
    await page.getByRole("heading", { level: 1, name: /Trade feed \(simulator\)/ }).waitFor();
    await expectAccessible(page);
    await expect(page.getByRole("button", { name: "Get a challenge" }).count()).resolves.toBe(0);
    await expect(page.getByRole("button", { name: "Revoke now" }).count()).resolves.toBe(0);
    await expect(page.getByRole("region", { name: "JWT connection check" }).count()).resolves.toBe(1);

    await page.goto(`${server.baseUrl}/mailbox`);
    await page.getByRole("heading", { level: 1, name: "Demo mailbox" }).waitFor();
    await expectAccessible(page);
    const notices = page.getByRole("listitem").filter({ hasText: /OCP API key expires in \d+ day\(s\)/ });
    await expect(notices.count()).resolves.toBe(2);
    await expect(notices.first().textContent()).resolves.toMatch(/(maker|checker)@b01234\.demo/);
    expectNoConsoleErrors(page);
  });
});
