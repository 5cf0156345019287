import { eq } from "drizzle-orm";
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from "vitest";
import { sessions, users } from "../../db/schema";
import { DEMO_PASSWORD } from "../../app/modules/demo";
import { auditEventsSince, lastAuditId } from "../support/audit";
import { HOUR, MINUTE, TestClock } from "../support/clock";
import { describeEachDatabase } from "../support/databases";
import { HttpClient, startServer, type RunningServer } from "../support/server";

const OFFICER = "officer@hkex.demo";

describeEachDatabase("session lifetime", { demo: true }, (use) => {
  let server: RunningServer;
  const clock = new TestClock();

  beforeAll(async () => {
    server = await startServer(use().db);
  });
  afterAll(() => server.close());
  beforeEach(() => {
    clock.start();
    clock.advance(24 * HOUR);
  });
  afterEach(() => clock.stop());

  async function signedIn(): Promise<HttpClient> {
    const client = new HttpClient(server.baseUrl);
    expect((await client.signIn(OFFICER, DEMO_PASSWORD)).status).toBe(302);
    return client;
  }
  const sessionIdOf = (client: HttpClient) => /ocp_session=([^;]+)/.exec(client.cookieHeader())![1]!;
  const isSignedIn = async (client: HttpClient, headers: Record<string, string> = {}) => {
    const res = await client.get("/", headers);
    if (res.status === 200) return true;
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("/login");
    return false;
  };

  it("is dead after sign-out: replaying the old cookie leads to the sign-in page", async () => {
    const client = await signedIn();
    const oldCookie = client.cookieHeader();
    expect(oldCookie).toMatch(/^ocp_session=/);
    expect(await isSignedIn(client)).toBe(true);

    const before = await lastAuditId(use().db);
    expect((await client.post("/logout", {})).status).toBe(302);
    expect((await auditEventsSince(use().db, before)).map((e) => e.action)).toEqual(["auth.sign_out"]);

    const replay = new HttpClient(server.baseUrl);
    expect(await isSignedIn(replay, { Cookie: oldCookie })).toBe(false);
    const deep = await replay.get("/participants", { Cookie: oldCookie });
    expect(deep.headers.get("location")).toBe("/login?redirectTo=%2Fparticipants");
  });

  it("survives 29 minutes without activity, and each visit starts the 30 minutes again", async () => {
    const client = await signedIn();
    clock.advance(29 * MINUTE);
    expect(await isSignedIn(client)).toBe(true);
    clock.advance(29 * MINUTE);
    expect(await isSignedIn(client)).toBe(true);
  });

  it("ends after 31 minutes without activity", async () => {
    const client = await signedIn();
    const sessionId = sessionIdOf(client);
    clock.advance(10 * MINUTE);
    expect(await isSignedIn(client)).toBe(true);
    clock.advance(31 * MINUTE);
    const before = await lastAuditId(use().db);
    expect(await isSignedIn(client)).toBe(false);
    // Ended on the server, not just forgotten by this browser, and recorded.
    expect(await use().db.select().from(sessions).where(eq(sessions.id, sessionId))).toEqual([]);
    expect((await auditEventsSince(use().db, before)).map((e) => [e.action, e.reason])).toEqual([
      ["auth.session.ended", "idle-expired"],
    ]);
  });

  it("ends 12 hours after sign-in even when the user is active every 20 minutes", async () => {
    const client = await signedIn();
    for (let elapsed = 20; elapsed < 12 * 60; elapsed += 20) {
      clock.advance(20 * MINUTE);
      expect(await isSignedIn(client), `after ${elapsed} minutes`).toBe(true);
    }
    clock.advance(20 * MINUTE);
    const before = await lastAuditId(use().db);
    expect(await isSignedIn(client), "after 12 hours").toBe(false);
    expect((await auditEventsSince(use().db, before)).map((e) => [e.action, e.reason])).toEqual([
      ["auth.session.ended", "absolute-expired"],
    ]);
  });

  it("ends when the account stops being active, even mid-session", async () => {
    const { db } = use();
    const client = await signedIn();
    const sessionId = sessionIdOf(client);
    const [officer] = await db.select().from(users).where(eq(users.email, OFFICER));
    await db.update(users).set({ status: "suspended" }).where(eq(users.id, officer!.id));
    try {
      const before = await lastAuditId(db);
      expect(await isSignedIn(client)).toBe(false);
      const events = await auditEventsSince(db, before);
      expect(events.map((e) => [e.action, e.reason, e.actorUserId])).toEqual([
        ["auth.session.ended", "user-not-active", officer!.id],
      ]);
      expect(await db.select().from(sessions).where(eq(sessions.id, sessionId))).toEqual([]);
    } finally {
      await db.update(users).set({ status: "active" }).where(eq(users.id, officer!.id));
    }
  });
});
