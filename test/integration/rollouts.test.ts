import { generateKeyPairSync, createHash } from "node:crypto";
import { and, eq, sql } from "drizzle-orm";
import { SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { mailOutbox, reviewItems, rolloutSnapshots, roleGrants, users } from "../../db/schema";
import { AppError } from "../../app/lib/errors";
import { formatHongKongTime, translator } from "../../app/i18n/messages";
import { verifyAuditChains } from "../../app/modules/audit/service.server";
import type { ServiceContext } from "../../app/modules/context.server";
import { POP_AUDIENCE } from "../../app/modules/credentials/claim-rules";
import { createClient, decideClient, issueChallenge, registerKey, revokeKey } from "../../app/modules/credentials/service.server";
import { runJobs } from "../../app/modules/jobs/service.server";
import { closeCampaign, decideItem, openCampaign } from "../../app/modules/reviews/service.server";
import { hongKongDayPlus } from "../../app/lib/hong-kong-time";
import { decideRequest, requestGrant, resetRolesToBaseline, revokeGrant } from "../../app/modules/roles/service.server";
import { carryOverAt } from "../../app/modules/rollouts/carry-over.server";
import { verificationAttendedCheck } from "../../app/modules/rollouts/readiness-check.server";
import { diffCarryOver, type DiffEntry, type SnapshotContent } from "../../app/modules/rollouts/rules";
import {
  confirmChecklist,
  confirmResult,
  createRollout,
  dueSnapshots,
  decideFallback,
  decideFreezeException,
  endStabilisation,
  moveRolloutMilestone,
  proposeFallback,
  recordResult,
  requestFreezeException,
  takeSnapshot,
} from "../../app/modules/rollouts/service.server";
import { getDashboard, getParticipantRollout, listRollouts, rolloutReadinessOf, snapshotSealed } from "../../app/modules/rollouts/views.server";
import { changeUserStatus, createUser } from "../../app/modules/users/service.server";
import { contextFor } from "../factories";
import { auditEventsSince, lastAuditId } from "../support/audit";
import { describeEachDatabase } from "../support/databases";

/**
 * Rollout readiness (SPEC §7, issue 12), on both databases: the carry-over snapshot is sealed once, immutable, and
 * its digest verifies against its content and the audit chain; the diff against today is right after random
 * changes; the cutoff job run twice or by several processes at once makes one snapshot; a participant's
 * administrator sees only its own participant; confirmations, freeze exceptions and the fallback decision take four
 * eyes; every change is audited; step 7's check follows readiness.
 */

const B = "B01234";
const C = "C00123";
const D = "D00456";
const E = "E00789";

async function refusal(promise: Promise<unknown>): Promise<AppError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AppError);
  return error as AppError;
}

/** A small seeded generator, so a failing sequence of changes reproduces. */
function prng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

