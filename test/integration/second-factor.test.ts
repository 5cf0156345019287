import { eq } from "drizzle-orm";
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from "vitest";
import { sessions, users } from "../../db/schema";
import { DEMO_PASSWORD } from "../../app/modules/demo";
import { DEMO_TOTP_SECRET } from "../../app/auth/totp.server";
import { performSupportAction } from "../../app/modules/users/support.server";
import type { ServiceContext } from "../../app/modules/context.server";
import { contextFor, TEST_TOTP_SECRET } from "../factories";
import { createFirm } from "../support/access";
import { auditEventsSince, lastAuditId } from "../support/audit";
import { HOUR, MINUTE, TestClock } from "../support/clock";
import { describeEachDatabase } from "../support/databases";
import { HttpClient, shownKeyIn, startServer, type RunningServer } from "../support/server";
import { codeAt, currentStep, keyOf, markUsed } from "../support/totp";

const OFFICER = "officer@hkex.demo";
const STEP_MS = 30_000;

/** The page as text, without markup: what a reader sees. */
async function textOf(response: Response): Promise<string> {
  return (await response.text()).replace(/<[^>]+>/g, " ").replace(/\s+/g, " ");
}

describeEachDatabase("two-factor authentication (TOTP)", { demo: true }, (use) => {
  let server: RunningServer;
  let helpdesk: ServiceContext;
  // Each test starts hours after the last: no throttling or used code carries over, and time steps are exact.
  const clock = new TestClock();
  const db = () => use().db;
  const userByEmail = async (email: string) => (await db().select().from(users).where(eq(users.email, email)))[0]!;

  /** A client past the password only, on the second-factor page the console sent it to. */
  async function passwordOnly(email: string, password: string, redirectTo?: string) {
    const client = new HttpClient(server.baseUrl);
    const res = await client.signInPassword(email, password, redirectTo);
    expect(res.status).toBe(302);
    return { client, page: res.headers.get("location")! };
  }

  beforeAll(async () => {
    helpdesk = await contextFor(db(), "helpdesk@hkex.demo");
    server = await startServer(db());
  });
  afterAll(() => server?.close());
  beforeEach(() => {
    clock.start();
    // Mid-step, so that "the step before" and "the step after" are unambiguous.
    clock.advance(3 * HOUR + STEP_MS / 2 - (clock.current().getTime() % STEP_MS));
  });
  afterEach(() => clock.stop());

  it("lets a session that has passed only the password reach nothing but the second-factor page", async () => {
    const { client, page } = await passwordOnly(OFFICER, DEMO_PASSWORD);
    expect(page).toBe("/mfa/verify");
    for (const path of ["/", "/participants", "/activity", "/users/new", "/credentials", "/reports?report=mfa"]) {
      const res = await client.get(path);
      expect(res.status, path).toBe(302);
      expect(res.headers.get("location"), path).toBe(path === "/" ? "/mfa/verify" : `/mfa/verify?redirectTo=${encodeURIComponent(path)}`);
    }
    // A form posted past the second factor is not carried out either.
    const before = await lastAuditId(db());
    const post = await client.post("/participants/new", { id: "Z99999", nameEn: "Sneaky Clearing Limited", type: "GCP" });
    expect(post.status).toBe(302);
    expect(post.headers.get("location")).toMatch(/^\/mfa\/verify/);
    expect(await auditEventsSince(db(), before)).toEqual([]);
    // The sign-in page does not treat it as signed in, and shows no navigation.
    const login = await client.get("/login");
    expect(login.status).toBe(200);
    expect(await textOf(login)).not.toContain("Sign out");
    // The second-factor page itself asks for the code.
    const verify = await client.get("/mfa/verify");
    expect(verify.status).toBe(200);
    const text = await textOf(verify);
    expect(text).toContain("Enter the six-digit code your authenticator app shows for officer@hkex.demo.");
    expect(text).toContain("JBSWY3DPEHPK3PXP"); // demo mode publishes the demo key
  });

  it("accepts the current code, returns to the page asked for, and starts a new session id", async () => {
    const { client, page } = await passwordOnly(OFFICER, DEMO_PASSWORD, "/participants?x=1");
    expect(page).toBe("/mfa/verify?redirectTo=%2Fparticipants%3Fx%3D1");
    const halfway = client.cookieHeader();
    const res = await client.post(page, { code: codeAt(DEMO_TOTP_SECRET, currentStep()), redirectTo: "/participants?x=1" });
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("/participants?x=1");
    expect(client.cookieHeader()).not.toBe(halfway);
    const participants = await client.get("/participants");
    expect(participants.status).toBe(200);
    // Like every console page, not to be kept in any cache.
    expect(participants.headers.get("cache-control")).toBe("private, no-store");
    // The half-signed-in session id is worth nothing now.
    const res2 = await fetch(`${server.baseUrl}/participants`, { redirect: "manual", headers: { Cookie: halfway } });
    expect(res2.status).toBe(302);
    expect(res2.headers.get("location")).toMatch(/^\/login/);
    const officer = await userByEmail(OFFICER);
    expect(officer.totpLastStep).toBe(currentStep());
    expect(officer.lastSignInAt?.getTime()).toBe(clock.current().getTime());
  });

  it("accepts a code of the step before or after (clock drift), but none further off", async () => {
    for (const [offset, accepted] of [[-2, false], [2, false], [-1, true], [1, true]] as const) {
      clock.advance(HOUR);
      const { client, page } = await passwordOnly(OFFICER, DEMO_PASSWORD);
      const res = await client.post(page, { code: codeAt(DEMO_TOTP_SECRET, currentStep() + offset) });
      expect(res.status, `step ${offset}`).toBe(accepted ? 302 : 400);
    }
  });

  it("never accepts a code twice, nor an older one once a newer was used — even from another browser", async () => {
    const step = currentStep();
    const code = codeAt(DEMO_TOTP_SECRET, step);
    const first = await passwordOnly(OFFICER, DEMO_PASSWORD);
    expect((await first.client.post(first.page, { code })).status).toBe(302);

    const second = await passwordOnly(OFFICER, DEMO_PASSWORD);
    const replay = await second.client.post(second.page, { code });
    expect(replay.status).toBe(400);
    const text = await textOf(replay);
    expect(text).toContain("That code has already been used. Wait for your authenticator to show the next one. Attempts left: 4.");
    const older = await second.client.post(second.page, { code: codeAt(DEMO_TOTP_SECRET, step - 1) });
    expect(older.status).toBe(400);
    expect(await textOf(older)).toContain("That code has already been used.");
    // The next code, when it comes, works.
    clock.advance(STEP_MS);
    expect((await second.client.post(second.page, { code: codeAt(DEMO_TOTP_SECRET, step + 1) })).status).toBe(302);
    markUsed(server.baseUrl, OFFICER, step + 1);
  });

  it("lets exactly one of two sign-ins racing with the same code through", async () => {
    const a = await passwordOnly(OFFICER, DEMO_PASSWORD);
    const b = await passwordOnly(OFFICER, DEMO_PASSWORD);
    const code = codeAt(DEMO_TOTP_SECRET, currentStep());
    const statuses = (await Promise.all([a.client.post(a.page, { code }), b.client.post(b.page, { code })])).map((r) => r.status);
    expect(statuses.sort()).toEqual([302, 400]);
  });

  it("explains a wrong or malformed code by the field; five wrong codes end the sign-in", async () => {
    const { client, page } = await passwordOnly(OFFICER, DEMO_PASSWORD);
    const before = await lastAuditId(db());
    // Not six digits: bad input, nothing counted.
    for (const [code, message] of [
      ["", "This field is required."],
      ["12345", "Enter the six digits your authenticator shows."],
      ["abcdef", "Enter the six digits your authenticator shows."],
      ["1234567", "Enter the six digits your authenticator shows."],
    ]) {
      const res = await client.post(page, { code: code! });
      expect(res.status, code).toBe(400);
      expect(await textOf(res), code).toContain(message!);
    }
    expect(await auditEventsSince(db(), before)).toEqual([]);

    const right = codeAt(DEMO_TOTP_SECRET, currentStep());
    const wrong = right === "000000" ? "000001" : "000000";
    for (let left = 4; left >= 1; left--) {
      clock.advance(10 * 1000); // past the throttle's short delays, within the sign-in's time
      const res = await client.post(page, { code: wrong });
      expect(res.status).toBe(400);
      expect(await textOf(res)).toContain(`That code is not right. Check the time on your phone and try the current code. Attempts left: ${left}.`);
    }
    clock.advance(10 * 1000);
    const last = await client.post(page, { code: wrong });
    expect(last.status).toBe(302);
    expect(last.headers.get("location")).toBe("/login?secondFactorFailed=1");
    const login = await client.get("/login?secondFactorFailed=1");
    expect(await textOf(login)).toContain("Too many wrong codes, or the sign-in took too long. Sign in again with your password.");
    // The session is gone: even the right code now leads back to the password.
    expect((await client.get("/mfa/verify")).headers.get("location")).toMatch(/^\/login/);

    const events = await auditEventsSince(db(), before);
    expect(events.map((e) => [e.action, e.reason])).toEqual([
      ...Array.from({ length: 5 }, () => ["auth.mfa.failed", "wrong-code"]),
      ["auth.session.ended", "too-many-wrong-codes"],
    ]);
    for (const e of events) {
      expect(JSON.stringify(e)).not.toContain(wrong);
      expect(JSON.stringify(e)).not.toContain(DEMO_TOTP_SECRET);
    }
  });

  it("throttles codes like passwords: after three wrong ones, the next must wait", async () => {
    const { client, page } = await passwordOnly(OFFICER, DEMO_PASSWORD);
    const right = codeAt(DEMO_TOTP_SECRET, currentStep());
    const wrong = right === "999999" ? "999998" : "999999";
    for (let i = 0; i < 3; i++) expect((await client.post(page, { code: wrong })).status).toBe(400);
    const throttled = await client.post(page, { code: right });
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get("retry-after")).toBe("1");
    clock.advance(1000);
    expect((await client.post(page, { code: right })).status).toBe(302);
  });

  it("counts wrong codes toward the account lock, like wrong passwords: ten in a row lock it", async () => {
    const firm = await createFirm(db());
    const email = firm.checkerEmail;
    const wrong = () => (codeAt(TEST_TOTP_SECRET, currentStep()) === "123456" ? "654321" : "123456");
    const before = await lastAuditId(db());
    let last: Response | null = null;
    for (let signIn = 0; signIn < 2; signIn++) {
      clock.advance(70 * 1000); // past the throttle's longest delay for ten failures (64 s)
      const { client, page } = await passwordOnly(email, firm.password);
      for (let i = 0; i < 5; i++) {
        clock.advance(70 * 1000);
        last = await client.post(page, { code: wrong() });
      }
    }
    expect(last!.headers.get("location")).toBe("/login?secondFactorFailed=1");
    expect((await userByEmail(email)).status).toBe("locked");
    const actions = (await auditEventsSince(db(), before)).map((e) => e.action);
    expect(actions.filter((a) => a === "auth.mfa.failed")).toHaveLength(10);
    expect(actions.slice(-2)).toEqual(["user.locked", "auth.session.ended"]);
    // Locked: even the right password and code get nowhere until the cool-down or the helpdesk.
    clock.advance(5 * MINUTE); // past the throttle's delay after ten failures
    expect((await new HttpClient(server.baseUrl).signInPassword(email, firm.password)).status).toBe(401);
  });

  it("asks for a code, not enrolment, once the user has enrolled in another browser meanwhile", async () => {
    const firm = await createFirm(db());
    const email = firm.makerEmail;
    await db().update(users).set({ totpSecret: null, mfaEnrolledAt: null, totpLastStep: null }).where(eq(users.email, email));
    const first = await passwordOnly(email, firm.password);
    const second = await passwordOnly(email, firm.password);
    const keyOfPage = async (client: HttpClient) =>
      shownKeyIn(await (await client.get("/mfa/enrol")).text()).replace(/ /g, "");
    const [keyA, keyB] = [await keyOfPage(first.client), await keyOfPage(second.client)];
    expect(keyA).not.toBe(keyB);
    expect((await first.client.post("/mfa/enrol", { code: codeAt(keyA, currentStep()) })).status).toBe(302);
    // The other browser's offer is void: it is sent to the code page, and the enrolled key's next code works there.
    expect((await second.client.get("/mfa/enrol")).headers.get("location")).toBe("/mfa/verify");
    expect((await second.client.post("/mfa/verify", { code: codeAt(keyB, currentStep() + 1) })).status).toBe(400);
    expect((await second.client.post("/mfa/verify", { code: codeAt(keyA, currentStep() + 1) })).status).toBe(302);
    markUsed(server.baseUrl, email, currentStep() + 1);
  });

  it("ends a sign-in that has not passed the second factor within ten minutes", async () => {
    const { client, page } = await passwordOnly(OFFICER, DEMO_PASSWORD);
    clock.advance(10 * MINUTE);
    const res = await client.get(page);
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toMatch(/^\/login/);
  });

  it("makes a new user enrol before anything else: QR code and key, proved by a code, then verified at every sign-in", async () => {
    // An administrator who has never set up an authenticator (the factories' users come enrolled).
    const firm = await createFirm(db());
    const email = firm.makerEmail;
    await db().update(users).set({ totpSecret: null, mfaEnrolledAt: null, totpLastStep: null }).where(eq(users.email, email));

    const before = await lastAuditId(db());
    const { client, page } = await passwordOnly(email, firm.password, "/requests");
    expect(page).toBe("/mfa/enrol?redirectTo=%2Frequests");
    // Nothing else until enrolled; the verify page sends it to enrolment.
    expect((await client.get("/requests")).headers.get("location")).toBe("/mfa/enrol?redirectTo=%2Frequests");
    expect((await client.get("/mfa/verify")).headers.get("location")).toBe("/mfa/enrol");

    const enrol = await client.get(page);
    expect(enrol.status).toBe(200);
    expect(enrol.headers.get("cache-control")).toBe("private, no-store");
    const html = await enrol.text();
    expect(html).toContain("Set up two-factor authentication");
    const qr = /<img class="qr-code" src="data:image\/svg\+xml;base64,([^"]+)" alt="QR code holding the authenticator key for ([^"]+)"/.exec(html)!;
    expect(qr[2]).toBe(email);
    expect(Buffer.from(qr[1]!, "base64").toString()).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    const shown = shownKeyIn(html);
    expect(shown).toMatch(/^([A-Z2-7]{4} ){7}[A-Z2-7]{4}$/); // 160 bits, base32, in groups of four
    const key = shown.replace(/ /g, "");
    expect(key).not.toBe(TEST_TOTP_SECRET);
    // The same key on a reload (the authenticator may already have it), and nowhere in the database but the session.
    expect(await (await client.get(page)).text()).toContain(shown);
    expect((await userByEmail(email)).totpSecret).toBeNull();

    // A code from another key is refused; one from the key shown enrols it.
    const wrongKey = await client.post(page, { code: codeAt(TEST_TOTP_SECRET, currentStep()), redirectTo: "/requests" });
    expect(wrongKey.status).toBe(400);
    const done = await client.post(page, { code: codeAt(key, currentStep()), redirectTo: "/requests" });
    expect(done.status).toBe(302);
    expect(done.headers.get("location")).toBe("/requests");
    expect((await client.get("/requests")).status).toBe(200);
    const enrolled = await userByEmail(email);
    expect(enrolled.totpSecret).toBe(key);
    expect(enrolled.mfaEnrolledAt?.getTime()).toBe(clock.current().getTime());

    const events = await auditEventsSince(db(), before);
    expect(events.map((e) => [e.action, e.reason])).toEqual([
      ["auth.sign_in.password_accepted", null],
      ["auth.mfa.failed", "wrong-code"],
      ["auth.mfa.enrolled", null],
      ["auth.sign_in.succeeded", null],
    ]);
    for (const e of events) expect(JSON.stringify(e)).not.toContain(key);

    // The next sign-in asks for a code of that key, not for enrolment.
    clock.advance(STEP_MS);
    const again = await passwordOnly(email, firm.password);
    expect(again.page).toBe("/mfa/verify");
    expect((await again.client.post(again.page, { code: codeAt(key, currentStep()) })).status).toBe(302);
  });

  it("after a helpdesk reset, ends the user's sessions and sends them back to enrolment with a new key", async () => {
    const firm = await createFirm(db());
    const client = new HttpClient(server.baseUrl);
    expect((await client.signIn(firm.checkerEmail, firm.password)).status).toBe(302);
    expect((await client.get("/requests")).status).toBe(200);

    await performSupportAction(helpdesk, { userId: firm.checker.actor.userId!, action: "reset_mfa", ticketRef: "INC-7", reason: "Lost the phone with the authenticator." });
    const reset = await userByEmail(firm.checkerEmail);
    expect([reset.totpSecret, reset.mfaEnrolledAt, reset.totpLastStep]).toEqual([null, null, null]);
    expect(await db().select().from(sessions).where(eq(sessions.userId, reset.id))).toEqual([]);
    expect((await client.get("/requests")).headers.get("location")).toMatch(/^\/login/);

    clock.advance(STEP_MS);
    const { client: next, page } = await passwordOnly(firm.checkerEmail, firm.password);
    expect(page).toBe("/mfa/enrol");
    const key = shownKeyIn(await (await next.get(page)).text()).replace(/ /g, "");
    expect(key).not.toBe(keyOf(server.baseUrl, firm.checkerEmail));
    // The old authenticator's codes no longer work.
    expect((await next.post(page, { code: codeAt(TEST_TOTP_SECRET, currentStep()) })).status).toBe(400);
    expect((await next.post(page, { code: codeAt(key, currentStep()) })).status).toBe(302);
  });
});
