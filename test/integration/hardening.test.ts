import { generateKeyPairSync, randomBytes } from "node:crypto";
import { eq } from "drizzle-orm";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, type Database } from "../../db/client.server";
import { apiKeys, grantRequests, participants, roleGrants, users } from "../../db/schema";
import { AppError } from "../../app/lib/errors";
import { exploreAudit } from "../../app/modules/audit/explorer.server";
import { CLAIM_RULES, POP_AUDIENCE } from "../../app/modules/credentials/claim-rules";
import { checkToken, createClient, issueChallenge, registerKey } from "../../app/modules/credentials/service.server";
import { DEMO_PASSWORD } from "../../app/modules/demo";
import { updateStepPlan } from "../../app/modules/onboarding/service.server";
import { reinstateParticipant, suspendParticipant } from "../../app/modules/participants/service.server";
import { openCampaign } from "../../app/modules/reviews/service.server";
import { decideRequest, requestGrant, resetRolesToBaseline } from "../../app/modules/roles/service.server";
import { checkImport } from "../../app/modules/users/import.server";
import { changeUserStatus, createUser } from "../../app/modules/users/service.server";
import { performSupportAction } from "../../app/modules/users/support.server";
import { signIn } from "../../app/auth/sign-in.server";
import { contextFor, createConsoleUser } from "../factories";
import { lastAuditId } from "../support/audit";
import { MINUTE, TestClock } from "../support/clock";
import { describeEachDatabase } from "../support/databases";
import { HttpClient, startServer, type RunningServer } from "../support/server";
import { createVerifiedSession } from "../support/sessions";

/**
 * Issue 15's defects, each as found by the security review: every test here failed before its fix.
 */

async function refusal(promise: Promise<unknown>): Promise<AppError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  if (!(error instanceof AppError)) throw new Error(`expected a refusal, got ${String(error)}`);
  return error;
}

function hkDay(offsetDays: number): string {
  return new Date(Date.now() + offsetDays * 24 * 3600 * 1000 + 8 * 3600 * 1000).toISOString().slice(0, 10);
}