// Runs on PostgreSQL and PGlite alike (the issue asks for both): the snapshot's trigger, the unique key under
// concurrency and the canonical JSON round trip are exactly where the two could differ.
describeEachDatabase("rollouts", { demo: true, compatibility: true }, (use) => {
  let officer: ServiceContext;
  let officer2: ServiceContext;
  let makerB: ServiceContext;
  let checkerB: ServiceContext;
  let makerC: ServiceContext;
  let counter = 0;

  const hours = (h: number) => new Date(Date.now() + h * 3600 * 1000).toISOString();
  const inVerification = async (participantIds: string[], serviceCodes = ["reference_data"]) =>
    createRollout(officer, {
      name: `Wave ${++counter}`,
      serviceCodes,
      participantIds,
      cutoffDay: hongKongDayPlus(new Date(), -3),
      conversionDay: hongKongDayPlus(new Date(), -2),
      verificationStart: hours(-1),
      verificationEnd: hours(30),
      launchDay: hongKongDayPlus(new Date(), 4),
    });
  const carriedOverOnly = async (participantIds: string[]) =>
    createRollout(officer, {
      name: `Carried over ${++counter}`,
      serviceCodes: ["reference_data"],
      participantIds,
      cutoffDay: hongKongDayPlus(new Date(), -3),
      conversionDay: hongKongDayPlus(new Date(), -2),
      verificationStart: hours(24),
      verificationEnd: hours(30),
      launchDay: hongKongDayPlus(new Date(), 4),
    });
  const inStabilisation = async (participantIds: string[]) =>
    createRollout(officer, {
      name: `Launched ${++counter}`,
      serviceCodes: ["reference_data"],
      participantIds,
      cutoffDay: hongKongDayPlus(new Date(), -8),
      conversionDay: hongKongDayPlus(new Date(), -7),
      verificationStart: hours(-6 * 24),
      verificationEnd: hours(-6 * 24 + 3),
      launchDay: hongKongDayPlus(new Date(), -3),
    });

  async function newKey(clientId: string, clientCode: string, actor = makerB) {
    const { nonce } = await issueChallenge(actor, { clientId });
    const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const proof = await new SignJWT({ nonce }).setProtectedHeader({ alg: "ES256" }).setAudience(POP_AUDIENCE).setSubject(clientCode).setIssuedAt().setExpirationTime("10m").sign(privateKey);
    const expiresOn = new Date(Date.now() + 200 * 24 * 3600 * 1000).toISOString().slice(0, 10);
    return registerKey(actor, { clientId, publicKey: publicKey.export({ type: "spki", format: "pem" }).toString(), proof, nonce, expiresOn });
  }

  beforeAll(async () => {
    const { db } = use();
    officer = await contextFor(db, "officer@hkex.demo");
    officer2 = await contextFor(db, "officer2@hkex.demo");
    makerB = await contextFor(db, "maker@b01234.demo");
    checkerB = await contextFor(db, "checker@b01234.demo");
    makerC = await contextFor(db, "maker@c00123.demo");
  });

  it("the demo's wave, in its verification session: C00123 ready, E00789 and D00456 not, and step 7 checks say so", async () => {
    const { db } = use();
    const [wave] = await listRollouts(officer);
    expect(wave).toMatchObject({ name: "OCP go-live, wave 1", phase: "verification", participants: 3 });
    const dashboard = await getDashboard(officer, wave!.id);
    expect(dashboard.rows.map((r) => [r.participantId, r.readiness.reasons])).toEqual([
      [C, []],
      [D, ["no_result", "checklist_open"]],
      [E, ["no_result", "failed", "checklist_open", "exception_pending"]],
    ]);
    expect(dashboard.counts).toMatchObject({ ready: 1, failed: 1, no_result: 2, checklist_open: 2, exception_pending: 1, no_snapshot: 0 });
    expect((await verificationAttendedCheck(db, D)).outcome).toBe("fail");
    expect((await verificationAttendedCheck(db, C)).outcome).toBe("pass");
    expect((await verificationAttendedCheck(db, "A00003")).outcome).toBe("manual");
    // The maker-checker walkthrough's participant is not in the wave: nothing of B01234 is frozen.
    expect((await verificationAttendedCheck(db, B)).outcome).toBe("manual");
  });

  describe("the carry-over snapshot", () => {
    it("is sealed once: its digest is the SHA-256 of its canonical JSON, the audit chain carries it, and the database refuses any change", async () => {
      const { db } = use();
      const rollout = await inVerification([B, C]);
      const mark = await lastAuditId(db);
      const { snapshot, created } = await takeSnapshot(officer, { rolloutId: rollout.id, participantId: B });
      expect(created).toBe(true);
      expect(snapshot.digest).toBe(createHash("sha256").update(snapshot.content, "utf8").digest("hex"));
      const content = JSON.parse(snapshot.content) as SnapshotContent;
      expect(content.participantId).toBe(B);
      expect(content.users.map((u) => u.email)).toContain("maker@b01234.demo");
      expect(content.grants.some((g) => g.roleCode === "da_maker")).toBe(true);
      const events = await auditEventsSince(db, mark);
      expect(events.map((e) => e.action)).toEqual(["rollout.snapshot.taken"]);
      expect(events[0]!.metadata).toMatchObject({ digest: snapshot.digest, rolloutId: rollout.id });
      expect(events[0]!.participantId).toBe(B);
      expect(await snapshotSealed(db, snapshot)).toBe(true);
      for (const report of await verifyAuditChains(db)) expect(report, report.chainKey).toMatchObject({ ok: true });

      await expect(db.execute(sql`update rollout_snapshots set content = '{}' where id = ${snapshot.id}`)).rejects.toThrow();
      await expect(db.execute(sql`delete from rollout_snapshots where id = ${snapshot.id}`)).rejects.toThrow();
      const [after] = await db.select().from(rolloutSnapshots).where(eq(rolloutSnapshots.id, snapshot.id));
      expect(after!.content).toBe(snapshot.content);
      // Tampering that got past the trigger would show: another content does not hash to the digest.
      expect(await snapshotSealed(db, { ...snapshot, content: snapshot.content.replace("maker@b01234.demo", "mallory@b01234.demo") })).toBe(false);

      // Asked again: the same snapshot, nothing recorded.
      const again = await lastAuditId(db);
      const second = await takeSnapshot(officer, { rolloutId: rollout.id, participantId: B });
      expect(second).toMatchObject({ created: false, snapshot: { id: snapshot.id } });
      expect(await auditEventsSince(db, again)).toEqual([]);
    });

    it("is not taken before the cutoff", async () => {
      const rollout = await createRollout(officer, {
        name: `Future ${++counter}`,
        serviceCodes: ["si_status"],
        participantIds: [B],
        cutoffDay: hongKongDayPlus(new Date(), 5),
        conversionDay: hongKongDayPlus(new Date(), 6),
        verificationStart: `${hongKongDayPlus(new Date(), 7)}T09:00`,
        verificationEnd: `${hongKongDayPlus(new Date(), 7)}T12:00`,
        launchDay: hongKongDayPlus(new Date(), 8),
      });
      expect((await refusal(takeSnapshot(officer, { rolloutId: rollout.id, participantId: B }))).status).toBe(409);
    });

    it("the cutoff job run twice, or by several processes at once, makes one snapshot per participant", async () => {
      const { db } = use();
      const rollout = await inVerification([B, C, D]);
      const mark = await lastAuditId(db);
      const due = (await dueSnapshots(db, new Date())).length;
      const results = await Promise.all([runJobs(db), runJobs(db), runJobs(db)]);
      const again = await runJobs(db);
      expect(results.reduce((n, r) => n + r.rolloutSnapshots, 0)).toBe(due);
      expect(again.rolloutSnapshots).toBe(0);
      const rows = await db.select().from(rolloutSnapshots).where(eq(rolloutSnapshots.rolloutId, rollout.id));
      expect(rows.map((r) => r.participantId).sort()).toEqual([B, C, D]);
      const sealed = (await auditEventsSince(db, mark)).filter((e) => e.action === "rollout.snapshot.taken" && (e.metadata as { rolloutId?: string }).rolloutId === rollout.id);
      expect(sealed).toHaveLength(3);
      // And by an officer at the same moment as the job: still one.
      const other = await inVerification([B]);
      const [first, second, job] = await Promise.all([takeSnapshot(officer, { rolloutId: other.id, participantId: B }), takeSnapshot(officer2, { rolloutId: other.id, participantId: B }), runJobs(db)]);
      expect([first.created, second.created].filter(Boolean).length + job.rolloutSnapshots).toBe(1);
      expect(await db.select().from(rolloutSnapshots).where(eq(rolloutSnapshots.rolloutId, other.id))).toHaveLength(1);
    });
  });

  describe("the diff against today", () => {

    it("names exactly the changes made since the cutoff, after a random sequence of them", async () => {
      const { db } = use();
      const client = await createClient(makerB, { participantId: B, environment: "simulator", name: `Diff client ${++counter}`, ownerUserId: makerB.actor.userId! });
      const firstKey = await newKey(client.id, client.clientId);
      // Someone to remove and roles to lose, present at the cutoff.
      const leaverEmail = `leaver-${counter}@harbourview.example`;
      const { user: leaver, requests } = await createUser(makerB, { participantId: B, email: leaverEmail, displayName: "Leaver", roles: ["trade_info_viewer"] });
      const { user: stayer, requests: stayerRequests } = await createUser(makerB, { participantId: B, email: `stayer-${counter}@harbourview.example`, displayName: "Stayer", roles: ["si_checker"] });
      for (const requestId of [...requests, ...stayerRequests]) await decideRequest(checkerB, { requestId, decision: "approve", comment: "Form on file" });

      // Past its cutoff, before its verification session: the diff is there, the freeze not yet.
      const rollout = await carriedOverOnly([B]);
      await takeSnapshot(officer, { rolloutId: rollout.id, participantId: B });

      // The model: what each change must show as.
      const expected: { kind: DiffEntry["kind"]; ref: string }[] = [];
      const random = prng(20261202);
      const present = async () => (await db.select({ id: users.id, version: users.version, status: users.status }).from(users).where(eq(users.participantId, B))).filter((u) => u.status !== "deactivated");
      let keys = [firstKey.id];
      let left = false;
      for (let step = 0; step < 8; step++) {
        const pick = Math.floor(random() * 4);
        if (pick === 0) {
          const { user } = await createUser(makerB, { participantId: B, email: `joiner-${counter}-${step}@harbourview.example`, displayName: `Joiner ${step}` });
          expected.push({ kind: "user_joined", ref: user.id });
        } else if (pick === 1) {
          const key = await newKey(client.id, client.clientId);
          keys.push(key.id);
          expected.push({ kind: "key_added", ref: key.id });
        } else if (pick === 2 && keys.length > 0) {
          const keyId = keys[Math.floor(random() * keys.length)]!;
          keys = keys.filter((k) => k !== keyId);
          await revokeKey(makerB, { keyId, reason: "Retired in the test" });
          // A key added after the cutoff and revoked again leaves no trace in the diff.
          const i = expected.findIndex((e) => e.ref === keyId);
          if (i >= 0) expected.splice(i, 1);
          else expected.push({ kind: "key_revoked", ref: keyId });
        } else if (!left) {
          left = true;
          const target = (await present()).find((u) => u.id === leaver.id)!;
          await changeUserStatus(makerB, { userId: leaver.id, action: "deactivate", version: target.version, reason: "Left the firm" });
          expected.push({ kind: "user_left", ref: leaver.id });
        } else {
          // A role lost by someone who stays (once).
          const [grant] = await db
            .select()
            .from(roleGrants)
            .where(and(eq(roleGrants.userId, stayer.id), eq(roleGrants.status, "active"), eq(roleGrants.roleCode, "si_checker")));
          if (grant) {
            await revokeGrant(checkerB, { grantId: grant.id, reason: "Moved desk in the test" });
            expected.push({ kind: "role_lost", ref: `${grant.userId}/si_checker` });
          }
        }
      }
      expect(new Set(expected.map((e) => e.kind)).size, "the sequence exercised several kinds of change").toBeGreaterThanOrEqual(3);
      const page = await getParticipantRollout(officer, rollout.id, B);
      const got = page.diff.map((d) => ({ kind: d.kind, ref: d.ref }));
      const order = (a: { kind: string; ref: string }, b: { kind: string; ref: string }) => `${a.kind}${a.ref}`.localeCompare(`${b.kind}${b.ref}`);
      expect(got.sort(order)).toEqual([...expected].sort(order));
      // The page's diff is the pure rule applied to the sealed content and today's state.
      expect(diffCarryOver(page.snapshot!.parsed, await carryOverAt(db, B, new Date())).length).toBe(page.diff.length);
    });
  });

  describe("the change freeze on carried-over production credentials", () => {
    it("refuses a key change of a carried-over production client until an officer approves an exception, which then is used up", async () => {
      const { db } = use();
      const checkerC = await contextFor(db, "checker@c00123.demo");
      const client = await createClient(makerC, { participantId: C, environment: "production", name: `Go-live client ${++counter}`, ownerUserId: makerC.actor.userId! });
      await decideClient(checkerC, { clientId: client.id, decision: "approve" });
      const first = await newKey(client.id, client.clientId, makerC);
      const rollout = await inVerification([C]);
      await takeSnapshot(officer, { rolloutId: rollout.id, participantId: C });
      const refused = await refusal(revokeKey(makerC, { keyId: first.id, reason: "Rotating during the freeze" }));
      expect(refused).toMatchObject({ status: 409, messageKey: "rollout.error.frozen" });
      expect((await refusal(newKey(client.id, client.clientId, makerC))).messageKey).toBe("rollout.error.frozen");
      const exception = await requestFreezeException(makerC, { rolloutId: rollout.id, participantId: C, kind: "key_rotation", subjectRef: client.clientId, reason: "The key was exposed on a laptop" });
      expect((await refusal(revokeKey(makerC, { keyId: first.id, reason: "Still waiting for the officer" }))).messageKey).toBe("rollout.error.frozen");
      await decideFreezeException(officer, { exceptionId: exception.id, approve: true });
      const mark = await lastAuditId(db);
      await revokeKey(makerC, { keyId: first.id, reason: "Exposed key, exception approved" });
      expect((await auditEventsSince(db, mark)).map((e) => e.action)).toEqual(["rollout.freeze_exception.used", "credential.key.revoked"]);
      // Used up: the next change needs another exception.
      expect((await refusal(newKey(client.id, client.clientId, makerC))).messageKey).toBe("rollout.error.frozen");
      // A simulator client is not frozen.
      const simulator = await createClient(makerC, { participantId: C, environment: "simulator", name: `Sim ${counter}`, ownerUserId: makerC.actor.userId! });
      await newKey(simulator.id, simulator.clientId, makerC);
    });
  });

  describe("the change freeze on carried-over logins", () => {
    /** A login of B01234 with roles approved (maker asks, checker approves), present before the cutoff it is sealed at. */
    async function loginWithRoles(name: string, roles: string[]) {
      const { db } = use();
      const { user, requests } = await createUser(makerB, { participantId: B, email: `${name.toLowerCase().replaceAll(" ", ".")}-${++counter}@harbourview.example`, displayName: name, roles });
      for (const requestId of requests) await decideRequest(checkerB, { requestId, decision: "approve", comment: "Form on file" });
      const grants = await db.select().from(roleGrants).where(and(eq(roleGrants.userId, user.id), eq(roleGrants.status, "active")));
      return { user, grants };
    }
    const versionOf = async (userId: string) => (await use().db.select({ version: users.version }).from(users).where(eq(users.id, userId)))[0]!.version;

    it("refuses role and status changes of a carried-over login during the freeze, naming the rollout and its window, and changes nothing", async () => {
      const { db } = use();
      const { user, grants } = await loginWithRoles("Frozen", ["trade_info_viewer", "si_maker"]);
      const rollout = await inVerification([B]);
      await takeSnapshot(officer, { rolloutId: rollout.id, participantId: B });
      const helpdesk = await contextFor(db, "helpdesk@hkex.demo");
      const pending = await requestGrant(makerB, { userId: user.id, roleCode: "ref_data_viewer" });
      const mark = await lastAuditId(db);
      const attempts = [
        () => revokeGrant(checkerB, { grantId: grants[0]!.id, reason: "Moved desk during the freeze" }),
        () => decideRequest(checkerB, { requestId: pending.id, decision: "approve", comment: "Form on file" }),
        async () => changeUserStatus(makerB, { userId: user.id, action: "suspend", version: await versionOf(user.id), reason: "On leave during the freeze" }),
        async () => changeUserStatus(makerB, { userId: user.id, action: "deactivate", version: await versionOf(user.id), reason: "Left during the freeze" }),
        () => resetRolesToBaseline(helpdesk, { userId: user.id, ticketRef: "INC-2026-0042", reason: "Reset asked by the firm" }),
      ];
      for (const attempt of attempts) {
        const error = await refusal(attempt());
        expect([error.status, error.messageKey]).toEqual([409, "rollout.error.frozenLogin"]);
        expect(error.params).toMatchObject({ rollout: rollout.name, login: user.email });
      }
      // What the reader is told, in each language: the login, the rollout and the window.
      const error = await refusal(revokeGrant(checkerB, { grantId: grants[0]!.id, reason: "Moved desk during the freeze" }));
      const en = translator("en")("rollout.error.frozenLogin", error.params);
      expect(en).toContain(rollout.name);
      expect(en).toContain(user.email);
      expect(en).toContain(formatHongKongTime(rollout.verificationStartAt, "en"));
      expect(en).toContain(hongKongDayPlus(rollout.stabilisationEndAt, 0));
      const zh = translator("zh-HK")("rollout.error.frozenLogin", error.params);
      expect(zh).toContain("變更凍結");
      expect(zh).toContain(formatHongKongTime(rollout.verificationStartAt, "zh-HK"));
      // Nothing changed and nothing was recorded.
      expect(await auditEventsSince(db, mark)).toEqual([]);
      expect((await db.select().from(roleGrants).where(and(eq(roleGrants.userId, user.id), eq(roleGrants.status, "active")))).length).toBe(2);
      expect((await db.select({ status: users.status }).from(users).where(eq(users.id, user.id)))[0]!.status).toBe("invited");
    });

    it("lets one change through with an approved four-eyes exception, which is then used up and audited, and the dashboard shows it", async () => {
      const { db } = use();
      const { user, grants } = await loginWithRoles("Excepted", ["trade_info_viewer", "si_maker"]);
      const rollout = await inVerification([B]);
      await takeSnapshot(officer, { rolloutId: rollout.id, participantId: B });
      // Named by the login's email, as the administrator types it.
      const exception = await requestFreezeException(makerB, { rolloutId: rollout.id, participantId: B, kind: "role_change", subjectRef: user.email.toUpperCase(), reason: "Moves to the settlement desk before launch" });
      expect((await refusal(revokeGrant(checkerB, { grantId: grants[0]!.id, reason: "Still waiting for the officer" }))).messageKey).toBe("rollout.error.frozenLogin");
      expect((await refusal(decideFreezeException(makerB, { exceptionId: exception.id, approve: true }))).status).toBe(403);
      await decideFreezeException(officer, { exceptionId: exception.id, approve: true });
      expect((await refusal(decideFreezeException(officer2, { exceptionId: exception.id, approve: true }))).status).toBe(409);
      const mark = await lastAuditId(db);
      await revokeGrant(checkerB, { grantId: grants[0]!.id, reason: "Moved desk, exception approved" });
      const events = await auditEventsSince(db, mark);
      expect(events.map((e) => e.action)).toEqual(["rollout.freeze_exception.used", "role.grant.revoked"]);
      expect(events[0]).toMatchObject({ entityId: exception.id, participantId: B, actorUserId: checkerB.actor.userId });
      expect(events[0]!.metadata).toMatchObject({ rolloutId: rollout.id, userId: user.id, kind: "role_change" });
      // Used once: the next change of the same login needs another exception.
      expect((await refusal(revokeGrant(checkerB, { grantId: grants[1]!.id, reason: "A second change" }))).messageKey).toBe("rollout.error.frozenLogin");
      const dashboard = await getDashboard(officer, rollout.id);
      expect(dashboard.exceptions.map((e) => [e.id, e.status])).toEqual([[exception.id, "used"]]);
      expect(dashboard.rows[0]!.readiness.reasons).not.toContain("exception_pending");

      // One exception lets a whole deactivation through: the status and the grants it ends.
      const second = await requestFreezeException(makerB, { rolloutId: rollout.id, participantId: B, kind: "role_change", subjectRef: user.id, reason: "Leaves the firm before launch" });
      await decideFreezeException(officer2, { exceptionId: second.id, approve: true });
      const before = await lastAuditId(db);
      await changeUserStatus(makerB, { userId: user.id, action: "deactivate", version: await versionOf(user.id), reason: "Left the firm" });
      const actions = (await auditEventsSince(db, before)).map((e) => e.action);
      expect(actions.filter((a) => a === "rollout.freeze_exception.used")).toHaveLength(1);
      expect(actions).toEqual(expect.arrayContaining(["user.deactivated", "role.grant.revoked"]));
      for (const report of await verifyAuditChains(db)) expect(report, report.chainKey).toMatchObject({ ok: true });
    });

    it("holds against an access review too: a revocation decided is refused, and the deadline's revoke policy flags the grant instead", async () => {
      const { db } = use();
      const { user, grants } = await loginWithRoles("Reviewed", ["trade_info_viewer", "si_maker"]);
      const rollout = await inVerification([B]);
      await takeSnapshot(officer, { rolloutId: rollout.id, participantId: B });
      const compliance = await contextFor(db, "compliance@hkex.demo");
      const campaign = await openCampaign(compliance, { name: `Freeze review ${++counter}`, participantIds: [B], roleCodes: ["si_maker"], deadline: hongKongDayPlus(new Date(), 7), deadlinePolicy: "revoke" });
      const items = await db.select().from(reviewItems).where(and(eq(reviewItems.campaignId, campaign.id), eq(reviewItems.userId, user.id)));
      expect(items).toHaveLength(1);
      const decided = await refusal(decideItem(checkerB, { itemId: items[0]!.id, decision: "revoke", comment: "No longer on the desk" }));
      expect([decided.status, decided.messageKey]).toEqual([409, "rollout.error.frozenLogin"]);
      // Past the deadline, undecided: the policy would revoke; the freeze holds, so the items are flagged for a person.
      await db.execute(sql`update review_campaigns set deadline = ${new Date(Date.now() - 3600 * 1000).toISOString()} where id = ${campaign.id}`);
      await closeCampaign(compliance, { campaignId: campaign.id });
      const outcomes = await db.select({ outcome: reviewItems.outcome }).from(reviewItems).where(and(eq(reviewItems.campaignId, campaign.id), eq(reviewItems.userId, user.id)));
      expect(outcomes.map((o) => o.outcome)).toEqual(["flagged"]);
      const still = await db.select().from(roleGrants).where(and(eq(roleGrants.userId, user.id), eq(roleGrants.status, "active")));
      expect(still.map((g) => g.id).sort()).toEqual(grants.map((g) => g.id).sort());
    });

    it("does not freeze logins added after the cutoff, nor before the verification session, nor after stabilisation ends", async () => {
      const { db } = use();
      const rollout = await inVerification([B]);
      await takeSnapshot(officer, { rolloutId: rollout.id, participantId: B });
      // Added after the cutoff: not carried over, so not frozen.
      const late = await loginWithRoles("Late joiner", ["trade_info_viewer"]);
      expect(late.grants).toHaveLength(1);
      await revokeGrant(checkerB, { grantId: late.grants[0]!.id, reason: "Joined after the cutoff" });
      await changeUserStatus(makerB, { userId: late.user.id, action: "suspend", version: await versionOf(late.user.id), reason: "Not carried over" });

      // Carried over by a rollout whose verification session has not started: not frozen yet.
      const early = await loginWithRoles("Early", ["trade_info_viewer"]);
      const planned = await carriedOverOnly([B]);
      await takeSnapshot(officer, { rolloutId: planned.id, participantId: B });
      await revokeGrant(checkerB, { grantId: early.grants[0]!.id, reason: "Before the session" });

      // Carried over by a rollout whose stabilisation HKEX has announced ended: released.
      const released = await loginWithRoles("Released", ["trade_info_viewer"]);
      const launched = await inStabilisation([B]);
      await takeSnapshot(officer, { rolloutId: launched.id, participantId: B });
      expect((await refusal(revokeGrant(checkerB, { grantId: released.grants[0]!.id, reason: "During stabilisation" }))).messageKey).toBe("rollout.error.frozenLogin");
      const proposal = await proposeFallback(officer, { rolloutId: launched.id, decision: "continue", reason: "No problem found" });
      await decideFallback(officer2, { decisionId: proposal.id, approve: true });
      await endStabilisation(officer, { rolloutId: launched.id, reason: "Circular: end of stabilisation" });
      const mark = await lastAuditId(db);
      await revokeGrant(checkerB, { grantId: released.grants[0]!.id, reason: "After the end" });
      expect((await auditEventsSince(db, mark)).map((e) => e.action)).toEqual(["role.grant.revoked"]);
    });
  });

  describe("tenancy", () => {
    it("shows a participant's administrator only its own participant's rollouts, snapshot and results; the rest answers 404", async () => {
      const { db } = use();
      const both = await inVerification([B, C]);
      const onlyB = await inVerification([B]);
      await takeSnapshot(officer, { rolloutId: both.id, participantId: B });
      await takeSnapshot(officer, { rolloutId: both.id, participantId: C });
      expect((await refusal(getParticipantRollout(makerC, both.id, B))).status).toBe(404);
      expect((await refusal(getDashboard(makerC, onlyB.id))).status).toBe(404);
      expect((await refusal(recordResult(makerC, { rolloutId: both.id, participantId: B, subjectKind: "service", subjectRef: "reference_data", outcome: "verified" }))).status).toBe(404);
      const result = await recordResult(makerB, { rolloutId: both.id, participantId: B, subjectKind: "service", subjectRef: "reference_data", outcome: "verified" });
      expect((await refusal(confirmResult(makerC, { resultId: result.id }))).status).toBe(404);
      const dashboard = await getDashboard(makerC, both.id);
      expect(dashboard.rows.map((r) => r.participantId)).toEqual([C]);
      const listed = (await listRollouts(makerC)).map((r) => r.id);
      expect(listed).toContain(both.id);
      expect(listed).not.toContain(onlyB.id);
      expect((await getParticipantRollout(makerC, both.id, C)).snapshot?.participantId).toBe(C);
      // Officer-only commands: 403 for a participant's administrator.
      expect((await refusal(moveRolloutMilestone(makerB, { rolloutId: both.id, milestone: "launchAt", to: hongKongDayPlus(new Date(), 6), reason: "Not mine to move" }))).status).toBe(403);
      expect(await db.select().from(rolloutSnapshots).where(eq(rolloutSnapshots.rolloutId, onlyB.id))).toHaveLength(0);
    });
  });

  describe("four eyes, readiness and the audit trail", () => {
    it("takes a participant from not ready to ready through recorded and confirmed results, and step 7's check follows", async () => {
      const { db } = use();
      const makerD = await contextFor(db, "da.maker@kowloonbay.example");
      const checkerD = await contextFor(db, "da.checker@kowloonbay.example");
      const rollout = await inVerification([D], ["trade_info"]);
      await takeSnapshot(officer, { rolloutId: rollout.id, participantId: D });
      const mark = await lastAuditId(db);
      const page = await getParticipantRollout(makerD, rollout.id, D);
      expect(page.readiness.reasons).toEqual(["no_result", "checklist_open"]);
      const failed = await refusal(recordResult(makerD, { rolloutId: rollout.id, participantId: D, subjectKind: "service", subjectRef: "trade_info", outcome: "failed" }));
      expect(failed.fieldErrors).toMatchObject({ reason: "rollout.error.failureReason" });
      const ids: string[] = [];
      for (const s of page.subjects) ids.push((await recordResult(makerD, { rolloutId: rollout.id, participantId: D, subjectKind: s.subjectKind, subjectRef: s.subjectRef, outcome: "verified", evidence: "JWT check passed" })).id);
      expect((await getParticipantRollout(officer, rollout.id, D)).readiness.reasons).toEqual(["no_result", "checklist_open"]);
      // The DA records, an officer confirms; the database itself refuses one person doing both.
      await expect(db.execute(sql`update rollout_results set confirmed_by = recorded_by, confirmed_at = now() where id = ${ids[0]!}`)).rejects.toThrow();
      for (const id of ids) await confirmResult(officer, { resultId: id });
      expect((await refusal(confirmResult(officer2, { resultId: ids[0]! }))).status).toBe(409);
      await confirmChecklist(checkerD, { rolloutId: rollout.id, participantId: D, items: ["standby_systems", "retained_credentials", "contact_person"], contactPerson: "Daisy Ho" });
      expect((await getParticipantRollout(officer, rollout.id, D)).readiness).toMatchObject({ ready: true, reasons: [] });
      // A freeze exception waiting makes it not ready again, until a second person decides it.
      const exception = await requestFreezeException(makerD, { rolloutId: rollout.id, participantId: D, kind: "key_rotation", subjectRef: "Trade feed", reason: "Key leaked on a laptop" });
      expect((await getDashboard(officer, rollout.id)).rows[0]!.readiness.reasons).toEqual(["exception_pending"]);
      await decideFreezeException(officer, { exceptionId: exception.id, approve: true });
      expect((await getDashboard(officer, rollout.id, "ready")).rows.map((r) => r.participantId)).toEqual([D]);
      expect((await rolloutReadinessOf(db, D)).outcome).toBe("pass");
      expect((await verificationAttendedCheck(db, D)).outcome).toBe("pass");
      // Recording again replaces the result and its confirmation no longer counts.
      await recordResult(makerD, { rolloutId: rollout.id, participantId: D, subjectKind: "service", subjectRef: "trade_info", outcome: "failed", reason: "Feed dropped after the session" });
      expect((await verificationAttendedCheck(db, D)).outcome).toBe("fail");

      const actions = (await auditEventsSince(db, mark)).map((e) => e.action);
      expect(actions.filter((a) => a === "rollout.result.recorded")).toHaveLength(ids.length + 1);
      expect(actions.filter((a) => a === "rollout.result.confirmed")).toHaveLength(ids.length);
      expect(actions).toEqual(expect.arrayContaining(["rollout.checklist.confirmed", "rollout.freeze_exception.requested", "rollout.freeze_exception.approved"]));
      for (const report of await verifyAuditChains(db)) expect(report, report.chainKey).toMatchObject({ ok: true });
    });

    it("moves a milestone only before it passes, with a reason, telling the administrators each in their language", async () => {
      const { db } = use();
      const rollout = await inVerification([B, C]);
      expect((await refusal(moveRolloutMilestone(officer, { rolloutId: rollout.id, milestone: "cutoffAt", to: hongKongDayPlus(new Date(), 1), reason: "Too late for that" }))).status).toBe(409);
      expect((await refusal(moveRolloutMilestone(officer, { rolloutId: rollout.id, milestone: "launchAt", to: hongKongDayPlus(new Date(), 6), reason: "" }))).status).toBe(400);
      expect((await refusal(moveRolloutMilestone(officer, { rolloutId: rollout.id, milestone: "verificationEndAt", to: `${hongKongDayPlus(new Date(), 9)}T12:00`, reason: "After launch is wrong" }))).status).toBe(400);
      const mark = await lastAuditId(db);
      const moved = await moveRolloutMilestone(officer, { rolloutId: rollout.id, milestone: "launchAt", to: hongKongDayPlus(new Date(), 6), reason: "Vendor needs two more days" });
      expect(moved.launchAt.getTime()).toBeGreaterThan(rollout.launchAt.getTime());
      const [event] = await auditEventsSince(db, mark);
      expect(event).toMatchObject({ action: "rollout.milestone.moved", reason: "Vendor needs two more days" });
      const mails = await db.select().from(mailOutbox).where(sql`${mailOutbox.metadata}->>'rolloutId' = ${rollout.id}`);
      expect(mails.map((m) => m.participantId).sort()).toEqual(expect.arrayContaining([B, C]));
      expect(mails[0]!.body).toContain("Vendor needs two more days");
      // The demo's administrators read English (test/integration/mail-language.test.ts has one who reads Chinese).
      expect(mails[0]!.body).toContain("Launch day");
      expect(mails[0]!.body).not.toContain("推出日");
    });

    it("records the fallback decision with four eyes, and ending stabilisation releases the freeze", async () => {
      const { db } = use();
      const rollout = await inStabilisation([B, C]);
      expect((await getDashboard(officer, rollout.id)).frozen).toBe(true);
      expect((await getDashboard(officer, rollout.id)).retained).toBe(true);
      const mark = await lastAuditId(db);
      const proposal = await proposeFallback(officer, { rolloutId: rollout.id, decision: "continue", reason: "No unrecoverable problem found" });
      expect((await refusal(decideFallback(officer, { decisionId: proposal.id, approve: true }))).messageKey).toBe("rollout.error.fourEyes");
      expect((await refusal(endStabilisation(officer, { rolloutId: rollout.id }))).status).toBe(409);
      await decideFallback(officer2, { decisionId: proposal.id, approve: true });
      expect((await getDashboard(officer, rollout.id)).rollout.fallbackDecision).toBe("continue");
      expect((await refusal(proposeFallback(officer, { rolloutId: rollout.id, decision: "invoke", reason: "Changed our mind" }))).status).toBe(409);
      await endStabilisation(officer2, { rolloutId: rollout.id, reason: "Circular: end of stabilisation" });
      const after = await getDashboard(officer, rollout.id);
      expect(after).toMatchObject({ phase: "ended", frozen: false, retained: false });
      expect((await refusal(requestFreezeException(makerB, { rolloutId: rollout.id, participantId: B, kind: "role_change", subjectRef: "x", reason: "After the end" }))).status).toBe(409);
      expect((await auditEventsSince(db, mark)).map((e) => e.action)).toEqual(["rollout.fallback.proposed", "rollout.fallback.approved", "rollout.stabilisation.ended"]);
      const mails = await db.select().from(mailOutbox).where(sql`${mailOutbox.metadata}->>'rolloutId' = ${rollout.id}`);
      expect(new Set(mails.map((m) => m.kind))).toEqual(new Set(["rollout_fallback_decided", "rollout_stabilisation_ended"]));
    });
  });
});
