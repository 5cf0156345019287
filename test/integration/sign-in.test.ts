import { and, eq, gt, like } from "drizzle-orm";
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from "vitest";
import { auditEvents, signInAttempts, users } from "../../db/schema";
import { DEMO_PASSWORD } from "../../app/modules/demo";
import { auditEventsSince, lastAuditId } from "../support/audit";
import { HOUR, TestClock } from "../support/clock";
import { describeEachDatabase } from "../support/databases";
import { HttpClient, startServer, type RunningServer } from "../support/server";

const MAKER = "maker@b01234.demo";
const WRONG_PASSWORD = "Tr0ub4dor&3-not-it";

/** Splits a Set-Cookie line into its value and lower-cased attribute names (with their values). */
function parseSetCookie(line: string) {
  const [pair, ...rest] = line.split(";").map((s) => s.trim());
  const attributes = new Map(
    rest.map((a) => {
      const i = a.indexOf("=");
      return i < 0 ? [a.toLowerCase(), ""] : [a.slice(0, i).toLowerCase(), a.slice(i + 1)];
    }),
  );
  return { pair: pair!, attributes };
}

function sessionCookieOf(response: Response) {
  const line = response.headers.getSetCookie().find((l) => l.startsWith("ocp_session="));
  if (!line) throw new Error(`no session cookie in ${response.status} answer`);
  return parseSetCookie(line);
}

/** The page as a reader gets it, without the per-request CSP nonce and request id (the one its header carries). */
async function pageText(response: Response): Promise<string> {
  const html = await response.text();
  const nonce = /nonce="([^"]+)"/.exec(html)?.[1];
  const requestId = response.headers.get("x-request-id");
  const plain = requestId ? html.replaceAll(requestId, "REQUEST-ID") : html;
  return nonce ? plain.replaceAll(nonce, "NONCE") : plain;
}