describeEachDatabase("hardening", { demo: true }, (use) => {
  let server: RunningServer;
  const logs: string[] = [];
  let db: Database;

  beforeAll(async () => {
    db = use().db;
    server = await startServer(db, { LOG_LEVEL: "info" }, { logs });
  });
  afterAll(async () => {
    await server?.close();
  });

  async function signedIn(email: string): Promise<HttpClient> {
    return new HttpClient(server.baseUrl).useSession(await createVerifiedSession(db, email));
  }

  /** A POST as a page of the console would send it, but with any body and content type. */
  function rawPost(client: HttpClient | null, path: string, body: string, type: string): Promise<Response> {
    return fetch(server.baseUrl + path, {
      method: "POST",
      redirect: "manual",
      headers: { Origin: server.baseUrl, "Content-Type": type, ...(client ? { Cookie: client.cookieHeader() } : {}) },
      body,
    });
  }

  describe("a body that is not a form (3)", () => {
    const bodies: [string, string, string][] = [
      ["JSON", '{"email":"maker@b01234.demo","password":"x"}', "application/json"],
      ["plain text", "email=maker@b01234.demo", "text/plain"],
      ["a truncated multipart", '--b\r\nContent-Disposition: form-data; name="email"\r\n\r\nmaker@b01234.d', "multipart/form-data; boundary=b"],
      ["no content type at all", "email=x", ""],
    ];
    it.each(bodies)("answers %s with 400 on public and signed-in actions, and changes nothing", async (_what, body, type) => {
      const maker = await signedIn("maker@b01234.demo");
      const [user] = await db.select({ id: users.id }).from(users).where(eq(users.email, "maker@b01234.demo"));
      const before = await lastAuditId(db);
      for (const [client, path] of [
        [null, "/login"],
        [null, "/language"],
        [maker, `/users/${user!.id}`],
        [maker, "/requests"],
        [maker, "/credentials"],
      ] as const) {
        const res = await rawPost(client, path, body, type);
        expect(res.status, `${path} with ${type || "no type"}`).toBe(400);
      }
      expect(await lastAuditId(db)).toBe(before);
    });
  });

  describe("NUL characters and unreadable addresses (4)", () => {
    it("answers 400 for a NUL in a form field, a path segment or a query, and for broken percent-encoding", async () => {
      const compliance = await signedIn("compliance@hkex.demo");
      const before = await lastAuditId(db);
      expect((await new HttpClient(server.baseUrl).signInPassword("maker@b01234.demo\u0000", DEMO_PASSWORD)).status).toBe(400);
      for (const path of ["/users/%00", "/users?q=%00", "/participants/B0%001", "/activity?actorUserId=a%00b", "/users/%E0%A4%A"]) {
        expect((await compliance.get(path)).status, path).toBe(400);
      }
      expect(await lastAuditId(db)).toBe(before);
    });

    it("refuses a CSV import with a NUL in it as unreadable, writing nothing", async () => {
      const maker = await contextFor(db, "maker@b01234.demo");
      const error = await refusal(checkImport(maker, { participantId: "B01234", fileName: "nul.csv", text: "email,display_name\nnul@b.example,Nul\u0000Name\n" }));
      expect(error.status).toBe(400);
      expect(error.fieldErrors).toEqual({ file: "import.error.unreadable" });
    });
  });

  describe("dates (5) and instants (6)", () => {
    it("refuses a 13th month and a 30 February with the field's message, everywhere a date is typed", async () => {
      const maker = await contextFor(db, "maker@b01234.demo");
      const officer = await contextFor(db, "officer@hkex.demo");
      const compliance = await contextFor(db, "compliance@hkex.demo");
      const [alice] = await db.select().from(users).where(eq(users.email, "alice.tam@harbourview.example"));
      for (const bad of ["2027-13-01", "2027-02-30", "2026-02-29", "2027-00-10", "0999-01-01"]) {
        const grant = await refusal(requestGrant(maker, { userId: alice!.id, roleCode: "ref_data_viewer", validTo: bad }));
        expect(grant.fieldErrors, `validTo ${bad}`).toEqual({ validTo: "access.error.date" });
        const campaign = await refusal(openCampaign(compliance, { name: "Bad date", deadline: bad, deadlinePolicy: "flag" }));
        expect(campaign.fieldErrors, `deadline ${bad}`).toEqual({ deadline: "access.error.date" });
        const [step] = await db.select().from(participants).where(eq(participants.id, "B01234"));
        const plan = await refusal(updateStepPlan(officer, { participantId: step!.id, stepKey: "users_and_roles", version: 1, dueDate: bad }));
        expect(plan.fieldErrors, `dueDate ${bad}`).toEqual({ dueDate: "case.error.dueDate" });
      }
      const client = await createClient(maker, { participantId: "B01234", environment: "simulator", name: "Dates", ownerUserId: maker.actor.userId! });
      const { nonce } = await issueChallenge(maker, { clientId: client.id });
      for (const bad of ["2027-13-01", "2027-02-30"]) {
        const key = await refusal(registerKey(maker, { clientId: client.id, publicKey: "x", proof: "y", nonce, expiresOn: bad }));
        expect(key.fieldErrors, `expiresOn ${bad}`).toMatchObject({ expiresOn: "access.error.date" });
      }
      const imported = await checkImport(maker, { participantId: "B01234", fileName: "dates.csv", text: "email,display_name,roles,valid_to\nfeb30@b.example,Feb Thirty,trade_info_viewer,2027-02-30\n" });
      expect(imported.report[0]!.errors).toEqual([{ column: "valid_to", message: "is not a date (YYYY-MM-DD)", messageKey: "import.row.date" }]);
    });

    it("treats a \"valid to\" day as the whole of that Hong Kong day", async () => {
      const maker = await contextFor(db, "maker@b01234.demo");
      const [sam] = await db.select().from(users).where(eq(users.email, "sam.lau@harbourview.example"));
      const request = await requestGrant(maker, { userId: sam!.id, roleCode: "ref_data_viewer", validTo: "2027-03-31" });
      expect(request.validTo!.toISOString()).toBe("2027-03-31T15:59:59.999Z");
    });

    it("ignores instants outside 1900–9999 in the explorer and the reports instead of failing", async () => {
      const compliance = await contextFor(db, "compliance@hkex.demo");
      await exploreAudit(compliance, { from: "200000-01-01T00:00", to: "-000001-01-01" }, null, 10);
      const client = await signedIn("compliance@hkex.demo");
      for (const path of ["/activity?from=200000-01-01T00:00&to=275760-09-13", "/reports?report=access&at=99999-01-01T00:00", "/reports?report=diff&from=0000-01-01&to=300000-01-01"]) {
        expect((await client.get(path)).status, path).toBe(200);
      }
    });
  });

  describe("suspension stops the participant (7)", () => {
    it("refuses every change by its own users, takes its keys out of the JWKS and fails their tokens; reinstatement restores exactly that", async () => {
      const officer = await contextFor(db, "officer@hkex.demo");
      const maker = await contextFor(db, "maker@c00123.demo");
      const client = await createClient(maker, { participantId: "C00123", environment: "simulator", name: "Suspension check", ownerUserId: maker.actor.userId! });
      const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
      const { nonce } = await issueChallenge(maker, { clientId: client.id });
      const proof = await new SignJWT({ nonce }).setProtectedHeader({ alg: "ES256" }).setAudience(POP_AUDIENCE).setSubject(client.clientId).setIssuedAt().setExpirationTime("10m").sign(privateKey);
      const key = await registerKey(maker, { clientId: client.id, publicKey: publicKey.export({ type: "spki", format: "pem" }).toString(), proof, nonce, expiresOn: hkDay(200) });
      const kids = async () => ((await (await fetch(`${server.baseUrl}/jwks/simulator`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
      expect(await kids()).toContain(key.kid);

      const [p] = await db.select().from(participants).where(eq(participants.id, "C00123"));
      await suspendParticipant(officer, { participantId: "C00123", version: p!.version, reason: "Regulatory hold" });
      const before = await lastAuditId(db);
      const [wing] = await db.select().from(users).where(eq(users.email, "wing.cheung@lionrock.example"));
      const refusals = [
        () => createClient(maker, { participantId: "C00123", environment: "simulator", name: "Another", ownerUserId: maker.actor.userId! }),
        () => issueChallenge(maker, { clientId: client.id }),
        () => requestGrant(maker, { userId: wing!.id, roleCode: "ref_data_viewer" }),
        () => createUser(maker, { participantId: "C00123", email: `suspended-${randomBytes(3).toString("hex")}@c.example`, displayName: "Nobody" }),
        () => checkImport(maker, { participantId: "C00123", fileName: "x.csv", text: "email,display_name\nx@c.example,X\n" }),
      ];
      for (const attempt of refusals) {
        const error = await refusal(attempt());
        expect([error.status, error.messageKey]).toEqual([403, "participant.refused.suspended"]);
      }
      expect(await lastAuditId(db)).toBe(before);
      expect(await kids()).not.toContain(key.kid);
      const token = await new SignJWT({ jti: randomBytes(8).toString("hex") })
        .setProtectedHeader({ alg: "ES256", kid: key.kid, typ: "JWT" })
        .setIssuer(client.clientId)
        .setSubject(client.clientId)
        .setAudience(CLAIM_RULES.simulator.audience)
        .setIssuedAt()
        .setExpirationTime("5m")
        .sign(privateKey);
      const check = await checkToken(maker, client.id, token);
      expect(check.ok).toBe(false);
      expect(check.findings[0]).toMatchObject({ check: "participant", ok: false, messageKey: "jwt.participantSuspended" });

      const [suspended] = await db.select().from(participants).where(eq(participants.id, "C00123"));
      await reinstateParticipant(officer, { participantId: "C00123", version: suspended!.version, reason: "Hold lifted" });
      expect(await kids()).toContain(key.kid);
      expect((await db.select().from(apiKeys).where(eq(apiKeys.id, key.id)))[0]!.status).toBe("active");
      await issueChallenge(maker, { clientId: client.id });
    });
  });

  describe("who may lift what (8)", () => {
    it("leaves a lock from failed sign-ins to its cool-down or the helpdesk, never an administrator", async () => {
      const email = `locked-${randomBytes(3).toString("hex")}@harbourview.example`;
      const locked = await createConsoleUser(db, { email, displayName: "Locked Out", participantId: "B01234", password: DEMO_PASSWORD, roleCodes: ["da_maker"] });
      // Each attempt after the throttle's delay has passed, as a patient attacker would.
      const clock = new TestClock(Date.now()).start();
      try {
        for (let i = 0; i < 10; i++) {
          await signIn({ db, secureCookie: false, demoMode: true, requestId: null, ip: `198.51.100.${i}`, userAgent: null }, { email, password: "not the password at all" });
          clock.advance(6 * MINUTE);
        }
      } finally {
        clock.stop();
      }
      const [row] = await db.select().from(users).where(eq(users.id, locked.id));
      expect(row!.status).toBe("locked");
      for (const email of ["checker@b01234.demo", "officer@hkex.demo"]) {
        const error = await refusal(changeUserStatus(await contextFor(db, email), { userId: locked.id, action: "unlock", version: row!.version, reason: "They called me" }));
        expect([email, error.status, error.messageKey]).toEqual([email, 403, "access.refused.unlockIsHelpdesk"]);
      }
      await performSupportAction(await contextFor(db, "helpdesk@hkex.demo"), { userId: locked.id, action: "unlock", ticketRef: "INC-4242", reason: "Identity checked by phone" });
      expect((await db.select().from(users).where(eq(users.id, locked.id)))[0]!.status).toBe("active");
    });

    it("lets only HKEX lift a suspension HKEX imposed, while an administrator lifts their own", async () => {
      const officer = await contextFor(db, "officer@hkex.demo");
      const maker = await contextFor(db, "maker@b01234.demo");
      const [sam] = await db.select().from(users).where(eq(users.email, "sam.lau@harbourview.example"));
      const suspendedBy = async (ctx: typeof officer) => {
        const [now] = await db.select().from(users).where(eq(users.id, sam!.id));
        return changeUserStatus(ctx, { userId: sam!.id, action: "suspend", version: now!.version, reason: "Under investigation" });
      };
      const reinstatedBy = async (ctx: typeof officer) => {
        const [now] = await db.select().from(users).where(eq(users.id, sam!.id));
        return changeUserStatus(ctx, { userId: sam!.id, action: "reinstate", version: now!.version, reason: "Cleared" });
      };
      await suspendedBy(officer);
      const error = await refusal(reinstatedBy(maker));
      expect([error.status, error.messageKey]).toEqual([403, "access.refused.hkexSuspension"]);
      await reinstatedBy(officer);
      await suspendedBy(maker);
      await reinstatedBy(maker);
      expect((await db.select().from(users).where(eq(users.id, sam!.id)))[0]!.status).toBe("active");
    });

    it("never lets the helpdesk support itself", async () => {
      const helpdesk = await contextFor(db, "helpdesk@hkex.demo");
      for (const action of ["revoke_sessions", "reset_mfa", "password_reset"]) {
        const error = await refusal(performSupportAction(helpdesk, { userId: helpdesk.actor.userId!, action, ticketRef: "INC-1", reason: "Resetting my own account" }));
        expect([action, error.status, error.messageKey]).toEqual([action, 403, "support.refused.self"]);
      }
    });
  });

  it("does not lock a whole address out: failures for other accounts never stop a right password from the same address (9)", async () => {
    const client = new HttpClient(server.baseUrl);
    for (let i = 0; i < 15; i++) {
      const res = await client.signInPassword(`nobody-${i}-${randomBytes(2).toString("hex")}@example.test`, "wrong password");
      expect(res.status, `attempt ${i}`).toBe(401);
    }
    const right = await client.signInPassword("checker@c00123.demo", DEMO_PASSWORD);
    expect(right.status).toBe(302);
    expect(right.headers.get("location")).toMatch(/^\/mfa\//);
  });

  it("never writes a one-time link's token into the request log (10)", async () => {
    const token = randomBytes(32).toString("base64url");
    await new HttpClient(server.baseUrl).get(`/activate/${token}`);
    await fetch(`${server.baseUrl}/activate/${token}`, { method: "POST", headers: { Origin: "http://evil.example", "Content-Type": "application/x-www-form-urlencoded" }, body: "password=x" });
    const lines = logs.filter((l) => l.includes("/activate/"));
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const line of lines) {
      expect(line).not.toContain(token);
      expect(line).toContain("/activate/[redacted]");
    }
  });
});

describeEachDatabase("no deadlock reaches a user (2)", { demo: true }, (use) => {
  it("approving a request while the user is reset to baseline or deactivated: every round ends in one consistent answer, never a server error", async () => {
    const { db, url, kind } = use();
    // Separate pools, as separate requests of a server would have them (PGlite runs one thing at a time anyway).
    const other = url ? openDatabase({ databaseUrl: url, maxConnections: 4 }) : null;
    const second = other?.db ?? db;
    try {
      const maker = await contextFor(db, "maker@b01234.demo");
      const rounds = kind === "postgres" ? 25 : 5;
      for (let round = 0; round < rounds; round++) {
        const { user, requests } = await createUser(maker, {
          participantId: "B01234",
          email: `race-${round}-${randomBytes(3).toString("hex")}@harbourview.example`,
          displayName: `Race ${round}`,
          roles: ["si_maker", "trade_info_viewer"],
        });
        const checker = { ...(await contextFor(db, "checker@b01234.demo")), db: second };
        const resetter = await contextFor(db, "maker@b01234.demo");
        const [fresh] = await db.select().from(users).where(eq(users.id, user.id));
        const outcomes = await Promise.allSettled([
          decideRequest(checker, { requestId: requests[0]!, decision: "approve" }),
          decideRequest(checker, { requestId: requests[1]!, decision: "approve" }),
          round % 2 === 0
            ? resetRolesToBaseline(resetter, { userId: user.id, ticketRef: "INC-9", reason: "Back to the baseline" })
            : changeUserStatus(resetter, { userId: user.id, action: "deactivate", version: fresh!.version, reason: "Left the firm" }),
        ]);
        for (const outcome of outcomes) {
          if (outcome.status === "rejected") expect(outcome.reason, `round ${round}`).toBeInstanceOf(AppError);
        }
        // Whatever the order, no grant outlives what the other command did.
        const grants = await db.select().from(roleGrants).where(eq(roleGrants.userId, user.id));
        const pending = await db.select().from(grantRequests).where(eq(grantRequests.userId, user.id));
        if (round % 2 === 0 && outcomes[2]!.status === "fulfilled") {
          // The GCP baseline has no SI maker: whichever came first, the reset leaves none.
          expect(grants.filter((g) => g.status === "active" && g.roleCode === "si_maker"), `round ${round}`).toEqual([]);
        }
        if (round % 2 === 1 && outcomes[2]!.status === "fulfilled") {
          expect(grants.filter((g) => g.status === "active"), `round ${round}`).toEqual([]);
          expect(pending.filter((r) => r.status === "pending"), `round ${round}`).toEqual([]);
        }
      }
    } finally {
      await other?.close();
    }
  }, 120_000);
});
