import { and, eq, inArray } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, type DatabaseHandle } from "../../db/client.server";
import { auditEvents, reviewItems, roleGrants, type ReviewCampaign } from "../../db/schema";
import { consolePersonasOf } from "../../app/auth/session.server";
import type { ServiceContext } from "../../app/modules/context.server";
import { runJobs } from "../../app/modules/jobs/service.server";
import { heldRoleCodes } from "../../app/modules/roles/facts.server";
import { revokeGrant } from "../../app/modules/roles/service.server";
import { closeCampaign, decideItem, dueCampaigns, getCampaign, listCampaigns, openCampaign, type ItemView } from "../../app/modules/reviews/service.server";
import { contextFor, createConsoleUser } from "../factories";
import { createFirm, refusal, type Firm } from "../support/access";
import { auditEventsSince, lastAuditId } from "../support/audit";
import { HOUR, TestClock } from "../support/clock";
import { describeEachDatabase } from "../support/databases";

/**
 * Access reviews (SPEC §8): compliance opens a campaign; a participant's administrators keep or revoke each grant;
 * revocations go through the normal revoke path (last-administrator rule included); at the deadline undecided
 * items are revoked or flagged as the campaign says; the jobs runner closes due campaigns once, however many run.
 */

const DAY = 24 * HOUR;
/** A Hong Kong date some days from the clock's now, as the campaign form takes it. */
const hkDateIn = (clock: TestClock, days: number) => new Date(clock.current().getTime() + days * DAY + 8 * HOUR).toISOString().slice(0, 10);

