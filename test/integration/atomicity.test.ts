import { count, eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../../db/client.server";
import { auditChainHeads, participants, roleGrants, sessions, signInAttempts, users } from "../../db/schema";
import { permissionsFor } from "../../app/auth/permissions";
import { verifySecondFactor } from "../../app/auth/second-factor.server";
import { signIn, signOut, type SignInEnv } from "../../app/auth/sign-in.server";
import { timeStepAt } from "../../app/auth/totp.server";
import { GENESIS_HASH } from "../../app/modules/audit/hash.server";
import { appendAuditEvent, verifyAuditChains } from "../../app/modules/audit/service.server";
import { SYSTEM_ACTOR, systemContext, type Actor } from "../../app/modules/context.server";
import { createParticipant } from "../../app/modules/participants/service.server";
import { provisionUser } from "../../app/modules/users/service.server";
import { AppError } from "../../app/lib/errors";
import { createConsoleUser, participantInput, registerParticipant, TEST_TOTP_SECRET } from "../factories";
import { auditEventsSince, lastAuditId } from "../support/audit";
import { describeEachDatabase } from "../support/databases";
import { codeAt } from "../support/totp";

/** Everything a test could have changed, counted: a failed service must leave all of it as it was. */
async function snapshot(db: Database) {
  const tally = async (table: typeof participants | typeof users | typeof roleGrants | typeof auditChainHeads) => {
    const [row] = await db.select({ n: count() }).from(table);
    return Number(row?.n ?? 0);
  };
  return {
    participants: await tally(participants),
    users: await tally(users),
    roleGrants: await tally(roleGrants),
    chainHeads: await db.select().from(auditChainHeads).orderBy(auditChainHeads.chainKey),
    lastAuditId: await lastAuditId(db),
  };
}

async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error("expected the call to fail");
    },
    (error: unknown) => error,
  );
}

