import { eq, sql } from "drizzle-orm";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, type Database, type DatabaseHandle } from "../../db/client.server";
import { onboardingSteps, users } from "../../db/schema";
import { hashPassword } from "../../app/auth/password.server";
import { AppError } from "../../app/lib/errors";
import { verifyAuditChains } from "../../app/modules/audit/service.server";
import type { ServiceContext } from "../../app/modules/context.server";
import {
  addStepEntry,
  caseTimeline,
  getCase,
  getStep,
  myWork,
  pipelineBoard,
  runAutomaticSteps,
  transitionStep,
  updateStepPlan,
} from "../../app/modules/onboarding/service.server";
import { WORKFLOW } from "../../app/modules/onboarding/workflow";
import { translator } from "../../app/i18n/messages";
import { updateParticipant } from "../../app/modules/participants/service.server";
import { advanceCase, contextFor, createConsoleUser, type CaseActors } from "../factories";
import { describeEachDatabase } from "../support/databases";
import { HttpClient, startServer, type RunningServer } from "../support/server";
import {
  auditSince,
  hongKongDay,
  lastAuditId,
  newOfficer,
  participantRow,
  participantWithAdministrators,
  refusedWith,
  statesOf,
  TEST_PASSWORD,
  stepOf,
  type ParticipantWithAdministrators,
} from "../support/onboarding";