describeEachDatabase("access reviews", (use) => {
  const clock = new TestClock();
  let compliance: ServiceContext;
  let a: Firm;
  let b: Firm;
  let j: Firm;
  let secondChecker: ServiceContext;
  let u1: string, u2: string, bUser: string, bLeaver: string;
  let campaign: ReviewCampaign;
  let flagCampaign: ReviewCampaign;
  let jobsCampaign: ReviewCampaign;

  const items = async (ctx: ServiceContext, id: string) => (await getCampaign(ctx, id)).items;
  const itemOf = (list: ItemView[], userId: string, roleCode: string) => {
    const item = list.find((i) => i.userId === userId && i.roleCode === roleCode);
    if (!item) throw new Error(`no item for ${userId} ${roleCode}`);
    return item;
  };
  const grantOf = async (grantId: string) => (await use().db.select().from(roleGrants).where(eq(roleGrants.id, grantId)))[0]!;

  beforeAll(async () => {
    clock.start();
    const { db } = use();
    await createConsoleUser(db, { email: "compliance@reviews.test", displayName: "Compliance Reviewer", roleCodes: ["compliance_reviewer"] });
    compliance = await contextFor(db, "compliance@reviews.test");
    a = await createFirm(db);
    secondChecker = await a.addAdministrator("da_checker", "Second Checker");
    u1 = await a.addUser(["trade_info_viewer", "si_maker"], "Una One");
    u2 = await a.addUser(["ref_data_viewer"], "Uma Two");
    b = await createFirm(db);
    bUser = await b.addUser(["trade_info_viewer"], "Bo Trader");
    bLeaver = await b.addUser(["trade_info_viewer"], "Bea Leaver");
    j = await createFirm(db);
    for (let i = 0; i < 4; i++) await j.addUser(["trade_info_viewer", "ref_data_viewer"]);
  });
  afterAll(() => {
    clock.stop();
  });

  describe("opening a campaign", () => {
    it("is for compliance only", async () => {
      const { db } = use();
      await createConsoleUser(db, { email: "officer@reviews.test", roleCodes: ["onboarding_officer"] });
      const input = { name: "Not yours", deadline: hkDateIn(clock, 2), deadlinePolicy: "revoke" };
      await refusal(openCampaign(a.checker, input), 403);
      await refusal(openCampaign(await contextFor(db, "officer@reviews.test"), input), 403);
    });

    it("refuses a deadline that has passed", async () => {
      const error = await refusal(openCampaign(compliance, { name: "Too late", deadline: hkDateIn(clock, -1), deadlinePolicy: "flag" }), 400);
      expect(error.fieldErrors).toEqual({ deadline: "review.error.deadlinePast" });
    });

    it("makes an item of every active grant in scope, and records the opening", async () => {
      const mark = await lastAuditId(use().db);
      campaign = await openCampaign(compliance, { name: "Q1 review of A", participantIds: [a.participant.id], deadline: hkDateIn(clock, 2), deadlinePolicy: "revoke" });
      flagCampaign = await openCampaign(compliance, { name: "Q1 trade viewers of B", participantIds: [b.participant.id], roleCodes: ["trade_info_viewer"], deadline: hkDateIn(clock, 2), deadlinePolicy: "flag" });
      jobsCampaign = await openCampaign(compliance, { name: "Q1 review of J", participantIds: [j.participant.id], deadline: hkDateIn(clock, 2), deadlinePolicy: "revoke" });

      const list = await items(compliance, campaign.id);
      expect(list.map((i) => `${i.userName}/${i.roleCode}`).sort()).toEqual(
        [`${a.maker.actor.displayName}/da_maker`, `${a.checker.actor.displayName}/da_checker`, "Second Checker/da_checker", "Una One/trade_info_viewer", "Una One/si_maker", "Uma Two/ref_data_viewer"].sort(),
      );
      expect((await items(compliance, flagCampaign.id)).map((i) => i.userId).sort()).toEqual([bUser, bLeaver].sort());
      expect(await items(compliance, jobsCampaign.id)).toHaveLength(4 * 2 + 2);

      const opened = (await auditEventsSince(use().db, mark)).filter((e) => e.action === "review.campaign.opened");
      expect(opened.map((e) => [e.entityId, e.metadata?.items])).toEqual([
        [campaign.id, 6],
        [flagCampaign.id, 2],
        [jobsCampaign.id, 10],
      ]);
    });

    it("shows a participant administrator only the campaigns and items of their participant", async () => {
      expect((await listCampaigns(b.checker)).map((c) => c.id)).toEqual([flagCampaign.id]);
      await refusal(getCampaign(b.checker, campaign.id), 404);
      expect(new Set((await items(b.maker, flagCampaign.id)).map((i) => i.participantId))).toEqual(new Set([b.participant.id]));
      expect((await listCampaigns(compliance)).map((c) => c.id).sort()).toEqual([campaign.id, flagCampaign.id, jobsCampaign.id].sort());
    });
  });

  describe("deciding", () => {
    it("is for the participant's own administrators, never compliance, never another participant's", async () => {
      const item = itemOf(await items(compliance, campaign.id), u2, "ref_data_viewer");
      await refusal(decideItem(compliance, { itemId: item.id, decision: "keep" }), 403, "review.error.reviewersOnly");
      await refusal(decideItem(b.checker, { itemId: item.id, decision: "revoke", comment: "Not my firm at all" }), 404);
      await refusal(decideItem(a.checker, { itemId: "no-such-item", decision: "keep" }), 404);
    });

    it("never lets anyone review their own access", async () => {
      const list = await items(compliance, campaign.id);
      await refusal(decideItem(a.checker, { itemId: itemOf(list, a.checker.actor.userId!, "da_checker").id, decision: "keep" }), 403, "review.error.ownAccess");
      await refusal(decideItem(a.maker, { itemId: itemOf(list, a.maker.actor.userId!, "da_maker").id, decision: "keep" }), 403, "review.error.ownAccess");
    });

    it("asks a reason for a revocation", async () => {
      const item = itemOf(await items(compliance, campaign.id), u1, "si_maker");
      const error = await refusal(decideItem(a.checker, { itemId: item.id, decision: "revoke", comment: "no" }), 400);
      expect(error.fieldErrors).toEqual({ comment: "review.error.commentRequired" });
      expect((await grantOf(item.grantId!)).status).toBe("active");
    });

    it("revokes through the normal path: the grant ends, the role is gone, and both events are recorded", async () => {
      const { db } = use();
      const item = itemOf(await items(compliance, campaign.id), u1, "si_maker");
      const mark = await lastAuditId(db);
      const decided = await decideItem(a.checker, { itemId: item.id, decision: "revoke", comment: "Left the SI team in March." });
      expect(decided).toMatchObject({ decision: "revoke", decidedBy: a.checker.actor.userId });
      expect(await grantOf(item.grantId!)).toMatchObject({ status: "revoked", revokedBy: a.checker.actor.userId, revokeReason: 'Access review "Q1 review of A": Left the SI team in March.' });
      expect((await heldRoleCodes(db, u1, clock.current())).sort()).toEqual(["trade_info_viewer"]);
      const events = await auditEventsSince(db, mark);
      expect(events.map((e) => e.action)).toEqual(["role.grant.revoked", "review.item.revoked"]);
      expect(events[0]).toMatchObject({ entityType: "role_grant", entityId: item.grantId, participantId: a.participant.id, actorUserId: a.checker.actor.userId, metadata: { userId: u1, roleCode: "si_maker" } });
      expect(events[1]).toMatchObject({ entityType: "review_item", entityId: item.id, reason: "Left the SI team in March.", metadata: { campaignId: campaign.id, grantId: item.grantId } });
      expect(events[0]!.requestId).toBe(events[1]!.requestId);
      await refusal(decideItem(secondChecker, { itemId: item.id, decision: "keep" }), 409, "review.error.alreadyDecided");
    });

    it("keeps the last administrator rule: the only DA maker cannot be revoked by a review", async () => {
      const { db } = use();
      const item = itemOf(await items(compliance, campaign.id), a.maker.actor.userId!, "da_maker");
      const mark = await lastAuditId(db);
      await refusal(decideItem(secondChecker, { itemId: item.id, decision: "revoke", comment: "Testing the last maker rule" }), 400, "access.refused.lastAdministrator");
      expect((await grantOf(item.grantId!)).status).toBe("active");
      expect(itemOf(await items(compliance, campaign.id), a.maker.actor.userId!, "da_maker").decision).toBeNull();
      expect(await auditEventsSince(db, mark)).toEqual([]);
    });

    it("takes away a second checker's persona, and then the remaining checker is the last one", async () => {
      const { db } = use();
      const list = await items(compliance, campaign.id);
      const second = itemOf(list, secondChecker.actor.userId!, "da_checker");
      expect(await consolePersonasOf(db, secondChecker.actor.userId!, clock.current())).toEqual(["da_checker"]);
      await decideItem(a.checker, { itemId: second.id, decision: "revoke", comment: "One checker is enough for this desk." });
      expect(await consolePersonasOf(db, secondChecker.actor.userId!, clock.current())).toEqual([]);
      // Without the persona, no more reviewing.
      const stripped = await contextFor(db, secondChecker.actor.email!);
      await refusal(decideItem(stripped, { itemId: itemOf(list, u2, "ref_data_viewer").id, decision: "keep" }), 404);

      const first = itemOf(list, a.checker.actor.userId!, "da_checker");
      await refusal(decideItem(a.maker, { itemId: first.id, decision: "revoke", comment: "Testing the last checker rule" }), 400, "access.refused.lastAdministrator");
      expect((await grantOf(first.grantId!)).status).toBe("active");
    });

    it("records a keep", async () => {
      const item = itemOf(await items(compliance, campaign.id), u2, "ref_data_viewer");
      await decideItem(a.maker, { itemId: item.id, decision: "keep", comment: "Still on the reference-data desk." });
      expect((await grantOf(item.grantId!)).status).toBe("active");
      const summary = (await getCampaign(compliance, campaign.id)).campaign;
      expect(summary).toMatchObject({ total: 6, decided: 3, kept: 1, revoked: 2, flagged: 0 });
    });
  });

  describe("closing", () => {
    it("waits for the deadline, and is for compliance (or the jobs runner) only", async () => {
      await refusal(closeCampaign(compliance, { campaignId: campaign.id }), 400, "review.error.beforeDeadline");
      expect(await dueCampaigns(use().db)).toEqual([]);
      clock.advance(3 * DAY);
      await refusal(closeCampaign(a.checker, { campaignId: campaign.id }), 403);
      expect((await dueCampaigns(use().db)).sort()).toEqual([campaign.id, flagCampaign.id, jobsCampaign.id].sort());
    });

    it("with the revoke policy: undecided items are revoked, except what the last-administrator rule keeps (flagged)", async () => {
      const { db } = use();
      const before = await items(compliance, campaign.id);
      const mark = await lastAuditId(db);
      const closed = await closeCampaign(compliance, { campaignId: campaign.id });
      expect(closed).toMatchObject({ status: "closed" });

      const after = await items(compliance, campaign.id);
      const outcome = (userId: string, roleCode: string) => itemOf(after, userId, roleCode).outcome;
      expect(outcome(u1, "si_maker")).toBe("revoked");
      expect(outcome(secondChecker.actor.userId!, "da_checker")).toBe("revoked");
      expect(outcome(u2, "ref_data_viewer")).toBe("kept");
      expect(outcome(u1, "trade_info_viewer")).toBe("auto_revoked");
      expect(outcome(a.maker.actor.userId!, "da_maker")).toBe("flagged");
      expect(outcome(a.checker.actor.userId!, "da_checker")).toBe("flagged");

      // Auto-revoked through the normal path; the last administrators keep their roles.
      expect(await grantOf(itemOf(before, u1, "trade_info_viewer").grantId!)).toMatchObject({ status: "revoked", revokedBy: null });
      expect(await heldRoleCodes(db, u1, clock.current())).toEqual([]);
      expect(await heldRoleCodes(db, a.maker.actor.userId!, clock.current())).toEqual(["da_maker"]);
      expect(await heldRoleCodes(db, a.checker.actor.userId!, clock.current())).toEqual(["da_checker"]);
      expect(await heldRoleCodes(db, u2, clock.current())).toEqual(["ref_data_viewer"]);

      const events = await auditEventsSince(db, mark);
      expect(events.map((e) => e.action).sort()).toEqual(["review.campaign.closed", "review.item.auto_revoked", "review.item.flagged", "review.item.flagged", "role.grant.revoked"].sort());
      expect(events.find((e) => e.action === "role.grant.revoked")).toMatchObject({ entityId: itemOf(before, u1, "trade_info_viewer").grantId, actorPersona: "system", actorUserId: null });

      // The report adds up.
      const summary = (await getCampaign(compliance, campaign.id)).campaign;
      expect(summary).toMatchObject({ status: "closed", total: 6, decided: 3, kept: 1, revoked: 3, flagged: 2, ended: 0 });
      expect(summary.kept + summary.revoked + summary.flagged).toBe(summary.total);

      await refusal(closeCampaign(compliance, { campaignId: campaign.id }), 409, "review.error.closed");
      await refusal(decideItem(a.checker, { itemId: itemOf(after, a.maker.actor.userId!, "da_maker").id, decision: "keep" }), 409, "review.error.closed");
    });

    it("with the flag policy: undecided items are flagged and the grants kept; a grant ended meanwhile is said to be", async () => {
      const { db } = use();
      const list = await items(compliance, flagCampaign.id);
      await revokeGrant(b.checker, { grantId: itemOf(list, bLeaver, "trade_info_viewer").grantId!, reason: "Left the firm before the review." });
      // Closed by the jobs runner below, with the J campaign; here only what it leaves.
      const result = await runJobs(db);
      expect(result.campaignsClosed).toBe(2);
      const after = await items(compliance, flagCampaign.id);
      expect(itemOf(after, bUser, "trade_info_viewer").outcome).toBe("flagged");
      expect(itemOf(after, bLeaver, "trade_info_viewer").outcome).toBe("already_ended");
      expect(await heldRoleCodes(db, bUser, clock.current())).toEqual(["trade_info_viewer"]);
      const summary = (await getCampaign(compliance, flagCampaign.id)).campaign;
      expect(summary).toMatchObject({ status: "closed", total: 2, decided: 0, flagged: 1, kept: 0, revoked: 0, ended: 1 });
      expect(summary.kept + summary.revoked + summary.flagged + summary.ended).toBe(summary.total);
      // J's campaign: every undecided grant revoked by its policy, but for the last maker and the last checker.
      const jobs = (await getCampaign(compliance, jobsCampaign.id)).campaign;
      expect(jobs).toMatchObject({ status: "closed", total: 10, revoked: 8, flagged: 2, kept: 0, ended: 0 });
      expect((await runJobs(db)).campaignsClosed).toBe(0);
    });
  });

  describe("the jobs runner", () => {
    it("closes each due campaign exactly once when two runners start together", async () => {
      const { db, kind, url } = use();
      const firm = await createFirm(db);
      for (let i = 0; i < 3; i++) await firm.addUser(["trade_info_viewer", "si_status_subscriber"]);
      const opened = [
        await openCampaign(compliance, { name: "Race 1", participantIds: [firm.participant.id], roleCodes: ["trade_info_viewer"], deadline: hkDateIn(clock, 1), deadlinePolicy: "revoke" }),
        await openCampaign(compliance, { name: "Race 2", participantIds: [firm.participant.id], roleCodes: ["si_status_subscriber"], deadline: hkDateIn(clock, 1), deadlinePolicy: "flag" }),
        await openCampaign(compliance, { name: "Race 3", participantIds: [firm.participant.id], roleCodes: ["da_maker", "da_checker"], deadline: hkDateIn(clock, 1), deadlinePolicy: "revoke" }),
      ];
      clock.advance(2 * DAY);
      const ids = opened.map((c) => c.id);
      const mark = await lastAuditId(db);

      // On PostgreSQL each runner has its own pool, as two server processes would; PGlite has one connection.
      const pools: DatabaseHandle[] = kind === "postgres" ? [openDatabase({ databaseUrl: url!, maxConnections: 2 }), openDatabase({ databaseUrl: url!, maxConnections: 2 })] : [];
      try {
        const runners = pools.length ? pools.map((p) => p.db) : [db, db];
        const results = await Promise.all(runners.map((runnerDb) => runJobs(runnerDb)));
        expect(results.reduce((n, r) => n + r.campaignsClosed, 0)).toBe(3);
      } finally {
        await Promise.all(pools.map((p) => p.close()));
      }

      const events = (await auditEventsSince(db, mark)).filter((e) => e.action === "review.campaign.closed");
      expect(events.map((e) => e.entityId).sort()).toEqual([...ids].sort());
      const outcomes = await db.select().from(reviewItems).where(inArray(reviewItems.campaignId, ids));
      expect(outcomes.every((i) => i.outcome !== null)).toBe(true);
      // Every auto-revocation happened once: one revocation event for each auto-revoked item.
      const autoRevoked = outcomes.filter((i) => i.outcome === "auto_revoked");
      expect(autoRevoked).toHaveLength(3);
      const revocations = await db
        .select()
        .from(auditEvents)
        .where(and(eq(auditEvents.action, "role.grant.revoked"), inArray(auditEvents.entityId, autoRevoked.map((i) => i.grantId!))));
      expect(revocations).toHaveLength(autoRevoked.length);
      // The firm's only maker and only checker stay, flagged.
      expect(outcomes.filter((i) => ["da_maker", "da_checker"].includes(i.roleCode ?? "")).map((i) => i.outcome).sort()).toEqual(["flagged", "flagged"]);
      expect(outcomes.filter((i) => i.roleCode === "si_status_subscriber").map((i) => i.outcome)).toEqual(["flagged", "flagged", "flagged"]);
      expect((await runJobs(db)).campaignsClosed).toBe(0);
    });
  });
});