describeEachDatabase("sign-in over HTTP", { demo: true }, (use) => {
  let server: RunningServer;
  let secureServer: RunningServer;
  // Each test runs an hour or more after the last, so one test's failed attempts never throttle another's.
  const clock = new TestClock();

  beforeAll(async () => {
    server = await startServer(use().db);
    secureServer = await startServer(use().db, { COOKIE_SECURE: "1" });
  });
  afterAll(async () => {
    await server.close();
    await secureServer.close();
  });
  beforeEach(() => {
    clock.start();
    clock.advance(2 * HOUR);
  });
  afterEach(() => clock.stop());

  it("sets a browser-session cookie: HttpOnly, SameSite=Lax, Path=/, no Max-Age or Expires, not Secure over plain HTTP", async () => {
    const res = await new HttpClient(server.baseUrl).signIn(MAKER, DEMO_PASSWORD);
    expect(res.status).toBe(302);
    const { pair, attributes } = sessionCookieOf(res);
    expect(pair).toMatch(/^ocp_session=[a-z0-9]{20,}$/);
    expect(attributes.has("httponly")).toBe(true);
    expect(attributes.get("samesite")).toBe("Lax");
    expect(attributes.get("path")).toBe("/");
    expect(attributes.has("max-age")).toBe(false);
    expect(attributes.has("expires")).toBe(false);
    expect(attributes.has("secure")).toBe(false);
  });

  it("marks the session cookie Secure when started with COOKIE_SECURE=1", async () => {
    const res = await new HttpClient(secureServer.baseUrl).signIn(MAKER, DEMO_PASSWORD);
    expect(res.status).toBe(302);
    const { attributes } = sessionCookieOf(res);
    expect(attributes.has("secure")).toBe(true);
    expect(attributes.has("httponly")).toBe(true);
    expect(attributes.get("samesite")).toBe("Lax");
    expect(attributes.has("max-age")).toBe(false);
    expect(attributes.has("expires")).toBe(false);
  });

  it("clears the cookie on sign-out", async () => {
    const client = new HttpClient(server.baseUrl);
    await client.signIn(MAKER, DEMO_PASSWORD);
    const res = await client.post("/logout", {});
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("/login?signedOut=1");
    const { pair, attributes } = sessionCookieOf(res);
    expect(pair).toBe("ocp_session=");
    expect(attributes.get("max-age")).toBe("0");
  });

  it("sends the browser back to the page it asked for, on this site only", async () => {
    const cases: [string, string][] = [
      ["/participants?x=1", "/participants?x=1"],
      ["//evil.com", "/"],
      ["/\\evil.com", "/"],
      ["https://evil.com/", "/"],
      ["javascript:alert(1)", "/"],
    ];
    for (const [redirectTo, location] of cases) {
      const client = new HttpClient(server.baseUrl);
      // The password leads to the second factor, carrying the page along only if it is on this site…
      const first = await client.signInPassword(MAKER, DEMO_PASSWORD, redirectTo);
      expect(first.status, redirectTo).toBe(302);
      const secondFactor = location === "/" ? "/mfa/verify" : `/mfa/verify?redirectTo=${encodeURIComponent(location)}`;
      expect(first.headers.get("location"), redirectTo).toBe(secondFactor);
      // …and the code leads there; a redirectTo forged into the code form is cleaned the same way.
      const done = await client.completeSecondFactor(MAKER, `/mfa/verify?redirectTo=${encodeURIComponent(redirectTo)}`);
      expect(done.status, redirectTo).toBe(302);
      expect(done.headers.get("location"), redirectTo).toBe(location);
      clock.advance(30_000);
    }
  });

  it("sends a signed-in visitor of the sign-in page on, to this site only", async () => {
    const client = new HttpClient(server.baseUrl);
    await client.signIn(MAKER, DEMO_PASSWORD);
    expect((await client.get("/login?redirectTo=%2F%2Fevil.com")).headers.get("location")).toBe("/");
    expect((await client.get("/login?redirectTo=%2Fparticipants")).headers.get("location")).toBe("/participants");
  });

  it("asks an anonymous visitor to sign in and remembers the page", async () => {
    const res = await new HttpClient(server.baseUrl).get("/participants?x=1");
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("/login?redirectTo=%2Fparticipants%3Fx%3D1");
  });

  it("says the email or password is incorrect, with status 401, for a wrong password", async () => {
    const res = await new HttpClient(server.baseUrl).signIn(MAKER, WRONG_PASSWORD);
    expect(res.status).toBe(401);
    expect(res.headers.getSetCookie()).toEqual([]);
    expect(await res.text()).toContain("The email or password is incorrect.");
  });

  it("throttles after three wrong passwords: the next attempt, even with the right password, answers 429", async () => {
    const client = new HttpClient(server.baseUrl);
    for (let i = 0; i < 3; i++) expect((await client.signIn(MAKER, WRONG_PASSWORD)).status).toBe(401);

    const throttled = await client.signIn(MAKER, DEMO_PASSWORD);
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get("retry-after")).toBe("1");
    expect(throttled.headers.getSetCookie()).toEqual([]);
    expect(await throttled.text()).toContain("Too many failed attempts. Try again in 1 seconds.");

    // A delay, not a lock-out: once it has passed, the right password works.
    clock.advance(1000);
    expect((await client.signIn(MAKER, DEMO_PASSWORD)).status).toBe(302);
  });

  it("keeps throttling a login name however it is capitalised or padded", async () => {
    const client = new HttpClient(server.baseUrl);
    for (const email of [MAKER, " Maker@B01234.demo", "MAKER@b01234.DEMO "]) {
      expect((await client.signIn(email, WRONG_PASSWORD)).status).toBe(401);
    }
    expect((await client.signIn(MAKER, DEMO_PASSWORD)).status).toBe(429);
  });

  it("answers an unknown email exactly as it answers a known one with a wrong password", async () => {
    const known = new HttpClient(server.baseUrl);
    const unknown = new HttpClient(server.baseUrl);
    const answers = async (client: HttpClient, email: string, passwords: string[]) => {
      const out: { status: number; retryAfter: string | null; page: string }[] = [];
      for (const password of passwords) {
        const res = await client.signIn(email, password);
        out.push({ status: res.status, retryAfter: res.headers.get("retry-after"), page: await pageText(res) });
      }
      return out;
    };
    const fromKnown = await answers(known, MAKER, [WRONG_PASSWORD, WRONG_PASSWORD, WRONG_PASSWORD, DEMO_PASSWORD]);
    const fromUnknown = await answers(unknown, "nobody@b01234.demo", [
      WRONG_PASSWORD,
      WRONG_PASSWORD,
      WRONG_PASSWORD,
      DEMO_PASSWORD,
    ]);
    expect(fromKnown.map((a) => a.status)).toEqual([401, 401, 401, 429]);
    expect(fromUnknown).toEqual(fromKnown);
  });

  it("records every attempt as an audit event, with no password in it", async () => {
    const { db } = use();
    const before = await lastAuditId(db);
    const client = new HttpClient(server.baseUrl);
    await client.signIn(MAKER, WRONG_PASSWORD);
    await client.signIn("nobody@b01234.demo", WRONG_PASSWORD);
    await client.signIn(MAKER, WRONG_PASSWORD);
    await client.signIn(MAKER, WRONG_PASSWORD);
    await client.signIn(MAKER, DEMO_PASSWORD); // throttled
    clock.advance(1000);
    await client.signIn(MAKER, DEMO_PASSWORD);

    const events = await auditEventsSince(db, before);
    const [maker] = await db.select().from(users).where(eq(users.email, MAKER));
    expect(events.map((e) => [e.action, e.reason])).toEqual([
      ["auth.sign_in.failed", "wrong-password"],
      ["auth.sign_in.failed", "unknown-account"],
      ["auth.sign_in.failed", "wrong-password"],
      ["auth.sign_in.failed", "wrong-password"],
      ["auth.sign_in.failed", "throttled"],
      ["auth.sign_in.password_accepted", null],
      ["auth.sign_in.succeeded", null],
    ]);
    for (const e of events) {
      const stored = JSON.stringify(e);
      expect(stored).not.toContain(WRONG_PASSWORD);
      expect(stored).not.toContain(DEMO_PASSWORD);
      expect(e.ip).toBe("127.0.0.1");
      expect(e.requestId).toBeTruthy();
    }
    const [, unknownAttempt] = events;
    expect(unknownAttempt).toMatchObject({ entityId: null, participantId: null, chainKey: "platform" });
    expect(unknownAttempt!.metadata).toEqual({ email: "nobody@b01234.demo" });
    expect(events[0]).toMatchObject({ entityId: maker!.id, participantId: "B01234", chainKey: "B01234" });
    expect(events[6]).toMatchObject({
      entityId: maker!.id,
      actorUserId: maker!.id,
      actorName: "Mandy Maker (B01234)",
      actorPersona: "da_maker",
      participantId: "B01234",
    });
    // No secret in the throttling table either: only the normalised login name and the address.
    const attempts = await db
      .select()
      .from(signInAttempts)
      .where(gt(signInAttempts.attemptedAt, new Date(clock.current().getTime() - HOUR)));
    expect(JSON.stringify(attempts)).not.toContain(WRONG_PASSWORD);
  });

  it("refuses a demo account when the server is not in demo mode, with the usual answer", async () => {
    const production = await startServer(use().db, { DEMO_MODE: "0" });
    try {
      const before = await lastAuditId(use().db);
      const res = await new HttpClient(production.baseUrl).signIn(MAKER, DEMO_PASSWORD);
      expect(res.status).toBe(401);
      const page = await res.text();
      expect(page).toContain("The email or password is incorrect.");
      expect(page).not.toContain(DEMO_PASSWORD);
      const failed = await use()
        .db.select()
        .from(auditEvents)
        .where(and(gt(auditEvents.id, before), like(auditEvents.action, "auth.sign_in.%")));
      expect(failed.map((e) => e.reason)).toEqual(["demo-account-outside-demo-mode"]);
    } finally {
      await production.close();
    }
  });
});
