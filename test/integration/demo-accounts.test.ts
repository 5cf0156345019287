import { afterAll, beforeAll, expect, it } from "vitest";
import { DEMO_ACCOUNTS, DEMO_PASSWORD } from "../../app/modules/demo";
import { describeEachDatabase } from "../support/databases";
import { HttpClient, startServer, type RunningServer } from "../support/server";

/**
 * Every account the demo seeds signs in as the README tells a tester to: the demo password, then a code from an
 * authenticator holding the published demo key. (Browser tests that are not about signing in start signed in, so the
 * demo's sign-ins are proven here, over HTTP, once for each account.)
 */
describeEachDatabase("the demo's accounts", { demo: true, compatibility: true }, (use) => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(use().db);
  });
  afterAll(() => server.close());

  it.each(DEMO_ACCOUNTS)("$email signs in with the demo password and the demo key, and is welcomed by name", async (account) => {
    const client = new HttpClient(server.baseUrl);
    const signedIn = await client.signIn(account.email, DEMO_PASSWORD);
    expect(signedIn.status).toBe(302);
    expect(signedIn.headers.get("location")).toBe("/");
    const home = await client.get("/");
    expect(home.status).toBe(200);
    // React separates adjacent text with empty comments in server-rendered HTML.
    expect((await home.text()).replaceAll("<!-- -->", "")).toContain(`Welcome, ${account.displayName}.`);
  });
});
