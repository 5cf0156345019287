import { and, eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { grantRequests, roleGrants, users, type User } from "../../db/schema";
import { consolePersonasOf } from "../../app/auth/session.server";
import { translator } from "../../app/i18n/messages";
import type { ServiceContext } from "../../app/modules/context.server";
import { heldRoleCodes } from "../../app/modules/roles/facts.server";
import {
  cancelRequest,
  decideRequest,
  decideWaiver,
  listRequests,
  requestGrant,
  requestWaiver,
  revokeGrant,
} from "../../app/modules/roles/service.server";
import { performSupportAction } from "../../app/modules/users/support.server";
import { checkImport } from "../../app/modules/users/import.server";
import { changeUserStatus, createUser, getUserProfile, listUsers, updateUser } from "../../app/modules/users/service.server";
import { contextFor, registerParticipant } from "../factories";
import { createFirm, outcome, refusal, type Firm } from "../support/access";
import { auditEventsSince, lastAuditId } from "../support/audit";
import { startTestClock } from "../support/clock";
import { describeEachDatabase } from "../support/databases";

const en = translator("en");
const HOUR = 3600 * 1000;

describeEachDatabase("Login Management services", { demo: true }, (use) => {
  let officer: ServiceContext;
  let helpdesk: ServiceContext;
  let compliance: ServiceContext;
  let makerB: ServiceContext;
  let checkerB: ServiceContext;
  let makerC: ServiceContext;

  const db = () => use().db;
  const userByEmail = async (email: string): Promise<User> => {
    const [user] = await db().select().from(users).where(eq(users.email, email));
    if (!user) throw new Error(`no user ${email}`);
    return user;
  };
  const grantOf = async (userId: string, roleCode: string) => {
    const [grant] = await db()
      .select()
      .from(roleGrants)
      .where(and(eq(roleGrants.userId, userId), eq(roleGrants.roleCode, roleCode), eq(roleGrants.status, "active")));
    if (!grant) throw new Error(`no active ${roleCode} grant for ${userId}`);
    return grant;
  };
  /** Asks as the firm's maker and approves as its checker: the normal way a role is given. */
  const grantThroughChecker = async (firm: Firm, userId: string, roleCode: string, extra: { validFrom?: string; validTo?: string; justification?: string } = {}, checker = firm.checker) => {
    const request = await requestGrant(firm.maker, { userId, roleCode, ...extra });
    const decided = await decideRequest(checker, { requestId: request.id, decision: "approve", comment: "Signed access form on file." });
    expect(decided.status).toBe("approved");
    return decided;
  };

  beforeAll(async () => {
    officer = await contextFor(db(), "officer@hkex.demo");
    helpdesk = await contextFor(db(), "helpdesk@hkex.demo");
    compliance = await contextFor(db(), "compliance@hkex.demo");
    makerB = await contextFor(db(), "maker@b01234.demo");
    checkerB = await contextFor(db(), "checker@b01234.demo");
    makerC = await contextFor(db(), "maker@c00123.demo");
  });

  describe("one participant never sees or touches another's users", () => {
    it("answers 404 to every service a B01234 administrator calls on a C00123 user, as for a user that does not exist", async () => {
      const wing = await userByEmail("wing.cheung@lionrock.example");
      const ops = await userByEmail("ops@lionrock.example");
      const opsGrant = await grantOf(ops.id, "ref_data_viewer");
      const [wingRequest] = await db().select().from(grantRequests).where(eq(grantRequests.userId, wing.id));
      expect(wingRequest?.status).toBe("pending");

      const missing = await refusal(getUserProfile(makerB, "no-such-user"), 404, "error.notFound");
      for (const ctx of [makerB, checkerB]) {
        const error = await refusal(getUserProfile(ctx, wing.id), 404, "error.notFound");
        expect(error.params).toEqual(missing.params);
        await refusal(updateUser(ctx, { userId: wing.id, version: wing.version, displayName: "Taken over" }), 404, "error.notFound");
        await refusal(changeUserStatus(ctx, { userId: wing.id, action: "suspend", version: wing.version, reason: "Not ours to suspend" }), 404, "error.notFound");
        await refusal(revokeGrant(ctx, { grantId: opsGrant.id, reason: "Not ours to revoke" }), 404, "error.notFound");
      }
      await refusal(requestGrant(makerB, { userId: wing.id, roleCode: "trade_info_viewer" }), 404, "error.notFound");
      await refusal(requestWaiver(makerB, { userId: wing.id, ruleId: "da_maker_checker", reason: "Not ours to ask" }), 404, "error.notFound");
      await refusal(decideRequest(checkerB, { requestId: wingRequest!.id, decision: "approve" }), 404, "error.notFound");
      await refusal(cancelRequest(makerB, { requestId: wingRequest!.id }), 404, "error.notFound");
      await refusal(createUser(makerB, { participantId: "C00123", email: "planted@lionrock.example", displayName: "Planted" }), 404, "error.notFound");
      await refusal(checkImport(makerB, { participantId: "C00123", fileName: "users.csv", text: "email,display_name\nplanted@lionrock.example,Planted\n" }), 404, "error.notFound");

      // Nothing changed on the C00123 side.
      expect((await userByEmail("wing.cheung@lionrock.example")).displayName).toBe("Wing Cheung");
      expect((await grantOf(ops.id, "ref_data_viewer")).status).toBe("active");
      const [after] = await db().select().from(grantRequests).where(eq(grantRequests.id, wingRequest!.id));
      expect(after?.status).toBe("pending");
    });

    it("lists only the administrator's own participant's users and requests", async () => {
      const listed = await listUsers(makerB);
      expect(listed.length).toBeGreaterThan(3);
      expect(new Set(listed.map((u) => u.participantId))).toEqual(new Set(["B01234"]));
      expect((await listUsers(makerB, { q: "lionrock" })).length).toBe(0);
      expect((await listUsers(makerB, { participantId: "C00123" })).length).toBe(0);
      const requests = await listRequests(checkerB, "all");
      expect(requests.length).toBeGreaterThan(0);
      expect(new Set(requests.map((r) => r.participantId))).toEqual(new Set(["B01234"]));
      // HKEX staff find any user.
      expect((await listUsers(helpdesk, { q: "lionrock" })).map((u) => u.email)).toContain("wing.cheung@lionrock.example");
    });
  });

  describe("maker-checker", () => {
    it("lets only a DA checker decide: a maker, an officer, compliance and the helpdesk are refused with 403", async () => {
      const contractor = await userByEmail("contractor.ng@harbourview.example");
      const [pending] = await db()
        .select()
        .from(grantRequests)
        .where(and(eq(grantRequests.userId, contractor.id), eq(grantRequests.status, "pending")));
      expect(pending).toBeDefined();
      await refusal(decideRequest(makerB, { requestId: pending!.id, decision: "approve" }), 403, "access.refused.checkerOnly");
      for (const ctx of [officer, compliance, helpdesk]) {
        await refusal(decideRequest(ctx, { requestId: pending!.id, decision: "approve" }), 403);
      }
      const [still] = await db().select().from(grantRequests).where(eq(grantRequests.id, pending!.id));
      expect(still?.status).toBe("pending");
      expect(await heldRoleCodes(db(), contractor.id, new Date())).toEqual([]);
    });

    it("never lets the helpdesk grant: requesting, creating with roles and approving are all refused", async () => {
      const alice = await userByEmail("alice.tam@harbourview.example");
      await refusal(requestGrant(helpdesk, { userId: alice.id, roleCode: "ref_data_viewer" }), 403);
      await refusal(createUser(helpdesk, { participantId: "B01234", email: "help.made@harbourview.example", displayName: "Help Made", roles: ["ref_data_viewer"] }), 403);
      expect(await heldRoleCodes(db(), alice.id, new Date())).not.toContain("ref_data_viewer");
      const pending = await db().select().from(grantRequests).where(and(eq(grantRequests.userId, alice.id), eq(grantRequests.roleCode, "ref_data_viewer")));
      expect(pending).toEqual([]);
    });

    it("turns an approval into a grant that records who asked and who approved, with its audit events", async () => {
      const firm = await createFirm(db());
      const userId = await firm.addUser([], "Grace Ho");
      const request = await requestGrant(firm.maker, { userId, roleCode: "trade_info_viewer" });
      expect(request.status).toBe("pending");
      expect(await heldRoleCodes(db(), userId, new Date())).toEqual([]);
      expect((await listRequests(firm.checker, "awaiting-me")).map((r) => r.id)).toContain(request.id);
      expect((await listRequests(firm.maker, "mine")).map((r) => r.id)).toContain(request.id);

      const before = await lastAuditId(db());
      const decided = await decideRequest(firm.checker, { requestId: request.id, decision: "approve", comment: "Access form AF-88 signed." });
      expect(decided).toMatchObject({ status: "approved", decidedBy: firm.checker.actor.userId, decisionComment: "Access form AF-88 signed." });
      expect(await heldRoleCodes(db(), userId, new Date())).toEqual(["trade_info_viewer"]);

      const profile = await getUserProfile(firm.maker, userId);
      expect(profile.grants).toHaveLength(1);
      expect(profile.grants[0]).toMatchObject({
        id: decided.grantId,
        roleCode: "trade_info_viewer",
        state: "active",
        source: "request",
        requestId: request.id,
        requestedByName: firm.maker.actor.displayName,
        approvedByName: firm.checker.actor.displayName,
        service: "trade_info",
      });
      expect(profile.requests.map((r) => [r.id, r.status, r.decidedByName])).toEqual([[request.id, "approved", firm.checker.actor.displayName]]);

      const events = await auditEventsSince(db(), before);
      expect(events.map((e) => e.action)).toEqual(["role.grant.approved", "role.grant.created"]);
      expect(events[0]).toMatchObject({ entityType: "grant_request", entityId: request.id, actorUserId: firm.checker.actor.userId, actorPersona: "da_checker", participantId: firm.participant.id, reason: "Access form AF-88 signed." });
      expect(events[1]).toMatchObject({ entityType: "role_grant", entityId: decided.grantId, metadata: { userId, roleCode: "trade_info_viewer", requestId: request.id } });
      expect(events[1]!.changes).toMatchObject({ approvedBy: { before: null, after: firm.checker.actor.userId }, requestedBy: { before: null, after: firm.maker.actor.userId } });
    });

    it("answers 409 'already decided' to a second decision, and keeps the first", async () => {
      const firm = await createFirm(db());
      const userId = await firm.addUser();
      const request = await requestGrant(firm.maker, { userId, roleCode: "ref_data_viewer" });
      await decideRequest(firm.checker, { requestId: request.id, decision: "reject", comment: "No form." });
      await refusal(decideRequest(firm.checker, { requestId: request.id, decision: "approve" }), 409, "access.refused.alreadyDecided");
      await refusal(cancelRequest(firm.maker, { requestId: request.id }), 409, "access.refused.alreadyDecided");
      expect(await heldRoleCodes(db(), userId, new Date())).toEqual([]);
      const profile = await getUserProfile(firm.checker, userId);
      expect(profile.grants).toEqual([]);
      // The rejected request stays on record, and the maker may ask again.
      expect(profile.requests.map((r) => [r.roleCode, r.status, r.decisionComment])).toEqual([["ref_data_viewer", "rejected", "No form."]]);
      const again = await requestGrant(firm.maker, { userId, roleCode: "ref_data_viewer" });
      expect(again.status).toBe("pending");
    });

    it("lets only the maker who asked withdraw a request, and a withdrawn request cannot be approved", async () => {
      const firm = await createFirm(db());
      const otherMaker = await firm.addAdministrator("da_maker");
      const userId = await firm.addUser();
      const request = await requestGrant(firm.maker, { userId, roleCode: "si_status_subscriber" });
      await refusal(cancelRequest(otherMaker, { requestId: request.id }), 403, "access.refused.notYourRequest");
      await refusal(cancelRequest(firm.checker, { requestId: request.id }), 403, "access.refused.notYourRequest");
      expect((await cancelRequest(firm.maker, { requestId: request.id })).status).toBe("cancelled");
      await refusal(decideRequest(firm.checker, { requestId: request.id, decision: "approve" }), 409, "access.refused.alreadyDecided");
      expect(await heldRoleCodes(db(), userId, new Date())).toEqual([]);
    });

    it("refuses a request for a role the user holds or already waits for", async () => {
      const firm = await createFirm(db());
      const userId = await firm.addUser(["trade_info_viewer"]);
      await refusal(requestGrant(firm.maker, { userId, roleCode: "trade_info_viewer" }), 400, "access.refused.alreadyHeld");
      await requestGrant(firm.maker, { userId, roleCode: "ref_data_viewer" });
      await refusal(requestGrant(firm.maker, { userId, roleCode: "ref_data_viewer" }), 400, "access.refused.alreadyRequested");
      // HKEX roles and unknown roles are not for participants' users.
      const hkex = await refusal(requestGrant(firm.maker, { userId, roleCode: "helpdesk" }), 400, "error.badRequest");
      expect(hkex.fieldErrors).toEqual({ roleCode: "access.error.role" });
      await refusal(requestGrant(firm.maker, { userId, roleCode: "no_such_role" }), 400, "error.badRequest");
    });

    it("refuses a checker's decision on their own request (a sole proprietor holding both DA roles under a waiver)", async () => {
      const firm = await createFirm(db());
      const makerId = firm.maker.actor.userId!;
      const waiver = await requestWaiver(firm.maker, { userId: makerId, ruleId: "da_maker_checker", reason: "Sole proprietor: one administrator." });
      await decideWaiver(officer, { waiverId: waiver.id, decision: "approve", comment: "Sole-proprietor declaration received." });
      await grantThroughChecker(firm, makerId, "da_checker");
      const both = await contextFor(db(), firm.makerEmail);
      expect([...both.actor.personas].sort()).toEqual(["da_checker", "da_maker"]);

      const userId = await firm.addUser();
      const own = await requestGrant(both, { userId, roleCode: "ref_data_viewer" });
      await refusal(decideRequest(both, { requestId: own.id, decision: "approve" }), 403, "access.refused.ownRequest");
      expect((await listRequests(both, "awaiting-me")).map((r) => r.id)).not.toContain(own.id);
      expect((await listRequests(firm.checker, "awaiting-me")).map((r) => r.id)).toContain(own.id);
      expect((await decideRequest(firm.checker, { requestId: own.id, decision: "approve" })).status).toBe("approved");
    });

    it("refuses a checker's decision on a grant to themselves; another checker decides it", async () => {
      const firm = await createFirm(db());
      const checkerId = firm.checker.actor.userId!;
      const request = await requestGrant(firm.maker, {
        userId: checkerId,
        roleCode: "ref_data_viewer",
        justification: "Checks the reference-data feed at month-end.",
      });
      await refusal(decideRequest(firm.checker, { requestId: request.id, decision: "approve" }), 403, "access.refused.grantToSelf");
      await refusal(decideRequest(firm.checker, { requestId: request.id, decision: "reject" }), 403, "access.refused.grantToSelf");
      expect((await listRequests(firm.checker, "awaiting-me")).map((r) => r.id)).not.toContain(request.id);
      const second = await firm.addAdministrator("da_checker");
      expect((await listRequests(second, "awaiting-me")).map((r) => r.id)).toContain(request.id);
      await decideRequest(second, { requestId: request.id, decision: "approve" });
      expect((await heldRoleCodes(db(), checkerId, new Date())).sort()).toEqual(["da_checker", "ref_data_viewer"]);
    });

    it("refuses to approve a request whose validity ended while it waited", async () => {
      const firm = await createFirm(db());
      const userId = await firm.addUser();
      const end = new Date(Date.now() + 1500);
      const request = await requestGrant(firm.maker, { userId, roleCode: "trade_info_viewer", validTo: end.toISOString() });
      startTestClock(end.getTime() + 50);
      await refusal(decideRequest(firm.checker, { requestId: request.id, decision: "approve" }), 400, "access.refused.windowEnded");
      const [row] = await db().select().from(grantRequests).where(eq(grantRequests.id, request.id));
      expect(row?.status).toBe("pending");
      expect(await db().select().from(roleGrants).where(eq(roleGrants.userId, userId))).toEqual([]);
      // It can still be rejected, which closes it.
      expect((await decideRequest(firm.checker, { requestId: request.id, decision: "reject", comment: "Expired." })).status).toBe("rejected");
    });
  });

  describe("validity windows and revocation", () => {
    it("gives a persona only inside the grant's window: past valid_to it no longer counts", async () => {
      const firm = await createFirm(db());
      const userId = await firm.addUser([], "Temporary Checker");
      const from = new Date(Date.now() + HOUR);
      const to = new Date(Date.now() + 3 * HOUR);
      await grantThroughChecker(firm, userId, "da_checker", { validFrom: from.toISOString(), validTo: to.toISOString() });
      expect(await consolePersonasOf(db(), userId, new Date())).toEqual([]);
      expect(await consolePersonasOf(db(), userId, new Date(from.getTime() + 1))).toEqual(["da_checker"]);
      expect(await heldRoleCodes(db(), userId, new Date(from.getTime() + 1))).toEqual(["da_checker"]);
      expect(await consolePersonasOf(db(), userId, new Date(to.getTime() - 1))).toEqual(["da_checker"]);
      expect(await consolePersonasOf(db(), userId, to)).toEqual([]);
      expect(await heldRoleCodes(db(), userId, new Date(to.getTime() + HOUR))).toEqual([]);
      const profile = await getUserProfile(firm.checker, userId);
      expect(profile.grants.map((g) => [g.roleCode, g.state])).toEqual([["da_checker", "scheduled"]]);
      expect(profile.grants[0]!.validTo?.toISOString()).toBe(to.toISOString());
    });

    it("takes a revocation into effect at once and keeps the grant, its request and the reason on record", async () => {
      const firm = await createFirm(db());
      const userId = await firm.addUser();
      const decided = await grantThroughChecker(firm, userId, "si_maker");
      const before = await lastAuditId(db());
      const revoked = await revokeGrant(firm.maker, { grantId: decided.grantId!, reason: "Moved to the trade desk." });
      expect(revoked).toMatchObject({ status: "revoked", revokedBy: firm.maker.actor.userId, revokeReason: "Moved to the trade desk." });
      expect(await heldRoleCodes(db(), userId, new Date())).toEqual([]);
      const profile = await getUserProfile(firm.checker, userId);
      expect(profile.grants.map((g) => ({ state: g.state, revokedByName: g.revokedByName, approvedByName: g.approvedByName, revokeReason: g.revokeReason }))).toEqual([
        { state: "revoked", revokedByName: firm.maker.actor.displayName, approvedByName: firm.checker.actor.displayName, revokeReason: "Moved to the trade desk." },
      ]);
      expect(profile.requests.map((r) => r.status)).toEqual(["approved"]);
      const events = await auditEventsSince(db(), before);
      expect(events.map((e) => [e.action, e.entityId, e.reason])).toEqual([["role.grant.revoked", decided.grantId, "Moved to the trade desk."]]);
      await refusal(revokeGrant(firm.checker, { grantId: decided.grantId!, reason: "Twice over." }), 409, "access.refused.alreadyRevoked");
      const short = await refusal(revokeGrant(firm.checker, { grantId: decided.grantId!, reason: "no" }), 400);
      expect(short.fieldErrors.reason).toBe("validation.reasonTooShort");
    });
  });

  describe("the last active administrator", () => {
    it("cannot lose the DA checker or DA maker role, be suspended or be deactivated", async () => {
      const firm = await createFirm(db());
      const checkerId = firm.checker.actor.userId!;
      const makerId = firm.maker.actor.userId!;
      const checkerGrant = await grantOf(checkerId, "da_checker");
      const makerGrant = await grantOf(makerId, "da_maker");

      for (const ctx of [firm.maker, officer]) {
        const error = await refusal(revokeGrant(ctx, { grantId: checkerGrant.id, reason: "Leaving the firm." }), 400, "access.refused.lastAdministrator");
        expect(error.params).toEqual({ role: "da_checker" });
        expect(en(error.messageKey, error.params)).toContain("no active da_checker");
      }
      const checkerUser = await userByEmail(firm.checkerEmail);
      for (const action of ["suspend", "deactivate"]) {
        await refusal(changeUserStatus(firm.maker, { userId: checkerId, action, version: checkerUser.version, reason: "Leaving the firm." }), 400, "access.refused.lastAdministrator");
        await refusal(changeUserStatus(officer, { userId: checkerId, action, version: checkerUser.version, reason: "Leaving the firm." }), 400, "access.refused.lastAdministrator");
      }
      const makerError = await refusal(revokeGrant(firm.checker, { grantId: makerGrant.id, reason: "Leaving the firm." }), 400, "access.refused.lastAdministrator");
      expect(makerError.params).toEqual({ role: "da_maker" });
      const makerUser = await userByEmail(firm.makerEmail);
      await refusal(changeUserStatus(firm.checker, { userId: makerId, action: "deactivate", version: makerUser.version, reason: "Leaving the firm." }), 400, "access.refused.lastAdministrator");
      // Reset to baseline would take the DA role away too.
      await refusal(performSupportAction(helpdesk, { userId: makerId, action: "reset_roles", ticketRef: "INC-1001", reason: "User asked for a reset." }), 400, "access.refused.lastAdministrator");

      expect(await consolePersonasOf(db(), checkerId, new Date())).toEqual(["da_checker"]);
      expect((await userByEmail(firm.checkerEmail)).status).toBe("active");
      expect(await consolePersonasOf(db(), makerId, new Date())).toEqual(["da_maker"]);
    });

    it("can be replaced: with a second active checker, the first can go; then the second is the last", async () => {
      const firm = await createFirm(db());
      const second = await firm.addAdministrator("da_checker");
      const secondId = second.actor.userId!;
      const firstId = firm.checker.actor.userId!;

      // A suspended checker is not an active one: suspending the second leaves the first as the last.
      const secondUser = await userByEmail(second.actor.email!);
      const suspended = await changeUserStatus(firm.maker, { userId: secondId, action: "suspend", version: secondUser.version, reason: "On leave until March." });
      expect(suspended.status).toBe("suspended");
      await refusal(revokeGrant(firm.maker, { grantId: (await grantOf(firstId, "da_checker")).id, reason: "Leaving the firm." }), 400, "access.refused.lastAdministrator");
      await changeUserStatus(firm.maker, { userId: secondId, action: "reinstate", version: suspended.version, reason: "Back from leave." });

      await revokeGrant(firm.maker, { grantId: (await grantOf(firstId, "da_checker")).id, reason: "Leaving the firm." });
      expect(await consolePersonasOf(db(), firstId, new Date())).toEqual([]);
      await refusal(revokeGrant(firm.maker, { grantId: (await grantOf(secondId, "da_checker")).id, reason: "Leaving too." }), 400, "access.refused.lastAdministrator");
    });
  });

  describe("separation of duties", () => {
    it("refuses a blocking pair with a message naming both roles and the rule, in either order", async () => {
      const firm = await createFirm(db());
      const siMaker = await firm.addUser(["si_maker"]);
      const siChecker = await firm.addUser(["si_checker"]);
      const error = await refusal(requestGrant(firm.maker, { userId: siMaker, roleCode: "si_checker", justification: "Please" }), 400, "access.sod.blocked");
      expect(error.params).toMatchObject({ roleA: "si_maker", roleB: "si_checker", rule: "si_maker_checker", roleAName: "SI maker", roleBName: "SI checker" });
      expect(en(error.messageKey, error.params)).toBe("Refused by separation of duties: one person may not hold both SI maker and SI checker.");
      expect(translator("zh-HK")(error.messageKey, error.params)).toBe("職責分離規則不容許同一人同時持有「交收指示輸入人」及「交收指示覆核人」。");
      await refusal(requestGrant(firm.maker, { userId: siChecker, roleCode: "si_maker" }), 400, "access.sod.blocked");
      expect(await listRequests(firm.maker, "mine")).toEqual([]);
    });

    it("counts pending requests and grants that start later, so the pair cannot be put together in two steps", async () => {
      const firm = await createFirm(db());
      const pendingUser = await firm.addUser();
      await requestGrant(firm.maker, { userId: pendingUser, roleCode: "si_maker" });
      await refusal(requestGrant(firm.maker, { userId: pendingUser, roleCode: "si_checker" }), 400, "access.sod.blocked");

      const scheduledUser = await firm.addUser();
      const tomorrow = new Date(Date.now() + 24 * HOUR).toISOString();
      await grantThroughChecker(firm, scheduledUser, "si_maker", { validFrom: tomorrow });
      expect(await heldRoleCodes(db(), scheduledUser, new Date())).toEqual([]);
      await refusal(requestGrant(firm.maker, { userId: scheduledUser, roleCode: "si_checker" }), 400, "access.sod.blocked");
      await refusal(requestGrant(firm.maker, { userId: scheduledUser, roleCode: "si_maker" }), 400, "access.refused.alreadyHeld");

      // Once the scheduled grant is revoked the other role may be asked for.
      const [scheduled] = await db().select().from(roleGrants).where(eq(roleGrants.userId, scheduledUser));
      await revokeGrant(firm.maker, { grantId: scheduled!.id, reason: "Plans changed." });
      expect((await requestGrant(firm.maker, { userId: scheduledUser, roleCode: "si_checker" })).status).toBe("pending");
    });

    it("checks the rules again at approval: a pair formed while two requests waited is caught", async () => {
      const firm = await createFirm(db());
      const userId = await firm.addUser();
      const first = await requestGrant(firm.maker, { userId, roleCode: "si_maker" });
      await cancelRequest(firm.maker, { requestId: first.id });
      const second = await requestGrant(firm.maker, { userId, roleCode: "si_checker" });
      await grantThroughChecker(firm, userId, "trade_info_viewer");
      await decideRequest(firm.checker, { requestId: second.id, decision: "approve" });
      await refusal(requestGrant(firm.maker, { userId, roleCode: "si_maker" }), 400, "access.sod.blocked");
      expect((await heldRoleCodes(db(), userId, new Date())).sort()).toEqual(["si_checker", "trade_info_viewer"]);
    });

    it("allows a warning only with a justification, records it, and shows it on the user's page", async () => {
      const firm = await createFirm(db());
      const checkerId = firm.checker.actor.userId!;
      const missing = await refusal(requestGrant(firm.maker, { userId: checkerId, roleCode: "trade_info_viewer" }), 400, "access.sod.justificationRequired");
      expect(missing.fieldErrors).toEqual({ justification: "access.sod.justificationRequired" });
      expect(missing.params).toMatchObject({ roleA: "da_checker", roleB: "trade_info_viewer", rule: "da_checker_operational_trade" });
      await refusal(requestGrant(firm.maker, { userId: checkerId, roleCode: "trade_info_viewer", justification: "   " }), 400, "access.sod.justificationRequired");

      const justification = "Two-person team: the checker also watches the trade feed.";
      const before = await lastAuditId(db());
      const request = await requestGrant(firm.maker, { userId: checkerId, roleCode: "trade_info_viewer", justification });
      expect(request.sodJustification).toBe(justification);
      const [requested] = await auditEventsSince(db(), before);
      expect(requested).toMatchObject({ action: "role.grant.requested", metadata: { sodWarnings: ["da_checker_operational_trade"] } });

      const second = await firm.addAdministrator("da_checker");
      await decideRequest(second, { requestId: request.id, decision: "approve", comment: "Accepted for the small team." });
      const profile = await getUserProfile(firm.maker, checkerId);
      expect(profile.grants.find((g) => g.roleCode === "trade_info_viewer")).toMatchObject({ state: "active", sodJustification: justification });
      expect(profile.sodConflicts).toEqual([
        { ruleId: "da_checker_operational_trade", roleA: "da_checker", roleB: "trade_info_viewer", kind: "warn", waived: false, justification },
      ]);
    });

    it("does not record a justification where nothing warns", async () => {
      const firm = await createFirm(db());
      const userId = await firm.addUser();
      const request = await requestGrant(firm.maker, { userId, roleCode: "trade_info_viewer", justification: "Not needed" });
      expect(request.sodJustification).toBeNull();
    });

    it("lets a checker approve either request of a warned pair whose justification came with the second one", async () => {
      const firm = await createFirm(db());
      for (const order of ["first-asked-first", "second-asked-first"] as const) {
        const userId = await firm.addUser();
        const plain = await requestGrant(firm.maker, { userId, roleCode: "trade_info_viewer" });
        expect(plain.sodJustification).toBeNull();
        const justification = `Backup checker who reads trades (${order}).`;
        const admin = await requestGrant(firm.maker, { userId, roleCode: "da_checker", justification });
        expect(admin.sodJustification).toBe(justification);
        const sequence = order === "first-asked-first" ? [plain, admin] : [admin, plain];
        for (const request of sequence) {
          expect((await decideRequest(firm.checker, { requestId: request.id, decision: "approve" })).status).toBe("approved");
        }
        const profile = await getUserProfile(firm.checker, userId);
        expect(profile.sodConflicts).toEqual([
          { ruleId: "da_checker_operational_trade", roleA: "da_checker", roleB: "trade_info_viewer", kind: "warn", waived: false, justification },
        ]);
      }
    });

    it("shows the demo's justified warning on the maker's page", async () => {
      const profile = await getUserProfile(checkerB, makerB.actor.userId!);
      expect(profile.sodConflicts).toEqual([
        expect.objectContaining({ ruleId: "da_maker_operational_ref", waived: false, justification: expect.stringContaining("Two-person operations team") }),
      ]);
    });

    it("refuses DA maker + checker for one person unless an officer approved a waiver", async () => {
      const firm = await createFirm(db());
      const makerId = firm.maker.actor.userId!;
      const error = await refusal(requestGrant(firm.maker, { userId: makerId, roleCode: "da_checker" }), 400, "access.sod.waiverRequired");
      expect(error.params).toMatchObject({ roleA: "da_maker", roleB: "da_checker", rule: "da_maker_checker" });

      // Blocking rules cannot be waived at all.
      const notWaivable = await refusal(requestWaiver(firm.maker, { userId: makerId, ruleId: "si_maker_checker", reason: "Small team of one." }), 400, "error.badRequest");
      expect(notWaivable.fieldErrors).toEqual({ ruleId: "access.error.notWaivable" });

      const rejected = await requestWaiver(firm.maker, { userId: makerId, ruleId: "da_maker_checker", reason: "Sole proprietor." });
      await refusal(requestWaiver(firm.maker, { userId: makerId, ruleId: "da_maker_checker", reason: "Asking twice." }), 400, "access.refused.waiverExists");
      // A pending waiver is no waiver; the participant's own checker cannot decide one.
      await refusal(requestGrant(firm.maker, { userId: makerId, roleCode: "da_checker" }), 400, "access.sod.waiverRequired");
      await refusal(decideWaiver(firm.checker, { waiverId: rejected.id, decision: "approve" }), 403);
      await refusal(decideWaiver(firm.maker, { waiverId: rejected.id, decision: "approve" }), 403);
      await decideWaiver(officer, { waiverId: rejected.id, decision: "reject", comment: "Two staff on the form." });
      await refusal(requestGrant(firm.maker, { userId: makerId, roleCode: "da_checker" }), 400, "access.sod.waiverRequired");

      const waiver = await requestWaiver(firm.maker, { userId: makerId, ruleId: "da_maker_checker", reason: "Sole proprietor since the partner retired." });
      const approved = await decideWaiver(officer, { waiverId: waiver.id, decision: "approve", comment: "Declaration on file." });
      expect(approved).toMatchObject({ status: "approved", decidedBy: officer.actor.userId });
      await refusal(decideWaiver(officer, { waiverId: waiver.id, decision: "approve" }), 409, "access.refused.alreadyDecided");

      await grantThroughChecker(firm, makerId, "da_checker");
      expect((await consolePersonasOf(db(), makerId, new Date())).sort()).toEqual(["da_checker", "da_maker"]);
      const profile = await getUserProfile(officer, makerId);
      expect(profile.sodConflicts).toEqual([expect.objectContaining({ ruleId: "da_maker_checker", kind: "block_unless_waiver", waived: true })]);
      expect(profile.waivers.map((w) => w.status).sort()).toEqual(["approved", "rejected"]);
    });
  });

  describe("users", () => {
    it("creates a maker's user as invited, with each role a request for a checker; login names are never reused", async () => {
      const firm = await createFirm(db());
      const { user, requests, grants } = await createUser(firm.maker, {
        participantId: firm.participant.id,
        email: "  Ivy.Lee@Firm.Test ",
        displayName: "Ivy Lee",
        roles: ["trade_info_viewer", "ref_data_viewer"],
      });
      expect(user).toMatchObject({ email: "ivy.lee@firm.test", status: "invited", participantId: firm.participant.id });
      expect(requests).toHaveLength(2);
      expect(grants).toEqual([]);
      expect(await heldRoleCodes(db(), user.id, new Date())).toEqual([]);
      const taken = await refusal(createUser(firm.maker, { participantId: firm.participant.id, email: "ivy.lee@firm.test", displayName: "Ivy Again" }), 400, "error.badRequest");
      expect(taken.fieldErrors).toEqual({ email: "access.error.emailTaken" });

      await changeUserStatus(firm.maker, { userId: user.id, action: "deactivate", version: user.version, reason: "Joined another firm." });
      await refusal(createUser(firm.maker, { participantId: firm.participant.id, email: "ivy.lee@firm.test", displayName: "Ivy Returns" }), 400, "error.badRequest");
    });

    it("lets an officer grant only a participant's first administrators, and nothing else", async () => {
      const staffed = await createFirm(db());
      const more = await refusal(
        createUser(officer, { participantId: staffed.participant.id, email: `more.${staffed.participant.id.toLowerCase()}@firm.test`, displayName: "Too Many", roles: ["da_checker"] }),
        400,
        "error.badRequest",
      );
      expect(more.fieldErrors).toEqual({ roles: "access.refused.firstAdministratorsOnly" });

      const bare = await registerParticipant(db());
      const tag = bare.id.toLowerCase();
      const operational = await refusal(
        createUser(officer, { participantId: bare.id, email: `ops.${tag}@firm.test`, displayName: "Ops", roles: ["da_maker", "trade_info_viewer"] }),
        400,
        "error.badRequest",
      );
      expect(operational.fieldErrors).toEqual({ roles: "access.refused.firstAdministratorsOnly" });
      const first = await createUser(officer, { participantId: bare.id, email: `first.maker.${tag}@firm.test`, displayName: "First Maker", roles: ["da_maker"] });
      expect(first.grants).toHaveLength(1);
      expect(first.requests).toEqual([]);
      expect(await consolePersonasOf(db(), first.user.id, new Date())).toEqual(["da_maker"]);
      const [grant] = await db().select().from(roleGrants).where(eq(roleGrants.userId, first.user.id));
      expect(grant).toMatchObject({ source: "officer", requestedBy: officer.actor.userId, approvedBy: officer.actor.userId });
    });

    it("refuses an edit made on an old version with 409 and loses nothing", async () => {
      const firm = await createFirm(db());
      const otherMaker = await firm.addAdministrator("da_maker");
      const userId = await firm.addUser([], "Ken Wu");
      const { user } = await getUserProfile(firm.maker, userId);
      const first = await updateUser(firm.maker, { userId, version: user.version, displayName: "Kenneth Wu" });
      expect(first.version).toBe(user.version + 1);
      await refusal(updateUser(otherMaker, { userId, version: user.version, displayName: "Ken Woo" }), 409, "error.conflict");
      // The loser reads the current state and can apply their change on top of it.
      const current = (await getUserProfile(otherMaker, userId)).user;
      expect(current).toMatchObject({ displayName: "Kenneth Wu", version: first.version });
      expect((await updateUser(otherMaker, { userId, version: current.version, displayName: "Kenneth Woo" })).displayName).toBe("Kenneth Woo");
      const blank = await refusal(updateUser(firm.maker, { userId, version: current.version + 1, displayName: "  " }), 400);
      expect(blank.fieldErrors.displayName).toBeDefined();
    });

    it("follows the lifecycle: suspend, reinstate, and deactivate for good, which ends grants and pending requests", async () => {
      const firm = await createFirm(db());
      const userId = await firm.addUser(["trade_info_viewer"]);
      const pending = await requestGrant(firm.maker, { userId, roleCode: "ref_data_viewer" });
      let { user } = await getUserProfile(firm.maker, userId);
      await refusal(changeUserStatus(firm.maker, { userId, action: "reinstate", version: user.version, reason: "Not suspended." }), 400, "access.refused.lifecycle");
      user = await changeUserStatus(firm.maker, { userId, action: "suspend", version: user.version, reason: "Under investigation." });
      expect(user).toMatchObject({ status: "suspended", statusReason: "Under investigation." });
      await refusal(changeUserStatus(firm.maker, { userId, action: "suspend", version: user.version - 1, reason: "Stale form." }), 409, "error.conflict");
      user = await changeUserStatus(firm.checker, { userId, action: "reinstate", version: user.version, reason: "Cleared." });
      expect(user.status).toBe("active");
      user = await changeUserStatus(firm.maker, { userId, action: "deactivate", version: user.version, reason: "Left the firm." });
      expect(user.status).toBe("deactivated");
      expect(await heldRoleCodes(db(), userId, new Date())).toEqual([]);
      const profile = await getUserProfile(firm.maker, userId);
      expect(profile.grants.map((g) => [g.roleCode, g.state, g.revokeReason])).toEqual([["trade_info_viewer", "revoked", "Left the firm."]]);
      expect(profile.requests.find((r) => r.id === pending.id)?.status).toBe("cancelled");
      for (const action of ["reinstate", "suspend", "unlock", "deactivate"]) {
        await refusal(changeUserStatus(firm.maker, { userId, action, version: user.version, reason: "After the end." }), 400, "access.refused.lifecycle");
      }
      await refusal(requestGrant(firm.maker, { userId, roleCode: "trade_info_viewer" }), 400, "access.refused.userDeactivated");
    });

    it("shows the demo's effective access with provenance: who asked, who approved, and what still waits", async () => {
      const alice = await userByEmail("alice.tam@harbourview.example");
      const profile = await getUserProfile(makerB, alice.id);
      expect(profile.grants.map((g) => g.roleCode).sort()).toEqual(["si_maker", "trade_info_viewer"]);
      for (const g of profile.grants) {
        expect(g).toMatchObject({ state: "active", source: "request", requestedByName: "Mandy Maker (B01234)", approvedByName: "Chris Checker (B01234)" });
      }
      const contractor = await userByEmail("contractor.ng@harbourview.example");
      const waiting = await getUserProfile(checkerB, contractor.id);
      expect(waiting.grants).toEqual([]);
      expect(waiting.requests).toEqual([expect.objectContaining({ roleCode: "trade_info_viewer", status: "pending", requestedByName: "Mandy Maker (B01234)" })]);
      expect(waiting.requests[0]!.validTo).not.toBeNull();
      // HKEX staff read any user's page; the other participant's administrators do not.
      expect((await getUserProfile(compliance, alice.id)).grants).toHaveLength(2);
      await refusal(getUserProfile(makerC, alice.id), 404, "error.notFound");
    });

    it("keeps a grant's window when the checker approves: valid-to carried over, valid-from never in the past", async () => {
      const firm = await createFirm(db());
      const userId = await firm.addUser();
      const to = new Date(Date.now() + 30 * 24 * HOUR);
      const request = await requestGrant(firm.maker, { userId, roleCode: "ref_data_viewer", validFrom: "2020-01-01", validTo: to.toISOString() });
      const before = Date.now();
      const decided = await decideRequest(firm.checker, { requestId: request.id, decision: "approve" });
      const [grant] = await db().select().from(roleGrants).where(eq(roleGrants.id, decided.grantId!));
      expect(grant!.validFrom.getTime()).toBeGreaterThanOrEqual(before - 5);
      expect(grant!.validTo?.toISOString()).toBe(to.toISOString());
      const bad = await refusal(requestGrant(firm.maker, { userId, roleCode: "trade_info_viewer", validFrom: "2030-02-01", validTo: "2030-01-01" }), 400);
      expect(bad.fieldErrors.validTo).toBe("access.error.window");
      const notDate = await outcome(requestGrant(firm.maker, { userId, roleCode: "trade_info_viewer", validTo: "next week" }));
      expect(notDate.ok).toBe(false);
    });
  });
});