describeEachDatabase("onboarding case", (use) => {
  let olivia: ServiceContext;
  let owen: ServiceContext;
  let oscar: ServiceContext;
  let compliance: ServiceContext;
  /** Another participant, whose administrators must never reach the cases under test. */
  let outsider: ParticipantWithAdministrators;
  let n = 0;

  beforeAll(async () => {
    const { db } = use();
    olivia = await newOfficer(db, "olivia@hkex.test", "Olivia Officer");
    owen = await newOfficer(db, "owen@hkex.test", "Owen Officer");
    oscar = await newOfficer(db, "oscar@hkex.test", "Oscar Officer");
    await createConsoleUser(db, { email: "connie@hkex.test", displayName: "Connie Compliance", participantId: null, password: null, roleCodes: ["compliance_reviewer"] });
    compliance = await contextFor(db, "connie@hkex.test");
    outsider = await participantWithAdministrators(db, olivia, { id: "B01234", type: "GCP", nameEn: "Harbour View Securities Clearing" });
  });

  /** A fresh participant with its two administrators, registered by Olivia. */
  async function freshCase(
    overrides: Parameters<typeof participantWithAdministrators>[2] = {},
    options: Parameters<typeof participantWithAdministrators>[3] = {},
  ): Promise<ParticipantWithAdministrators & { id: string; actors: CaseActors }> {
    n++;
    const created = await participantWithAdministrators(use().db, olivia, { id: `C${String(10000 + n).padStart(5, "0")}`, ...overrides }, options);
    return { ...created, id: created.participant.id, actors: { officer: olivia, approver: owen, participant: created.maker } };
  }

  async function move(ctx: ServiceContext, participantId: string, stepKey: string, action: string, reason?: string) {
    const row = await stepOf(use().db, participantId, stepKey);
    return transitionStep(ctx, { participantId, stepKey, action, version: row.version, reason });
  }

  async function evidence(ctx: ServiceContext, participantId: string, stepKey: string) {
    await addStepEntry(ctx, { participantId, stepKey, kind: "evidence", body: `Signed form for ${stepKey}`, reference: `DOC-${stepKey}` });
  }

  /** What a refused call leaves behind: nothing. */
  async function expectUnchanged<T>(participantId: string, refused: () => Promise<T>) {
    const { db } = use();
    const steps = await db.select().from(onboardingSteps).where(eq(onboardingSteps.participantId, participantId));
    const participant = await participantRow(db, participantId);
    const before = await lastAuditId(db);
    const result = await refused();
    expect(await db.select().from(onboardingSteps).where(eq(onboardingSteps.participantId, participantId))).toEqual(steps);
    expect(await participantRow(db, participantId)).toEqual(participant);
    expect(await auditSince(db, before)).toEqual([]);
    return result;
  }

  describe("moving steps, persona by persona", () => {
    it("walks the application: an officer submits with evidence, another approves; the approval unlocks and sets the status", async () => {
      const { db } = use();
      const { id } = await freshCase();
      await move(olivia, id, "application", "start");
      await evidence(olivia, id, "application");
      const submitted = await move(olivia, id, "application", "submit");
      expect(submitted).toMatchObject({ state: "submitted", submittedBy: olivia.actor.userId });

      // Four eyes: the officer who submitted cannot approve or return it.
      await expectUnchanged(id, () => refusedWith(move(olivia, id, "application", "approve"), 403, "case.refused.fourEyes"));
      await expectUnchanged(id, () => refusedWith(move(olivia, id, "application", "return", "Second thoughts"), 403, "case.refused.fourEyes"));

      const before = await lastAuditId(db);
      const approved = await move(owen, id, "application", "approve");
      expect(approved).toMatchObject({ state: "approved", decidedBy: owen.actor.userId, submittedBy: olivia.actor.userId });
      expect(approved.decidedAt).toBeInstanceOf(Date);
      const nomination = await stepOf(db, id, "admin_nomination");
      expect(nomination).toMatchObject({ state: "ready", dueDate: hongKongDay(10) });
      expect((await participantRow(db, id))!.status).toBe("onboarding");

      const events = await auditSince(db, before);
      expect(events.map((e) => [e.action, e.entityId, e.changes])).toEqual([
        [
          "case.step.approved",
          `${id}/application`,
          { state: { before: "submitted", after: "approved" }, decidedBy: { before: null, after: owen.actor.userId } },
        ],
        ["case.step.unlocked", `${id}/admin_nomination`, { state: { before: "locked", after: "ready" }, dueDate: { before: null, after: hongKongDay(10) } }],
        ["participant.status.changed", id, { status: { before: "prospect", after: "onboarding" } }],
      ]);
      for (const e of events) expect(e).toMatchObject({ actorUserId: owen.actor.userId, actorPersona: "officer", requestId: owen.requestId, participantId: id });
    });

    it("refuses a participant administrator who tries to approve or return, with 403", async () => {
      const { id, actors, maker, checker } = await freshCase();
      await advanceCase(use().db, id, actors, "test_credentials", "submitted");
      for (const da of [maker, checker]) {
        await expectUnchanged(id, () => refusedWith(move(da, id, "test_credentials", "approve"), 403));
        await expectUnchanged(id, () => refusedWith(move(da, id, "test_credentials", "return", "Not good enough"), 403));
      }
    });

    it("refuses an officer who tries to work on the participant's step, and a participant on the officer's", async () => {
      const { id, actors, maker } = await freshCase();
      await expectUnchanged(id, () => refusedWith(move(maker, id, "application", "start"), 403, "case.refused.notYourStep"));
      await advanceCase(use().db, id, actors, "test_credentials", "ready");
      await expectUnchanged(id, () => refusedWith(move(olivia, id, "test_credentials", "start"), 403, "case.refused.notYourStep"));
      await move(maker, id, "test_credentials", "start");
      await evidence(maker, id, "test_credentials");
      await expectUnchanged(id, () => refusedWith(move(olivia, id, "test_credentials", "submit"), 403, "case.refused.notYourStep"));
    });

    it("refuses the compliance reviewer any move (read only)", async () => {
      const { id } = await freshCase();
      await expectUnchanged(id, () => refusedWith(move(compliance, id, "application", "start"), 403));
      expect((await getCase(compliance, id)).steps).toHaveLength(WORKFLOW.length);
    });

    it("answers 404, never 403, to B01234's administrator acting on another participant's case, for every call", async () => {
      const { id, actors } = await freshCase();
      await advanceCase(use().db, id, actors, "test_credentials", "submitted");
      const stranger = outsider.maker;
      for (const action of ["start", "submit", "approve", "return"]) {
        await expectUnchanged(id, () => refusedWith(move(stranger, id, "test_credentials", action, "Looks wrong to me"), 404, "error.notFound"));
      }
      await expectUnchanged(id, () =>
        refusedWith(addStepEntry(stranger, { participantId: id, stepKey: "test_credentials", kind: "evidence", body: "Planted" }), 404, "error.notFound"),
      );
      await expectUnchanged(id, () => refusedWith(updateStepPlan(stranger, { participantId: id, stepKey: "test_credentials", version: 1, dueDate: "2030-01-01" }), 404, "error.notFound"));
      await expectUnchanged(id, () => refusedWith(runAutomaticSteps(stranger, { participantId: id }), 404, "error.notFound"));
      await refusedWith(getCase(stranger, id), 404, "error.notFound");
      await refusedWith(getStep(stranger, id, "test_credentials"), 404, "error.notFound");
      await refusedWith(caseTimeline(stranger, id), 404, "error.notFound");
      // The same answer as for a participant that does not exist.
      await refusedWith(transitionStep(stranger, { participantId: "Z99999", stepKey: "test_credentials", action: "approve", version: 1 }), 404, "error.notFound");
      await refusedWith(getCase(stranger, "Z99999"), 404, "error.notFound");
    });
  });

  describe("refusals that leave the step as it was", () => {
    it("refuses to submit without evidence a step that requires it", async () => {
      const { id } = await freshCase();
      await move(olivia, id, "application", "start");
      await expectUnchanged(id, () => refusedWith(move(olivia, id, "application", "submit"), 400, "case.refused.evidenceRequired"));
      // A note is not evidence.
      await addStepEntry(olivia, { participantId: id, stepKey: "application", kind: "note", body: "Form to follow" });
      await expectUnchanged(id, () => refusedWith(move(olivia, id, "application", "submit"), 400, "case.refused.evidenceRequired"));
    });

    it("refuses to submit while an automatic check fails, naming it", async () => {
      const { id, actors, maker } = await freshCase();
      // Nobody holds a role for the subscribed services yet.
      await advanceCase(use().db, id, actors, "users_and_roles", "in_progress");
      const error = await expectUnchanged(id, () => refusedWith(move(maker, id, "users_and_roles", "submit"), 400, "case.refused.checksFailing"));
      expect(error.params).toEqual({ checks: "every subscribed service has a user", checksZh: "每項已訂閱的服務均有用戶" });
      const step = await getStep(maker, id, "users_and_roles");
      expect(step.checks).toEqual([
        expect.objectContaining({
          id: "services_covered",
          outcome: "fail",
          params: {
            services: "Real-time trade information, Reference data (participant list, stock list, trading and settlement calendar, NCP/GCP mapping)",
            servicesZh: "實時交易資料、參考數據（參與者名單、股份名單、交易及交收日曆、非結算參與者／全面結算參與者對應）",
          },
        }),
      ]);

      // Once the firm's users hold roles for every subscribed service, the check passes and the step goes in.
      await createConsoleUser(use().db, { email: `desk@${id.toLowerCase()}.test`, displayName: "Desk", participantId: id, password: null, roleCodes: ["trade_info_viewer", "ref_data_viewer"] });
      expect((await getStep(maker, id, "users_and_roles")).checks[0]).toMatchObject({ outcome: "pass" });
      expect(await move(maker, id, "users_and_roles", "submit")).toMatchObject({ state: "submitted" });
    });

    it("refuses to nominate administrators unless a maker and a different checker are named", async () => {
      const { db } = use();
      const { id } = await freshCase();
      await advanceCase(db, id, { officer: olivia, approver: owen, participant: outsider.maker }, "admin_nomination", "in_progress");
      await evidence(olivia, id, "admin_nomination");
      // Disable the checker: only the maker is left.
      await db.update(users).set({ status: "deactivated" }).where(eq(users.email, `checker@${id.toLowerCase()}.test`));
      const error = await expectUnchanged(id, () => refusedWith(move(olivia, id, "admin_nomination", "submit"), 400, "case.refused.checksFailing"));
      expect(error.params).toEqual({ checks: "administrators nominated", checksZh: "已提名管理員" });
    });

    it("refuses a return without a reason", async () => {
      const { id, actors } = await freshCase();
      await advanceCase(use().db, id, actors, "application", "submitted");
      for (const reason of [undefined, "", "  ok  "]) {
        await expectUnchanged(id, () => refusedWith(move(owen, id, "application", "return", reason), 400, "case.refused.reasonRequired"));
      }
      const returned = await move(owen, id, "application", "return", "The Chinese name does not match the BR certificate.");
      expect(returned).toMatchObject({ state: "returned", returnReason: "The Chinese name does not match the BR certificate." });
      // The officer fixes it and submits again; the return reason stays on record.
      await move(olivia, id, "application", "start");
      expect(await move(olivia, id, "application", "submit")).toMatchObject({ state: "submitted" });
    });

    it("refuses a locked step and names the steps it waits for", async () => {
      const { id, maker } = await freshCase();
      const error = await expectUnchanged(id, () => refusedWith(move(maker, id, "test_credentials", "start"), 400, "case.refused.locked"));
      expect(error.params).toEqual({ steps: "Administrator activation", stepsZh: "啟用管理員帳戶" });
      expect(translator("zh-HK")(error.messageKey, error.params)).toContain("啟用管理員帳戶");
      const view = await getCase(maker, id);
      expect(view.steps.find((s) => s.definition.key === "readiness_verification")!.blockers).toEqual(["users_and_roles", "api_certification"]);
    });

    it("refuses to submit the automatic step", async () => {
      const { id, actors, maker } = await freshCase({}, { activated: false });
      await advanceCase(use().db, id, actors, "admin_activation", "ready");
      await expectUnchanged(id, () => refusedWith(move(maker, id, "admin_activation", "submit"), 400, "case.refused.automatic"));
    });

    it("refuses a stale version with 409", async () => {
      const { id } = await freshCase();
      const row = await stepOf(use().db, id, "application");
      await move(olivia, id, "application", "start");
      await expectUnchanged(id, () =>
        refusedWith(transitionStep(owen, { participantId: id, stepKey: "application", action: "start", version: row.version }), 409, "error.conflict"),
      );
    });

    it("answers 400 with a field message to a malformed request", async () => {
      const { id } = await freshCase();
      const error = await expectUnchanged(id, () =>
        refusedWith(transitionStep(olivia, { participantId: id, stepKey: "application", action: "auto_complete", version: "one" }), 400, "error.badRequest"),
      );
      expect(error.fieldErrors).toEqual({ action: "validation.invalid", version: "validation.invalid" });
    });
  });

  describe("the automatic administrator activation", () => {
    it("completes by itself, as the system, when the nomination is approved and both administrators are active", async () => {
      const { db } = use();
      const { id, actors } = await freshCase();
      await advanceCase(db, id, actors, "admin_nomination", "submitted");
      const before = await lastAuditId(db);
      await move(owen, id, "admin_nomination", "approve");
      const states = await statesOf(db, id);
      expect(states).toMatchObject({ admin_nomination: "approved", admin_activation: "approved", users_and_roles: "ready", test_credentials: "ready" });
      const events = await auditSince(db, before);
      const auto = events.find((e) => e.action === "case.step.auto_completed")!;
      expect(auto).toMatchObject({ entityId: `${id}/admin_activation`, actorUserId: null, actorName: "system", actorPersona: "system" });
      expect(auto.changes).toMatchObject({ state: { before: "ready", after: "approved" } });
      expect(auto.metadata).toMatchObject({ checks: [{ id: "administrators_activated", outcome: "pass" }] });
      expect(events.filter((e) => e.action === "case.step.unlocked").map((e) => e.entityId)).toEqual([
        `${id}/admin_activation`,
        `${id}/users_and_roles`,
        `${id}/test_credentials`,
      ]);
    });

    it("waits while an administrator has not activated, then completes when the checks run again", async () => {
      const { db } = use();
      const { id, actors, maker } = await freshCase({}, { activated: false });
      await advanceCase(db, id, actors, "admin_nomination");
      expect((await stepOf(db, id, "admin_activation")).state).toBe("ready");
      expect((await getStep(maker, id, "admin_activation")).checks).toEqual([expect.objectContaining({ outcome: "fail" })]);
      expect(await runAutomaticSteps(maker, { participantId: id })).toBe(0);
      expect((await stepOf(db, id, "admin_activation")).state).toBe("ready");

      // The checker sets a password (the activation link itself belongs to Login Management).
      await db
        .update(users)
        .set({ passwordHash: await hashPassword("another correct horse battery") })
        .where(eq(users.email, `checker@${id.toLowerCase()}.test`));
      expect(await runAutomaticSteps(maker, { participantId: id })).toBe(1);
      expect(await statesOf(db, id)).toMatchObject({ admin_activation: "approved", users_and_roles: "ready", test_credentials: "ready" });
      expect(await runAutomaticSteps(maker, { participantId: id })).toBe(0);
    });
  });

  describe("the audit trail of a case", () => {
    it("records every transition with its before and after, and the timeline lists them newest first", async () => {
      const { db } = use();
      const { id, actors, maker } = await freshCase({ services: ["trade_info"] });
      const before = await lastAuditId(db);
      await createConsoleUser(db, { email: `desk@${id.toLowerCase()}.test`, displayName: "Desk", participantId: id, password: null, roleCodes: ["trade_info_viewer"] });
      await advanceCase(db, id, actors, "production_enablement");
      expect((await participantRow(db, id))!.status).toBe("live");

      const events = (await auditSince(db, before)).filter((e) => e.action.startsWith("case.step.") && e.action !== "case.step.evidence_added");
      // Replaying the recorded before/after of each step gives the case as it stands: nothing moved unrecorded.
      const replay: Record<string, string> = Object.fromEntries(WORKFLOW.map((s) => [s.key, s.key === "application" ? "ready" : "locked"]));
      for (const e of events) {
        const key = e.entityId!.split("/")[1]!;
        const change = e.changes!.state as { before: string; after: string };
        expect(change.before, `${e.action} of ${key}`).toBe(replay[key]);
        replay[key] = change.after;
      }
      expect(replay).toEqual(await statesOf(db, id));
      for (const step of WORKFLOW.filter((s) => s.approval === "officer")) {
        const actions = events.filter((e) => e.entityId === `${id}/${step.key}`).map((e) => e.action);
        expect(actions, step.key).toEqual(
          step.key === "application"
            ? ["case.step.started", "case.step.submitted", "case.step.approved"]
            : ["case.step.unlocked", "case.step.started", "case.step.submitted", "case.step.approved"],
        );
      }
      const submitted = events.find((e) => e.action === "case.step.submitted" && e.entityId === `${id}/test_credentials`)!;
      expect(submitted.changes).toEqual({
        state: { before: "in_progress", after: "submitted" },
        submittedBy: { before: null, after: maker.actor.userId },
      });
      expect(submitted).toMatchObject({ actorUserId: maker.actor.userId, actorPersona: "da_maker" });

      const timeline = await caseTimeline(maker, id);
      // Newest first, in the indexed (time, id) order.
      const order = (e: { occurredAt: Date; id: number }) => [e.occurredAt.getTime(), e.id] as const;
      const sorted = [...timeline.events].sort((a, b) => order(b)[0] - order(a)[0] || order(b)[1] - order(a)[1]);
      expect(timeline.events.map((e) => e.id)).toEqual(sorted.map((e) => e.id));
      expect(timeline.events.every((e) => e.participantId === id)).toBe(true);
      const listed = new Set(timeline.events.map((e) => e.id));
      const recent = events.slice(-10);
      for (const e of recent) expect(listed.has(e.id), `${e.action} ${e.entityId}`).toBe(true);
      expect(timeline.events[0]!.action).toBe("participant.status.changed");
      expect(timeline.userNames[maker.actor.userId!]).toBe(maker.actor.displayName);

      // Older pages follow without gaps or repeats.
      const all: number[] = [];
      let cursor: string | undefined;
      for (;;) {
        const page = await caseTimeline(olivia, id, { limit: 7, before: cursor });
        all.push(...page.events.map((e) => e.id));
        if (!page.nextCursor) break;
        cursor = page.nextCursor;
      }
      expect(new Set(all).size).toBe(all.length);
      expect(all).toHaveLength((await caseTimeline(olivia, id, { limit: 200 })).events.length);
      for (const r of await verifyAuditChains(db)) expect(r, r.chainKey).toMatchObject({ ok: true });
    });

    it("writes a transition and its audit event in one transaction: when the event cannot be written, nothing moves", async () => {
      const { db } = use();
      const { id, actors } = await freshCase();
      await advanceCase(db, id, actors, "application", "submitted");
      // The database refuses approval events for a moment: the approval must fail whole.
      await db.execute(sql.raw(`alter table audit_events add constraint test_refuse_approvals check (action <> 'case.step.approved') not valid`));
      try {
        await expectUnchanged(id, () =>
          move(owen, id, "application", "approve").then(
            () => {
              throw new Error("the approval went through without its audit event");
            },
            (e: unknown) => expect(e).not.toBeInstanceOf(AppError),
          ),
        );
      } finally {
        await db.execute(sql.raw(`alter table audit_events drop constraint test_refuse_approvals`));
      }
      expect(await statesOf(db, id)).toMatchObject({ application: "submitted", admin_nomination: "locked" });
      expect((await participantRow(db, id))!.status).toBe("prospect");
      await move(owen, id, "application", "approve");
      expect((await participantRow(db, id))!.status).toBe("onboarding");
      for (const r of await verifyAuditChains(db)) expect(r, r.chainKey).toMatchObject({ ok: true });
    });

    it("audits notes, evidence and plan changes", async () => {
      const { db } = use();
      const { id, maker } = await freshCase();
      const before = await lastAuditId(db);
      await addStepEntry(maker, { participantId: id, stepKey: "application", kind: "note", body: "Our BR certificate is attached.", reference: "BR-2026-001" });
      const row = await stepOf(db, id, "application");
      await updateStepPlan(olivia, { participantId: id, stepKey: "application", version: row.version, ownerUserId: maker.actor.userId, dueDate: "2030-06-30" });
      const events = await auditSince(db, before);
      expect(events.map((e) => [e.action, e.actorUserId, e.changes])).toEqual([
        ["case.step.note_added", maker.actor.userId, { note: { before: null, after: { body: "Our BR certificate is attached.", reference: "BR-2026-001" } } }],
        [
          "case.step.planned",
          olivia.actor.userId,
          { ownerUserId: { before: null, after: maker.actor.userId }, dueDate: { before: row.dueDate, after: "2030-06-30" } },
        ],
      ]);
      const step = await getStep(maker, id, "application");
      expect(step.entries.map((e) => [e.kind, e.body, e.authorName])).toEqual([["note", "Our BR certificate is attached.", maker.actor.displayName]]);
      expect(step.ownerName).toBe(maker.actor.displayName);
    });

    it("refuses to plan with another participant's user as owner, a stale version, or as a participant administrator", async () => {
      const { id, maker } = await freshCase();
      const row = await stepOf(use().db, id, "application");
      const error = await expectUnchanged(id, () =>
        refusedWith(updateStepPlan(olivia, { participantId: id, stepKey: "application", version: row.version, ownerUserId: outsider.maker.actor.userId }), 400),
      );
      expect(error.fieldErrors).toEqual({ ownerUserId: "case.error.owner" });
      const bad = await expectUnchanged(id, () => refusedWith(updateStepPlan(olivia, { participantId: id, stepKey: "application", version: row.version, dueDate: "2026-02-30" }), 400));
      expect(bad.fieldErrors).toEqual({ dueDate: "case.error.dueDate" });
      await expectUnchanged(id, () => refusedWith(updateStepPlan(olivia, { participantId: id, stepKey: "application", version: row.version + 1, dueDate: "2030-01-01" }), 409));
      await expectUnchanged(id, () => refusedWith(updateStepPlan(maker, { participantId: id, stepKey: "application", version: row.version, dueDate: "2030-01-01" }), 403));
    });
  });

  describe("queues and the pipeline board", () => {
    it("shows an officer the steps to approve, their own submissions apart, and a participant administrator only their firm's", async () => {
      const { db } = use();
      const a = await freshCase();
      const b = await freshCase();
      await advanceCase(db, a.id, a.actors, "application", "submitted"); // submitted by Olivia
      await advanceCase(db, b.id, b.actors, "test_credentials", "submitted"); // submitted by B's maker

      const forOwen = await myWork(owen);
      expect(forOwen).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ participantId: a.id, stepKey: "application", state: "submitted", reason: "approve" }),
          expect.objectContaining({ participantId: b.id, stepKey: "test_credentials", state: "submitted", reason: "approve" }),
        ]),
      );
      const forOlivia = await myWork(olivia);
      expect(forOlivia.find((w) => w.participantId === a.id && w.stepKey === "application")!.reason).toBe("own-submission");
      expect(forOlivia.find((w) => w.participantId === b.id && w.stepKey === "test_credentials")!.reason).toBe("approve");
      // Approvals come first.
      const reasons = forOwen.map((w) => w.reason);
      expect(reasons.indexOf("approve")).toBe(0);
      expect(reasons.lastIndexOf("approve")).toBeLessThan(reasons.indexOf("work") === -1 ? Infinity : reasons.indexOf("work"));

      for (const da of [b.maker, b.checker]) {
        const items = await myWork(da);
        expect(items.length).toBeGreaterThan(0);
        expect(items.every((w) => w.participantId === b.id), JSON.stringify(items)).toBe(true);
        expect(items).toEqual(
          expect.arrayContaining([
            expect.objectContaining({ stepKey: "users_and_roles", reason: "work" }),
            expect.objectContaining({ stepKey: "test_credentials", reason: "waiting" }),
          ]),
        );
      }
      expect(await myWork(compliance)).toEqual([]);
    });

    it("filters the board by type and status, marks overdue steps, and limits a participant administrator to their own", async () => {
      const { db } = use();
      const late = await freshCase({ type: "STOCK_LENDER" });
      const onTime = await freshCase({ type: "STOCK_LENDER" });
      await advanceCase(db, late.id, late.actors, "application");
      await advanceCase(db, onTime.id, onTime.actors, "application");
      const row = await stepOf(db, late.id, "admin_nomination");
      await updateStepPlan(olivia, { participantId: late.id, stepKey: "admin_nomination", version: row.version, dueDate: hongKongDay(-3) });

      const board = await pipelineBoard(olivia, { type: "STOCK_LENDER" });
      const cards = board.columns.flatMap((c) => c.cards);
      expect(new Set(cards.map((c) => c.participantId))).toEqual(new Set([late.id, onTime.id]));
      expect(cards.every((c) => c.type === "STOCK_LENDER")).toBe(true);
      const nomination = board.columns.find((c) => c.stepKey === "admin_nomination")!;
      expect(nomination.cards.find((c) => c.participantId === late.id)).toMatchObject({ overdue: true, dueDate: hongKongDay(-3) });
      expect(nomination.cards.find((c) => c.participantId === onTime.id)).toMatchObject({ overdue: false });
      expect(nomination.overdue).toBe(1);
      expect(board.columns.map((c) => c.stepKey)).toEqual(WORKFLOW.map((s) => s.key));

      const prospects = await pipelineBoard(olivia, { status: "prospect" });
      const prospectCards = prospects.columns.flatMap((c) => c.cards);
      expect(prospectCards.length).toBeGreaterThan(0);
      expect(prospectCards.every((c) => c.status === "prospect")).toBe(true);
      expect(prospectCards.some((c) => c.participantId === late.id)).toBe(false);
      const both = await pipelineBoard(olivia, { type: "STOCK_LENDER", status: "onboarding" });
      expect(new Set(both.columns.flatMap((c) => c.cards).map((c) => c.participantId))).toEqual(new Set([late.id, onTime.id]));

      const own = await pipelineBoard(late.maker);
      expect(new Set(own.columns.flatMap((c) => c.cards).map((c) => c.participantId))).toEqual(new Set([late.id]));
      expect((await myWork(late.maker)).find((w) => w.stepKey === "admin_nomination")).toBeUndefined();
      expect((await myWork(olivia)).find((w) => w.participantId === late.id && w.stepKey === "admin_nomination")).toMatchObject({
        reason: "work",
        overdue: true,
      });
    });

    it("lists participants that went live apart from the columns", async () => {
      const { db } = use();
      const live = await freshCase({ type: "INVESTOR", services: ["reference_data"] });
      await createConsoleUser(db, { email: `desk@${live.id.toLowerCase()}.test`, displayName: "Desk", participantId: live.id, password: null, roleCodes: ["ref_data_viewer"] });
      await advanceCase(db, live.id, live.actors, "production_enablement");
      const board = await pipelineBoard(olivia, { type: "INVESTOR" });
      expect(board.live.map((c) => c.participantId)).toEqual([live.id]);
      expect(board.columns.flatMap((c) => c.cards)).toEqual([]);
      expect((await pipelineBoard(olivia, { status: "live" })).live.map((c) => c.participantId)).toContain(live.id);
    });
  });

  describe("over HTTP, through the step page's form", () => {
    const STEP_ROUTE = encodeURIComponent("routes/participants.$participantId.steps.$stepKey");
    let server: RunningServer;
    const clients = new Map<string, HttpClient>();

    beforeAll(async () => {
      server = await startServer(use().db);
    });
    afterAll(() => server?.close());

    async function as(ctx: ServiceContext): Promise<HttpClient> {
      const email = ctx.actor.email!;
      let client = clients.get(email);
      if (!client) {
        client = new HttpClient(server.baseUrl);
        expect((await client.signIn(email, TEST_PASSWORD)).status, `sign-in of ${email}`).toBe(302);
        clients.set(email, client);
      }
      return client;
    }

    /** Posts the step form as the browser's fetch does (`_data`): the answer is the action's JSON. */
    async function post(ctx: ServiceContext, id: string, stepKey: string, form: Record<string, string>) {
      const res = await (await as(ctx)).post(`/participants/${id}/steps/${stepKey}?_data=${STEP_ROUTE}`, { intent: form.action ?? "", ...form });
      // A refusal also carries the values typed (for the form to show again): not what these assertions are about.
      const { values: _typed, ...body } = (await res.json()) as Record<string, unknown>;
      return { status: res.status, body };
    }

    it("moves a step, refuses the submitter's approval (403), a stale form (409) and a return without reason (400)", async () => {
      const { db } = use();
      const { id, actors } = await freshCase();
      await advanceCase(db, id, actors, "application", "submitted");
      const loaded = await stepOf(db, id, "application");
      const version = String(loaded.version);

      expect(await post(olivia, id, "application", { action: "approve", version })).toEqual({
        status: 403,
        body: { ok: false, messageKey: "case.refused.fourEyes", fieldErrors: {}, params: {} },
      });
      const page = await (await as(olivia)).post(`/participants/${id}/steps/application`, { intent: "approve", action: "approve", version });
      expect(page.status).toBe(403);
      expect(await page.text()).toContain("You submitted this step, so another officer must approve or return it.");

      expect(await post(owen, id, "application", { action: "return", version, reason: "no" })).toEqual({
        status: 400,
        body: { ok: false, messageKey: "case.refused.reasonRequired", fieldErrors: {}, params: { min: 5 } },
      });
      expect(await post(owen, id, "application", { action: "approve", version })).toEqual({
        status: 200,
        body: { ok: true, intent: "approve" },
      });
      // Oscar's page still holds the old version: he is told, and the page he reloads shows the approval.
      expect(await post(oscar, id, "application", { action: "return", version, reason: "The BR copy is unreadable." })).toEqual({
        status: 409,
        body: { ok: false, messageKey: "error.conflict", fieldErrors: {}, params: {} },
      });
      const reloaded = await (await as(oscar)).get(`/participants/${id}/steps/application?_data=${STEP_ROUTE}`);
      expect(((await reloaded.json()) as { step: { state: string; version: number } }).step).toMatchObject({
        state: "approved",
        version: loaded.version + 1,
      });
      expect(await stepOf(db, id, "application")).toMatchObject({ state: "approved", decidedBy: owen.actor.userId, returnReason: null });
    });

    it("answers 404 to another participant's administrator posting to the case, and shows nothing of it", async () => {
      const { db } = use();
      const { id, actors, participant } = await freshCase();
      await advanceCase(db, id, actors, "test_credentials", "submitted");
      const version = String((await stepOf(db, id, "test_credentials")).version);
      for (const action of ["start", "submit", "approve", "return"]) {
        const answer = await post(outsider.maker, id, "test_credentials", { action, version, reason: "Looks wrong to me" });
        expect(answer.status, action).toBe(404);
      }
      const stranger = await as(outsider.maker);
      for (const path of [`/participants/${id}`, `/participants/${id}/steps/test_credentials`]) {
        const res = await stranger.get(path);
        expect(res.status, path).toBe(404);
        expect(await res.text()).not.toContain(participant.nameEn);
      }
      expect((await stepOf(db, id, "test_credentials")).state).toBe("submitted");
    });
  });

  describe("two editors at the same moment (PostgreSQL)", () => {
    let second: DatabaseHandle | null = null;
    let other: Database;
    let monitor: ReturnType<typeof postgres> | null = null;

    beforeAll(() => {
      const { url } = use();
      if (!url) return;
      second = openDatabase({ databaseUrl: url, maxConnections: 4 });
      other = second.db;
      monitor = postgres(url, { max: 1, onnotice: () => {} });
    });
    afterAll(async () => {
      await second?.close();
      await monitor?.end({ timeout: 5 });
    });

    /**
     * Holds the participant's row locked on a third connection until both requests are waiting on it, then lets
     * them go: both have read the same version and are in flight together, whatever the scheduler does.
     */
    async function together<A, B>(participantId: string, first: () => Promise<A>, secondCall: () => Promise<B>) {
      const gate = postgres(use().url!, { max: 1, onnotice: () => {} });
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      let locked!: () => void;
      const isLocked = new Promise<void>((resolve) => (locked = resolve));
      const holding = gate.begin(async (tx) => {
        await tx`select id from participants where id = ${participantId} for update`;
        locked();
        await released;
      });
      await isLocked;
      const results = Promise.allSettled([first(), secondCall()]);
      try {
        const deadline = Date.now() + 10_000;
        for (;;) {
          const [row] = await monitor!<{ n: number }[]>`
            select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`;
          if ((row?.n ?? 0) >= 2) break;
          if (Date.now() > deadline) throw new Error("the two requests never waited together");
          await new Promise((r) => setTimeout(r, 20));
        }
      } finally {
        release();
        await holding;
        await gate.end({ timeout: 5 });
      }
      return results;
    }

    function oneWinsOneConflicts(results: PromiseSettledResult<unknown>[]) {
      const fulfilled = results.filter((r) => r.status === "fulfilled");
      const rejected = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
      expect(fulfilled).toHaveLength(1);
      expect(rejected).toHaveLength(1);
      expect(rejected[0]!.reason).toBeInstanceOf(AppError);
      expect(rejected[0]!.reason).toMatchObject({ status: 409, messageKey: "error.conflict" });
      return results.findIndex((r) => r.status === "fulfilled");
    }

    it("lets one of two officers decide a step and tells the other it changed (409), overwriting nothing", async (t) => {
      if (use().kind !== "postgres") t.skip("needs two connections to PostgreSQL");
      const { db } = use();
      const { id, actors } = await freshCase();
      await advanceCase(db, id, actors, "application", "submitted");
      const oscarOnSecond = await contextFor(other, "oscar@hkex.test");
      const loaded = await stepOf(db, id, "application");
      const before = await lastAuditId(db);

      const results = await together(
        id,
        () => transitionStep(owen, { participantId: id, stepKey: "application", action: "approve", version: loaded.version }),
        () => transitionStep(oscarOnSecond, { participantId: id, stepKey: "application", action: "return", version: loaded.version, reason: "The BR copy is unreadable." }),
      );
      const winner = oneWinsOneConflicts(results);
      const step = await stepOf(db, id, "application");
      const decisions = (await auditSince(db, before)).filter((e) => e.entityId === `${id}/application`);
      expect(decisions).toHaveLength(1);
      expect(step.version).toBe(loaded.version + 1);
      if (winner === 0) {
        expect(step).toMatchObject({ state: "approved", decidedBy: owen.actor.userId, returnReason: null });
        expect(decisions[0]).toMatchObject({ action: "case.step.approved", actorUserId: owen.actor.userId });
      } else {
        expect(step).toMatchObject({ state: "returned", decidedBy: oscar.actor.userId, returnReason: "The BR copy is unreadable." });
        expect(decisions[0]).toMatchObject({ action: "case.step.returned", actorUserId: oscar.actor.userId });
        expect(await statesOf(db, id)).toMatchObject({ admin_nomination: "locked" });
      }
      for (const r of await verifyAuditChains(db)) expect(r, r.chainKey).toMatchObject({ ok: true });
    });

    it("lets one of two editors save a participant's details and tells the other it changed (409)", async (t) => {
      if (use().kind !== "postgres") t.skip("needs two connections to PostgreSQL");
      const { db } = use();
      const { id, participant } = await freshCase({ type: "DCP" });
      const owenOnSecond = await contextFor(other, "owen@hkex.test");
      const edit = (nameEn: string) => ({
        version: participant.version,
        nameEn,
        nameZh: participant.nameZh,
        type: "DCP",
        services: ["trade_info"],
        contacts: [{ name: "Contact", email: "contact@example.test" }],
      });
      const before = await lastAuditId(db);
      const results = await together(
        id,
        () => updateParticipant(olivia, { participantId: id, ...edit("Olivia's Edit Limited") }),
        () => updateParticipant(owenOnSecond, { participantId: id, ...edit("Owen's Edit Limited") }),
      );
      const winner = oneWinsOneConflicts(results);
      const row = (await participantRow(db, id))!;
      expect(row.nameEn).toBe(winner === 0 ? "Olivia's Edit Limited" : "Owen's Edit Limited");
      expect(row.version).toBe(participant.version + 1);
      const updates = (await auditSince(db, before)).filter((e) => e.action === "participant.updated");
      expect(updates).toHaveLength(1);
      expect(updates[0]!.changes!.nameEn).toEqual({ before: participant.nameEn, after: row.nameEn });
    });
  });
});