describeEachDatabase("a change and its audit event are one", { compatibility: true }, (use) => {
  describe("when the audit write fails", () => {
    it("rolls back the change it records", async () => {
      const { db } = use();
      const before = await snapshot(db);
      const input = participantInput();
      const error = await failureOf(
        db.transaction(async (tx) => {
          await tx.insert(participants).values({ id: input.id, nameEn: input.nameEn, nameZh: input.nameZh, type: "GCP" });
          await appendAuditEvent(tx, { actor: SYSTEM_ACTOR, requestId: null, ip: null, userAgent: null }, {
            action: "participant.created",
            entityType: "participant",
            entityId: input.id,
            participantId: input.id,
            // A BigInt cannot be written as JSON: the audit write throws after the participant was inserted.
            metadata: { exposure: 10n ** 20n },
          });
        }),
      );
      expect(String(error)).toMatch(/BigInt/);
      expect(await db.select().from(participants).where(eq(participants.id, input.id))).toEqual([]);
      expect(await snapshot(db)).toEqual(before);
    });

    it("leaves no gap in the chain: the next event takes the seq the failed one would have had", async () => {
      const { db } = use();
      const created = await registerParticipant(db);
      const [head] = await db.select().from(auditChainHeads).where(eq(auditChainHeads.chainKey, created.id));
      await failureOf(
        db.transaction(async (tx) => {
          await appendAuditEvent(tx, systemContext(db), {
            action: "participant.updated",
            entityType: "participant",
            participantId: created.id,
            metadata: { n: 1n },
          });
        }),
      );
      const before = await lastAuditId(db);
      await db.transaction((tx) =>
        appendAuditEvent(tx, systemContext(db), { action: "participant.updated", entityType: "participant", participantId: created.id }),
      );
      const [event] = await auditEventsSince(db, before);
      expect(event).toMatchObject({ chainKey: created.id, seq: head!.lastSeq + 1, action: "participant.updated" });
      for (const r of await verifyAuditChains(db)) expect(r, r.chainKey).toMatchObject({ ok: true });
    });
  });

  describe("when a service fails part-way", () => {
    it("keeps no user and no event when one of the requested roles does not exist", async () => {
      const { db } = use();
      await registerParticipant(db, { id: "D00042" });
      const before = await snapshot(db);
      const error = await failureOf(
        provisionUser(systemContext(db), {
          email: "half-made@example.test",
          displayName: "Half Made",
          participantId: "D00042",
          password: null,
          // The user and its first grant are written, with their events, before the unknown role is found.
          roleCodes: ["da_maker", "no_such_role"],
        }),
      );
      expect(error).toBeInstanceOf(AppError);
      expect((error as AppError).fieldErrors).toEqual({ roleCodes: "access.error.role" });
      expect(await db.select().from(users).where(eq(users.email, "half-made@example.test"))).toEqual([]);
      expect(await snapshot(db)).toEqual(before);
    });

    it("keeps nothing when an HKEX user is given a participant role", async () => {
      const { db } = use();
      const before = await snapshot(db);
      await expect(
        provisionUser(systemContext(db), {
          email: "wrong-role@hkex.example",
          displayName: "Wrong Role",
          participantId: null,
          password: null,
          roleCodes: ["onboarding_officer", "da_checker"],
        }),
      ).rejects.toBeInstanceOf(AppError);
      expect(await snapshot(db)).toEqual(before);
    });

    it("records nothing when a participant ID is taken", async () => {
      const { db } = use();
      const existing = await registerParticipant(db);
      const before = await snapshot(db);
      await expect(registerParticipant(db, { id: existing.id })).rejects.toMatchObject({
        status: 400,
        fieldErrors: { id: "participant.error.idTaken" },
      });
      expect(await snapshot(db)).toEqual(before);
    });

    it("records nothing when someone without the permission tries to register a participant", async () => {
      const { db } = use();
      const maker: Actor = {
        ...SYSTEM_ACTOR,
        userId: "maker-1",
        displayName: "Maker",
        participantId: "B01234",
        persona: "da_maker",
        personas: ["da_maker"],
        permissions: permissionsFor(["da_maker"]),
      };
      const before = await snapshot(db);
      await expect(
        createParticipant({ db, actor: maker, requestId: null, ip: null, userAgent: null }, participantInput()),
      ).rejects.toMatchObject({ status: 403 });
      expect(await snapshot(db)).toEqual(before);
    });
  });

  describe("every mutation service leaves exactly its audit events", () => {
    const env = (): SignInEnv => ({
      db: use().db,
      secureCookie: false,
      demoMode: false,
      requestId: "req-atomicity-1",
      ip: "198.51.100.20",
      userAgent: "vitest",
    });
    const password = "correct horse battery staple";
    let participantId: string;

    beforeAll(async () => {
      participantId = (await registerParticipant(use().db)).id;
    });

    it("createParticipant: participant.created, then case.opened, first on the new participant's chain", async () => {
      const { db } = use();
      const before = await lastAuditId(db);
      const input = participantInput({ type: "CUSTODIAN", bic: "hvschkhh" });
      const created = await createParticipant({ ...systemContext(db), requestId: "req-create-1" }, input);
      const events = await auditEventsSince(db, before);
      expect(events.map((e) => [e.action, e.chainKey, e.seq])).toEqual([
        ["participant.created", created.id, 1],
        ["case.opened", created.id, 2],
      ]);
      expect(events[0]).toMatchObject({
        entityType: "participant",
        entityId: created.id,
        participantId: created.id,
        prevHash: GENESIS_HASH,
        actorUserId: null,
        actorName: "system",
        actorPersona: "system",
        requestId: "req-create-1",
      });
      expect(events[1]!.prevHash).toBe(events[0]!.hash);
      expect(events[0]!.changes).toMatchObject({
        id: { before: null, after: created.id },
        nameEn: { before: null, after: input.nameEn },
        nameZh: { before: null, after: input.nameZh },
        type: { before: null, after: "CUSTODIAN" },
        bic: { before: null, after: "HVSCHKHH" },
      });
    });

    it("provisionUser: user.created, then role.grant.created for each role, on the participant's chain", async () => {
      const { db } = use();
      const before = await lastAuditId(db);
      const user = await createConsoleUser(db, {
        email: "Two.Roles@Example.test",
        participantId,
        password,
        roleCodes: ["da_maker", "si_maker"],
      });
      const events = await auditEventsSince(db, before);
      expect(events.map((e) => [e.action, e.chainKey])).toEqual([
        ["user.created", participantId],
        ["role.grant.created", participantId],
        ["role.grant.created", participantId],
      ]);
      expect(events[0]).toMatchObject({ entityType: "user", entityId: user.id });
      expect(events[0]!.changes).toMatchObject({ email: { before: null, after: "two.roles@example.test" } });
      expect(events.slice(1).map((e) => e.metadata)).toMatchObject([
        { userId: user.id, roleCode: "da_maker" },
        { userId: user.id, roleCode: "si_maker" },
      ]);
      const grants = await db.select().from(roleGrants).where(eq(roleGrants.userId, user.id));
      expect(new Set(events.slice(1).map((e) => e.entityId))).toEqual(new Set(grants.map((g) => g.id)));
      expect(JSON.stringify(events)).not.toContain(password);
      expect(JSON.stringify(events)).not.toContain("$argon2id$");
    });

    it("signIn: a failure, one auth.sign_in.failed and no session; the password, then the code, one session and their events", async () => {
      const { db } = use();
      const [user] = await db.select().from(users).where(eq(users.email, "two.roles@example.test"));
      const before = await lastAuditId(db);

      const failed = await signIn(env(), { email: "two.roles@example.test", password: "not the password" });
      expect(failed).toEqual({ ok: false, reason: "invalid" });
      const ok = await signIn(env(), { email: "TWO.ROLES@example.test ", password });
      if (!ok.ok) throw new Error("sign-in failed");
      expect(ok.next).toBe("verify");
      const code = codeAt(TEST_TOTP_SECRET, timeStepAt(new Date()));
      const verified = await verifySecondFactor(env(), ok.actor.sessionId!, code);
      expect(verified.ok).toBe(true);

      const events = await auditEventsSince(db, before);
      expect(events.map((e) => [e.action, e.reason, e.entityId])).toEqual([
        ["auth.sign_in.failed", "wrong-password", user!.id],
        ["auth.sign_in.password_accepted", null, user!.id],
        ["auth.sign_in.succeeded", null, user!.id],
      ]);
      expect(events[2]).toMatchObject({
        actorUserId: user!.id,
        actorPersona: "da_maker",
        ip: "198.51.100.20",
        userAgent: "vitest",
        requestId: "req-atomicity-1",
      });
      expect(await db.select().from(sessions).where(eq(sessions.userId, user!.id))).toHaveLength(1);
      expect(await db.select().from(signInAttempts).where(eq(signInAttempts.ip, "198.51.100.20"))).toHaveLength(2);
      expect(JSON.stringify(events)).not.toContain(password);
      expect(JSON.stringify(events)).not.toContain(code);
      expect(JSON.stringify(events)).not.toContain(TEST_TOTP_SECRET);
    });

    it("signOut: one auth.sign_out event, and the session is gone", async () => {
      const { db } = use();
      const result = await signIn(env(), { email: "two.roles@example.test", password });
      if (!result.ok) throw new Error("sign-in failed");
      const sessionId = result.actor.sessionId!;
      const before = await lastAuditId(db);

      const cleared = await signOut({ ...env(), requestId: "req-sign-out" }, result.actor);
      expect(cleared).toMatch(/^ocp_session=; /);
      const events = await auditEventsSince(db, before);
      expect(events.map((e) => [e.action, e.actorUserId, e.requestId])).toEqual([
        ["auth.sign_out", result.actor.userId, "req-sign-out"],
      ]);
      expect(await db.select().from(sessions).where(eq(sessions.id, sessionId))).toEqual([]);
    });

    it("leaves every chain intact", async () => {
      for (const r of await verifyAuditChains(use().db)) expect(r, r.chainKey).toMatchObject({ ok: true });
    });
  });
});
