import { and, eq } from "drizzle-orm";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { roleGrants, roleTemplateRoles, roleTemplates, sessions, supportActions, users, type ParticipantType } from "../../db/schema";
import type { ServiceContext } from "../../app/modules/context.server";
import { heldRoleCodes } from "../../app/modules/roles/facts.server";
import { SUPPORT_ACTIONS, performSupportAction, supportHistory, type SupportAction } from "../../app/modules/users/support.server";
import { getUserProfile } from "../../app/modules/users/service.server";
import { contextFor } from "../factories";
import { createFirm, refusal } from "../support/access";
import { auditEventsSince, lastAuditId } from "../support/audit";
import { describeEachDatabase } from "../support/databases";
import { HttpClient, startServer, type RunningServer } from "../support/server";

const TICKET = { ticketRef: "INC-20461", reason: "Caller verified by call-back to the registered number." };

describeEachDatabase("helpdesk actions", { demo: true }, (use) => {
  let helpdesk: ServiceContext;
  let server: RunningServer;
  const db = () => use().db;
  const activeGrantCount = async (userId: string) =>
    (await db().select({ id: roleGrants.id }).from(roleGrants).where(and(eq(roleGrants.userId, userId), eq(roleGrants.status, "active")))).length;
  const userRow = async (userId: string) => (await db().select().from(users).where(eq(users.id, userId)))[0]!;

  beforeAll(async () => {
    helpdesk = await contextFor(db(), "helpdesk@hkex.demo");
    server = await startServer(db());
  });
  afterAll(() => server?.close());

  it("requires a ticket reference and a reason for every action, and does nothing without them", async () => {
    const firm = await createFirm(db());
    const userId = await firm.addUser(["si_maker"]);
    const before = await lastAuditId(db());
    for (const action of SUPPORT_ACTIONS) {
      const empty = await refusal(performSupportAction(helpdesk, { userId, action, ticketRef: "", reason: "" }), 400);
      expect(empty.fieldErrors.ticketRef).toBe("support.error.ticket");
      expect(empty.fieldErrors.reason).toBeDefined();
      const badTicket = await refusal(performSupportAction(helpdesk, { userId, action, ticketRef: "INC 1; drop", reason: TICKET.reason }), 400);
      expect(badTicket.fieldErrors).toEqual({ ticketRef: "support.error.ticket" });
      const shortReason = await refusal(performSupportAction(helpdesk, { userId, action, ticketRef: TICKET.ticketRef, reason: "ok" }), 400);
      expect(shortReason.fieldErrors).toEqual({ reason: "validation.reasonTooShort" });
    }
    expect(await auditEventsSince(db(), before)).toEqual([]);
    expect(await db().select().from(supportActions).where(eq(supportActions.userId, userId))).toEqual([]);
    expect(await heldRoleCodes(db(), userId, new Date())).toEqual(["si_maker"]);
  });

  it("is for the helpdesk only: administrators, officers and compliance are refused with 403", async () => {
    const firm = await createFirm(db());
    const userId = await firm.addUser(["si_maker"]);
    for (const email of ["officer@hkex.demo", "compliance@hkex.demo", "platform@hkex.demo"]) {
      await refusal(performSupportAction(await contextFor(db(), email), { userId, action: "reset_roles", ...TICKET }), 403);
    }
    await refusal(performSupportAction(firm.maker, { userId, action: "revoke_sessions", ...TICKET }), 403);
    await refusal(performSupportAction(firm.checker, { userId, action: "reset_roles", ...TICKET }), 403);
    await refusal(performSupportAction(helpdesk, { userId, action: "grant_role" as SupportAction, ...TICKET }), 400, "error.badRequest");
    await refusal(performSupportAction(helpdesk, { userId: "no-such-user", action: "unlock", ...TICKET }), 404, "error.notFound");
  });

  it("resets roles to the participant type's baseline by removing, never adding, and records each removal on behalf of the user", async () => {
    const firm = await createFirm(db(), { type: "GCP" });
    const userId = await firm.addUser(["trade_info_viewer", "si_maker", "si_status_subscriber"], "Peggy Poon");
    const before = await lastAuditId(db());
    expect(await performSupportAction(helpdesk, { userId, action: "reset_roles", ...TICKET })).toEqual({ message: "support.done" });

    // The GCP baseline is trade_info_viewer, ref_data_viewer, si_status_subscriber: SI maker goes, ref_data_viewer is not added.
    expect((await heldRoleCodes(db(), userId, new Date())).sort()).toEqual(["si_status_subscriber", "trade_info_viewer"]);
    const profile = await getUserProfile(helpdesk, userId);
    expect(profile.grants.find((g) => g.roleCode === "si_maker")).toMatchObject({ state: "revoked", revokeReason: TICKET.reason, revokedByName: "Henry Helpdesk" });

    const events = await auditEventsSince(db(), before);
    expect(events.map((e) => e.action)).toEqual(["role.grant.revoked", "user.roles.reset_to_baseline"]);
    for (const event of events) {
      expect(event).toMatchObject({
        ticketRef: TICKET.ticketRef,
        onBehalfOfUserId: userId,
        reason: TICKET.reason,
        actorUserId: helpdesk.actor.userId,
        actorPersona: "helpdesk",
        participantId: firm.participant.id,
      });
    }
    expect(events[1]!.metadata).toMatchObject({ revoked: ["si_maker"] });
    expect(await db().select({ ticketRef: supportActions.ticketRef, action: supportActions.action }).from(supportActions).where(eq(supportActions.userId, userId))).toEqual([
      { ticketRef: TICKET.ticketRef, action: "reset_roles" },
    ]);

    // A user with no role gets none from a reset.
    const bare = await firm.addUser([]);
    await performSupportAction(helpdesk, { userId: bare, action: "reset_roles", ...TICKET });
    expect(await activeGrantCount(bare)).toBe(0);
    // HKEX staff have no baseline.
    const officer = await contextFor(db(), "officer@hkex.demo");
    await refusal(performSupportAction(helpdesk, { userId: officer.actor.userId!, action: "reset_roles", ...TICKET }), 400, "support.refused.hkexUser");
  });

  it("never adds a role, whatever the user held and whatever the participant type (property, against the database)", async () => {
    const templates = await db()
      .select({ type: roleTemplates.participantType, roleCode: roleTemplateRoles.roleCode })
      .from(roleTemplateRoles)
      .innerJoin(roleTemplates, eq(roleTemplates.code, roleTemplateRoles.templateCode));
    const operational = ["trade_info_viewer", "ref_data_viewer", "si_maker", "si_checker", "si_status_subscriber", "api_credential_manager", "certification_tester"];
    const types = [...new Set(templates.map((t) => t.type))] as ParticipantType[];
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...types), fc.subarray(operational), async (type, held) => {
        runs++;
        const firm = await createFirm(db(), { type });
        const userId = await firm.addUser(held);
        const before = new Set(await heldRoleCodes(db(), userId, new Date()));
        await performSupportAction(helpdesk, { userId, action: "reset_roles", ...TICKET });
        const after = await heldRoleCodes(db(), userId, new Date());
        const baseline = templates.filter((t) => t.type === type).map((t) => t.roleCode);
        for (const role of after) expect(before.has(role)).toBe(true);
        expect(after.sort()).toEqual([...before].filter((r) => baseline.includes(r)).sort());
      }),
      { numRuns: 12, seed: 20261122 },
    );
    expect(runs).toBe(12);
  });

  it("unlocks only a locked user, as the helpdesk, with the ticket on record", async () => {
    const firm = await createFirm(db());
    const userId = await firm.addUser(["ref_data_viewer"]);
    await refusal(performSupportAction(helpdesk, { userId, action: "unlock", ...TICKET }), 400, "support.refused.notLocked");
    // No service locks a user yet (failed sign-ins only throttle): lock the record directly, as the lockout would.
    await db().update(users).set({ status: "locked", statusReason: "Too many failed sign-ins" }).where(eq(users.id, userId));
    const before = await lastAuditId(db());
    await performSupportAction(helpdesk, { userId, action: "unlock", ...TICKET });
    expect((await userRow(userId)).status).toBe("active");
    const events = await auditEventsSince(db(), before);
    expect(events.map((e) => [e.action, e.ticketRef, e.onBehalfOfUserId])).toEqual([["user.unlocked", TICKET.ticketRef, userId]]);
    expect(events[0]!.changes).toEqual({ status: { before: "locked", after: "active" } });
    expect(await heldRoleCodes(db(), userId, new Date())).toEqual(["ref_data_viewer"]);
  });

  it("resets two-factor authentication and sends a password-reset link, each audited on behalf of the user", async () => {
    const firm = await createFirm(db());
    const userId = firm.checker.actor.userId!;
    await db().update(users).set({ mfaEnrolledAt: new Date() }).where(eq(users.id, userId));
    const grantsBefore = await activeGrantCount(userId);
    const before = await lastAuditId(db());
    await performSupportAction(helpdesk, { userId, action: "reset_mfa", ticketRef: "INC-7", reason: "Lost the phone with the authenticator." });
    await performSupportAction(helpdesk, { userId, action: "password_reset", ticketRef: "INC-8", reason: "Forgot the password, verified by call-back." });
    expect((await userRow(userId)).mfaEnrolledAt).toBeNull();
    const events = await auditEventsSince(db(), before);
    expect(events.map((e) => [e.action, e.ticketRef, e.onBehalfOfUserId, e.actorPersona])).toEqual([
      ["user.mfa.reset", "INC-7", userId, "helpdesk"],
      ["user.password_reset.requested", "INC-8", userId, "helpdesk"],
      ["user.password_reset.issued", "INC-8", userId, "helpdesk"],
    ]);
    expect(await activeGrantCount(userId)).toBe(grantsBefore);
    const history = await supportHistory(helpdesk, userId);
    expect(history.map((h) => [h.action.action, h.action.ticketRef, h.performedByName])).toEqual([
      ["reset_mfa", "INC-7", "Henry Helpdesk"],
      ["password_reset", "INC-8", "Henry Helpdesk"],
    ]);
  });

  it("ends every session of the user: their next request goes to the sign-in page", async () => {
    const firm = await createFirm(db());
    const checkerId = firm.checker.actor.userId!;
    const browsers = [new HttpClient(server.baseUrl), new HttpClient(server.baseUrl)];
    for (const client of browsers) {
      expect((await client.signIn(firm.checkerEmail, firm.password)).status).toBe(302);
      expect((await client.get("/requests")).status).toBe(200);
    }
    expect(await db().select().from(sessions).where(eq(sessions.userId, checkerId))).toHaveLength(2);

    const before = await lastAuditId(db());
    await performSupportAction(helpdesk, { userId: checkerId, action: "revoke_sessions", ticketRef: "INC-9", reason: "Laptop reported stolen." });
    expect(await db().select().from(sessions).where(eq(sessions.userId, checkerId))).toEqual([]);
    const events = await auditEventsSince(db(), before);
    expect(events.map((e) => [e.action, e.ticketRef, e.onBehalfOfUserId, e.metadata])).toEqual([["auth.sessions.revoked", "INC-9", checkerId, expect.objectContaining({ sessions: 2 })]]);

    for (const client of browsers) {
      const next = await client.get("/requests");
      expect(next.status).toBe(302);
      expect(next.headers.get("location")).toMatch(/^\/login/);
    }
    // The user keeps their roles: signing in again works.
    expect(await heldRoleCodes(db(), checkerId, new Date())).toEqual(["da_checker"]);
    expect((await new HttpClient(server.baseUrl).signIn(firm.checkerEmail, firm.password)).status).toBe(302);
  });

  describe("on the user's page", () => {
    it("answers a support form without a ticket with field messages, and changes nothing", async () => {
      const firm = await createFirm(db());
      const userId = await firm.addUser(["si_maker"], "Quentin Lo");
      const client = new HttpClient(server.baseUrl);
      expect((await client.signIn("helpdesk@hkex.demo", "demo-password-2026")).status).toBe(302);
      const page = await client.get(`/users/${userId}`);
      expect(page.status).toBe(200);
      const html = await page.text();
      expect(html).toContain("Helpdesk actions");
      expect(html).toContain("Ticket reference");

      const refused = await client.post(`/users/${userId}`, { intent: "support", action: "reset_roles", ticketRef: "", reason: "" });
      expect(refused.status).toBe(400);
      expect(await refused.text()).toContain("Enter the ticket reference, such as INC-20461");
      expect(await heldRoleCodes(db(), userId, new Date())).toEqual(["si_maker"]);

      // First the preview: what the reset removes and keeps, and nothing changed yet.
      const asked = await client.post(`/users/${userId}`, { intent: "support", action: "reset_roles", ...TICKET });
      expect(asked.status).toBe(200);
      const preview = await asked.text();
      expect(preview).toContain("Reset the roles of");
      expect(preview).toMatch(/Roles revoked<\/h3><ul><li>SI maker<\/li><\/ul>/);
      expect(preview).toContain("None: a reset never adds a role.");
      expect(await heldRoleCodes(db(), userId, new Date())).toEqual(["si_maker"]);
      const done = await client.post(`/users/${userId}`, { intent: "support", action: "reset_roles", ...TICKET, confirmed: "yes" });
      expect(done.status).toBe(200);
      const text = await done.text();
      expect(text).toContain("Done. The action is recorded with the ticket reference.");
      expect(text).toContain("INC-20461");
      expect(await heldRoleCodes(db(), userId, new Date())).toEqual([]);

      // The helpdesk's page offers no way to grant.
      expect(text).not.toContain("Send to a checker");
      const grant = await client.post(`/users/${userId}`, { intent: "request", roleCode: "si_maker" });
      expect(grant.status).toBe(403);
      expect(await heldRoleCodes(db(), userId, new Date())).toEqual([]);
    });
  });
});
