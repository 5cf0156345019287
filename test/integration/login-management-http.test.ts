import { and, eq } from "drizzle-orm";
import { afterAll, beforeAll, expect, it } from "vitest";
import { grantRequests, roleGrants, users } from "../../db/schema";
import { DEMO_PASSWORD } from "../../app/modules/demo";
import { requestGrant, decideRequest, revokeGrant } from "../../app/modules/roles/service.server";
import { createFirm } from "../support/access";
import { auditEventsSince, lastAuditId } from "../support/audit";
import { MINUTE, TestClock } from "../support/clock";
import { describeEachDatabase } from "../support/databases";
import { HttpClient, startServer, type RunningServer } from "../support/server";

describeEachDatabase("Login Management over HTTP", { demo: true }, (use) => {
  let server: RunningServer;
  const db = () => use().db;
  const clients = new Map<string, HttpClient>();
  const userId = async (email: string) => (await db().select().from(users).where(eq(users.email, email)))[0]!.id;
  const withoutNonce = (html: string) => html.replace(/nonce="[^"]*"|nonce-[^']*'|"cspNonce":"[^"]*"|"requestId":"[^"]*"/g, "");

  beforeAll(async () => {
    server = await startServer(db());
  });
  afterAll(() => server?.close());

  async function as(email: string, password = DEMO_PASSWORD): Promise<HttpClient> {
    let client = clients.get(email);
    if (!client) {
      client = new HttpClient(server.baseUrl);
      expect((await client.signIn(email, password)).status, `sign-in of ${email}`).toBe(302);
      clients.set(email, client);
    }
    return client;
  }

  it("answers 404 when a B01234 administrator opens a C00123 user's page, exactly as for a user that does not exist", async () => {
    const wing = await userId("wing.cheung@lionrock.example");
    for (const email of ["maker@b01234.demo", "checker@b01234.demo"]) {
      const client = await as(email);
      const other = await client.get(`/users/${wing}`);
      expect(other.status).toBe(404);
      const page = await other.text();
      expect(page).toContain("We could not find that page or record.");
      expect(page).not.toContain("Wing Cheung");
      expect(page).not.toContain("lionrock");
      const missing = await client.get("/users/00000000-0000-0000-0000-000000000000");
      expect(missing.status).toBe(404);
      expect(withoutNonce(page).replaceAll(wing, "00000000-0000-0000-0000-000000000000")).toBe(withoutNonce(await missing.text()));
      expect((await client.get(`/users/${wing}?_data=routes%2Fusers.%24userId`)).status).toBe(404);
      // Posting to it changes nothing and says the same.
      const post = await client.post(`/users/${wing}`, { intent: "update", version: "1", displayName: "Taken over" });
      expect(post.status).toBe(404);
    }
    expect((await db().select().from(users).where(eq(users.id, wing)))[0]!.displayName).toBe("Wing Cheung");
    const list = await (await (await as("maker@b01234.demo")).get("/users")).text();
    expect(list).toContain("Alice Tam");
    expect(list).not.toContain("Wing Cheung");
  });

  it("shows a user's effective access with who requested and who approved", async () => {
    const alice = await userId("alice.tam@harbourview.example");
    const res = await (await as("checker@b01234.demo")).get(`/users/${alice}`);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain("Effective access");
    expect(html).toContain("Trade information viewer");
    expect(html).toContain("Mandy Maker (B01234)");
    expect(html).toContain("Chris Checker (B01234)");
  });

  it("refuses a maker's approval with 403, and answers a refused SoD pair on the form with its message", async () => {
    const contractor = await userId("contractor.ng@harbourview.example");
    const [pending] = await db()
      .select()
      .from(grantRequests)
      .where(and(eq(grantRequests.userId, contractor), eq(grantRequests.status, "pending")));
    const maker = await as("maker@b01234.demo");
    const refused = await maker.post(`/users/${contractor}`, { intent: "decide", requestId: pending!.id, decision: "approve" });
    expect(refused.status).toBe(403);
    expect(await refused.text()).toContain("Only a DA checker of this participant can approve or reject requests.");
    const requests = await maker.post("/requests", { intent: "decide", requestId: pending!.id, decision: "approve" });
    expect(requests.status).toBe(403);
    expect((await db().select().from(grantRequests).where(eq(grantRequests.id, pending!.id)))[0]!.status).toBe("pending");

    const alice = await userId("alice.tam@harbourview.example");
    const sod = await maker.post(`/users/${alice}`, { intent: "request", roleCode: "si_checker" });
    expect(sod.status).toBe(400);
    expect(await sod.text()).toContain("Refused by separation of duties: one person may not hold both SI maker and SI checker.");
    const noJustification = await maker.post(`/users/${await userId("checker@b01234.demo")}`, { intent: "request", roleCode: "trade_info_viewer" });
    expect(noJustification.status).toBe(400);
    expect(await noJustification.text()).toContain("write a justification to go ahead");
  });

  it("tells the second of two editors that someone else changed the user, and shows the current name", async () => {
    const sam = await userId("sam.lau@harbourview.example");
    const [before] = await db().select().from(users).where(eq(users.id, sam));
    const maker = await as("maker@b01234.demo");
    const checker = await as("checker@b01234.demo");
    const first = await maker.post(`/users/${sam}`, { intent: "update", version: String(before!.version), displayName: "Samuel Lau" });
    expect(first.status).toBe(200);
    const second = await checker.post(`/users/${sam}`, { intent: "update", version: String(before!.version), displayName: "Sam Lau Ka-ming" });
    expect(second.status).toBe(409);
    const html = await second.text();
    expect(html).toContain("Someone else changed this record. Here is its current state.");
    expect(html).toContain("Samuel Lau");
    expect((await db().select().from(users).where(eq(users.id, sam)))[0]!.displayName).toBe("Samuel Lau");
  });

  it("ends a signed-in administrator's access at their next request once their console role is revoked", async () => {
    const firm = await createFirm(db());
    const second = await firm.addAdministrator("da_checker", "Second Checker");
    const client = new HttpClient(server.baseUrl);
    expect((await client.signIn(second.actor.email!, firm.password)).status).toBe(302);
    expect((await client.get("/requests")).status).toBe(200);

    const [grant] = await db()
      .select()
      .from(roleGrants)
      .where(and(eq(roleGrants.userId, second.actor.userId!), eq(roleGrants.roleCode, "da_checker")));
    const before = await lastAuditId(db());
    await revokeGrant(firm.maker, { grantId: grant!.id, reason: "Moved to another team." });
    const next = await client.get("/requests");
    expect(next.status).toBe(302);
    expect(next.headers.get("location")).toBe("/login?redirectTo=%2Frequests");
    const events = await auditEventsSince(db(), before);
    expect(events.map((e) => [e.action, e.reason])).toEqual([
      ["role.grant.revoked", "Moved to another team."],
      ["auth.session.ended", "no-console-role"],
    ]);
    // Signing in again does not bring it back.
    const again = await new HttpClient(server.baseUrl).signIn(second.actor.email!, firm.password);
    expect(again.status).toBe(401);
  });

  it("ends a signed-in administrator's access once their grant passes its valid-to", async () => {
    const clock = new TestClock().start();
    try {
      const firm = await createFirm(db());
      const cover = await firm.addSignInUser("Holiday Cover");
      const validTo = new Date(clock.current().getTime() + 10 * MINUTE);
      const request = await requestGrant(firm.maker, { userId: cover.id, roleCode: "da_checker", validTo: validTo.toISOString() });
      await decideRequest(firm.checker, { requestId: request.id, decision: "approve", comment: "Holiday cover for ten minutes." });

      const client = new HttpClient(server.baseUrl);
      expect((await client.signIn(cover.email, firm.password)).status).toBe(302);
      expect((await client.get("/requests")).status).toBe(200);
      clock.advance(9 * MINUTE);
      expect((await client.get("/requests")).status).toBe(200);
      const before = await lastAuditId(db());
      clock.advance(2 * MINUTE);
      const next = await client.get("/requests");
      expect(next.status).toBe(302);
      expect(next.headers.get("location")).toBe("/login?redirectTo=%2Frequests");
      expect((await auditEventsSince(db(), before)).map((e) => [e.action, e.reason])).toEqual([["auth.session.ended", "no-console-role"]]);
    } finally {
      clock.stop();
    }
  });
});
