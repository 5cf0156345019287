import { and, eq } from "drizzle-orm";
import { afterAll, beforeAll, expect, it } from "vitest";
import { grantRequests, roleGrants, rolloutFreezeExceptions, users } from "../../db/schema";
import { DEMO_PASSWORD } from "../../app/modules/demo";
import { decideRequest, requestGrant } from "../../app/modules/roles/service.server";
import { decideFreezeException } from "../../app/modules/rollouts/service.server";
import { contextFor } from "../factories";
import { describeEachDatabase } from "../support/databases";
import { HttpClient, startServer, type RunningServer } from "../support/server";

/**
 * The demo's change freeze on carried-over logins, as a participant's administrator meets it in the console (issue
 * 12; the rules on both databases are in rollouts.test.ts): C00123 is in wave 1's verification session, so a role of
 * a login carried over at the cutoff cannot be revoked — the answer names the rollout and its window — while a login
 * added after the cutoff is not frozen; B01234, the maker-checker walkthrough, is in no rollout.
 */
describeEachDatabase("the demo's change freeze over HTTP", { demo: true }, (use) => {
  let server: RunningServer;
  const db = () => use().db;
  const userId = async (email: string) => (await db().select({ id: users.id }).from(users).where(eq(users.email, email)))[0]!.id;

  beforeAll(async () => {
    server = await startServer(db());
  });
  afterAll(() => server?.close());

  it("refuses C00123's checker a revocation for a carried-over login, with the reason; a login added after the cutoff is not frozen", async () => {
    const checker = new HttpClient(server.baseUrl);
    expect((await checker.signIn("checker@c00123.demo", DEMO_PASSWORD)).status).toBe(302);
    const ops = await userId("ops@lionrock.example");
    const [grant] = await db().select().from(roleGrants).where(and(eq(roleGrants.userId, ops), eq(roleGrants.status, "active")));
    const refused = await checker.post(`/users/${ops}`, { intent: "revoke", grantId: grant!.id, reason: "Moved to another desk", confirmed: "yes" });
    expect(refused.status).toBe(409);
    // The page comes back with the reason in words: the login, the rollout, the window, what to do.
    const page = await refused.text();
    expect(page).toContain("The login ops@lionrock.example is carried over by rollout OCP go-live, wave 1, whose change freeze runs from");
    expect(page).toContain("Ask for a freeze exception for this login on the rollout");
    expect((await db().select({ status: roleGrants.status }).from(roleGrants).where(eq(roleGrants.id, grant!.id)))[0]!.status).toBe("active");

    // Wing Cheung joined after the cutoff: his pending request is approved as usual.
    const wing = await userId("wing.cheung@lionrock.example");
    const [request] = await db().select().from(grantRequests).where(and(eq(grantRequests.userId, wing), eq(grantRequests.status, "pending")));
    const approved = await checker.post(`/users/${wing}`, { intent: "decide", requestId: request!.id, decision: "approve", comment: "Form on file" });
    expect(approved.status).toBe(200);
    expect((await db().select({ status: grantRequests.status }).from(grantRequests).where(eq(grantRequests.id, request!.id)))[0]!.status).toBe("approved");
  });

  it("lets E00789's waiting exception through as README tells: approved by an officer, it lets one role of the maker be granted", async () => {
    const [exception] = await db().select().from(rolloutFreezeExceptions).where(and(eq(rolloutFreezeExceptions.participantId, "E00789"), eq(rolloutFreezeExceptions.status, "pending")));
    expect(exception).toMatchObject({ kind: "role_change", subjectRef: "maker@e00789.demo" });
    const maker = await contextFor(db(), "maker@e00789.demo");
    const checker = await contextFor(db(), "checker@e00789.demo");
    const own = await requestGrant(maker, { userId: maker.actor.userId!, roleCode: "ref_data_viewer", justification: "Small team: the maker also checks the reference-data feed at launch." });
    await expect(decideRequest(checker, { requestId: own.id, decision: "approve", comment: "Agreed" })).rejects.toMatchObject({ status: 409, messageKey: "rollout.error.frozenLogin" });
    await decideFreezeException(await contextFor(db(), "officer@hkex.demo"), { exceptionId: exception!.id, approve: true });
    await decideRequest(checker, { requestId: own.id, decision: "approve", comment: "Agreed, exception approved" });
    expect((await db().select({ status: rolloutFreezeExceptions.status }).from(rolloutFreezeExceptions).where(eq(rolloutFreezeExceptions.id, exception!.id)))[0]!.status).toBe("used");
  });

  it("leaves B01234's logins free: its checker revokes a role of a demo user as before", async () => {
    const checker = new HttpClient(server.baseUrl);
    expect((await checker.signIn("checker@b01234.demo", DEMO_PASSWORD)).status).toBe(302);
    const alice = await userId("alice.tam@harbourview.example");
    const [grant] = await db().select().from(roleGrants).where(and(eq(roleGrants.userId, alice), eq(roleGrants.status, "active"), eq(roleGrants.roleCode, "trade_info_viewer")));
    const revoked = await checker.post(`/users/${alice}`, { intent: "revoke", grantId: grant!.id, reason: "Moved to another desk", confirmed: "yes" });
    expect(revoked.status).toBe(200);
    expect((await db().select({ status: roleGrants.status }).from(roleGrants).where(eq(roleGrants.id, grant!.id)))[0]!.status).toBe("revoked");
  });
});
