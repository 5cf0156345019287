import { sql } from "drizzle-orm";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeEachDatabase } from "../support/databases";
import { HttpClient, startServer, type RunningServer } from "../support/server";
import { createVerifiedSession } from "../support/sessions";

/**
 * The error page names the real request id (issue 14): the id the server logs the failure under and sends in its
 * X-Request-Id header, on a full page and on the data request of a client-side navigation, in both languages. The
 * failure here is real: the participants table is renamed away under a running console.
 */
describeEachDatabase("the error page's request id (issue 14)", { demo: true }, (use) => {
  let server: RunningServer;
  const logs: string[] = [];
  beforeAll(async () => {
    server = await startServer(use().db, { LOG_LEVEL: "error" }, { logs });
    await use().db.execute(sql`alter table participants rename to participants_away`);
  });
  afterAll(async () => {
    await use().db.execute(sql`alter table participants_away rename to participants`);
    await server?.close();
  });

  const loggedFailures = () =>
    logs.map((line) => JSON.parse(line) as { msg: string; requestId?: string; err?: { message?: string } }).filter((l) => l.msg === "unhandled error");

  it("shows on the page the id the header carries and the log names, in English and in Chinese", async () => {
    const client = new HttpClient(server.baseUrl).useSession(await createVerifiedSession(use().db, "officer@hkex.demo"));
    for (const [locale, wording] of [["en", "The request id is "], ["zh-HK", "要求編號："]] as const) {
      const res = await client.get("/participants", { "Accept-Language": locale });
      expect(res.status).toBe(500);
      const requestId = res.headers.get("x-request-id");
      expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
      const html = await res.text();
      expect(html).toContain(`${wording}${requestId}`);
      // Nothing of the failure itself reaches the browser.
      expect(html).not.toContain("participants_away");
      expect(html).not.toMatch(/does not exist|relation/);
      expect(loggedFailures().some((l) => l.requestId === requestId)).toBe(true);
    }
  });

  it("names it in a navigation's data answer too, and an id the caller sent is kept", async () => {
    const client = new HttpClient(server.baseUrl).useSession(await createVerifiedSession(use().db, "officer@hkex.demo"));
    const res = await client.get("/participants?_data=routes%2Fparticipants._index", { "X-Request-Id": "support-ticket-4711" });
    expect(res.status).toBe(500);
    expect(res.headers.get("x-request-id")).toBe("support-ticket-4711");
    expect(await res.json()).toMatchObject({ messageKey: "error.generic", params: { requestId: "support-ticket-4711" } });
    expect(loggedFailures().some((l) => l.requestId === "support-ticket-4711")).toBe(true);
  });
});
