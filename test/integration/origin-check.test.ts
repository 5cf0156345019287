import { count } from "drizzle-orm";
import { afterAll, beforeAll, expect, it } from "vitest";
import { sessions, signInAttempts } from "../../db/schema";
import { DEMO_PASSWORD } from "../../app/modules/demo";
import { auditEventsSince, lastAuditId } from "../support/audit";
import { describeEachDatabase } from "../support/databases";
import { HttpClient, startServer, type RunningServer } from "../support/server";

const MAKER = "maker@b01234.demo";
const FOREIGN_ORIGINS: [string, string | null][] = [
  ["no Origin", null],
  ["a foreign Origin", "https://evil.example"],
  ["an Origin of another port on this host", "http://127.0.0.1:1"],
  ['the "null" Origin of a sandboxed page', "null"],
];

describeEachDatabase("Origin check on state-changing requests", { demo: true }, (use) => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(use().db);
  });
  afterAll(() => server.close());

  it.each(FOREIGN_ORIGINS)("refuses a sign-in with %s: 403, no cookie, nothing recorded", async (_what, origin) => {
    const { db } = use();
    const before = await lastAuditId(db);
    const [attemptsBefore] = await db.select({ n: count() }).from(signInAttempts);

    const res = await new HttpClient(server.baseUrl).post(
      "/login",
      { email: MAKER, password: DEMO_PASSWORD },
      { origin },
    );
    expect(res.status).toBe(403);
    expect(await res.text()).toBe("Forbidden: this request did not come from the console.");
    expect(res.headers.getSetCookie()).toEqual([]);

    expect(await auditEventsSince(db, before)).toEqual([]);
    const [attemptsAfter] = await db.select({ n: count() }).from(signInAttempts);
    expect(attemptsAfter!.n).toBe(attemptsBefore!.n);
  });

  it.each(FOREIGN_ORIGINS)("refuses a sign-out with %s: the session lives on", async (_what, origin) => {
    const { db } = use();
    const client = new HttpClient(server.baseUrl);
    expect((await client.signIn(MAKER, DEMO_PASSWORD)).status).toBe(302);
    const before = await lastAuditId(db);

    const res = await client.post("/logout", {}, { origin });
    expect(res.status).toBe(403);
    expect(res.headers.getSetCookie()).toEqual([]);

    const home = await client.get("/");
    expect(home.status).toBe(200);
    expect(await home.text()).toContain("Welcome, Mandy Maker (B01234).");
    expect(await auditEventsSince(db, before)).toEqual([]);
  });

  it("refuses a language switch from another site", async () => {
    const res = await new HttpClient(server.baseUrl).post(
      "/language",
      { locale: "zh-HK", redirectTo: "/login" },
      { origin: "https://evil.example" },
    );
    expect(res.status).toBe(403);
    expect(res.headers.getSetCookie()).toEqual([]);
  });

  it("accepts the same requests from the console's own pages", async () => {
    const { db } = use();
    const client = new HttpClient(server.baseUrl);
    expect((await client.signIn(MAKER, DEMO_PASSWORD)).status).toBe(302);
    const sessionsBefore = await db.select({ id: sessions.id }).from(sessions);
    const res = await client.post("/logout", {});
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("/login?signedOut=1");
    const sessionsAfter = await db.select({ id: sessions.id }).from(sessions);
    expect(sessionsAfter.length).toBe(sessionsBefore.length - 1);
    expect((await client.get("/")).headers.get("location")).toBe("/login");
  });

  it("lets reads through without an Origin", async () => {
    const res = await new HttpClient(server.baseUrl).get("/login");
    expect(res.status).toBe(200);
    expect(await res.text()).toContain("Sign in");
  });
});
