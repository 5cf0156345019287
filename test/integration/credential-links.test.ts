import { and, eq } from "drizzle-orm";
import { afterEach, beforeAll, expect, it } from "vitest";
import { auditEvents, credentialLinks, mailOutbox, sessions, users } from "../../db/schema";
import type { Database } from "../../db/client.server";
import { AppError } from "../../app/lib/errors";
import { ANONYMOUS_ACTOR } from "../../app/modules/context.server";
import { inspectLink, redeemLink } from "../../app/modules/users/links.server";
import { createUser } from "../../app/modules/users/service.server";
import { performSupportAction } from "../../app/modules/users/support.server";
import { contextFor, createConsoleUser, registerParticipant } from "../factories";
import { describeEachDatabase } from "../support/databases";
import { HOUR, TestClock } from "../support/clock";

const info = { requestId: "links-test", ip: "203.0.113.9", userAgent: "vitest" };
const redeem = (db: Database, token: string, password: string, confirmation: string) =>
  redeemLink({ db, actor: ANONYMOUS_ACTOR, ...info }, { token, password, confirmation });
const GOOD = "harbour lanterns drift at dusk";

describeEachDatabase("activation and password-reset links (SPEC §5)", (use) => {
  let clock: TestClock | null = null;
  afterEach(() => clock?.stop());
  beforeAll(async () => {
    const db = use().db;
    await registerParticipant(db, { id: "K00001" });
    await createConsoleUser(db, { email: "maker@k00001.test", participantId: "K00001", password: "irrelevant-for-this-test", roleCodes: ["da_maker"] });
    await createConsoleUser(db, { email: "helpdesk@k00001.test", participantId: null, password: null, roleCodes: ["helpdesk"] });
  });

  /** Creates an invited user through the maker and returns the token from the mail it was sent. */
  async function invite(email: string) {
    const db = use().db;
    const maker = await contextFor(db, "maker@k00001.test");
    const { user } = await createUser({ ...maker, baseUrl: "https://console.example" }, { participantId: "K00001", email, displayName: "Kim Lo" });
    const [mail] = await db.select().from(mailOutbox).where(and(eq(mailOutbox.toAddress, email), eq(mailOutbox.kind, "invitation")));
    const token = /https:\/\/console\.example\/activate\/([A-Za-z0-9_-]+)/.exec(mail!.body)![1]!;
    return { user, token };
  }

  it("creating a user mails a one-time link; only its hash is stored and no audit event holds the token", async () => {
    const db = use().db;
    const { user, token } = await invite("kim.lo@k00001.test");
    expect(token.length).toBeGreaterThanOrEqual(43); // 256 bits, base64url
    const [link] = await db.select().from(credentialLinks).where(eq(credentialLinks.userId, user.id));
    expect(link!.tokenHash).toMatch(/^[0-9a-f]{64}$/);
    expect(link!.tokenHash).not.toContain(token);
    expect(link!.expiresAt.getTime() - link!.createdAt.getTime()).toBe(72 * HOUR);
    expect(JSON.stringify(await db.select().from(auditEvents))).not.toContain(token);
    expect(await inspectLink(db, token)).toEqual({ valid: true, purpose: "invitation", email: "kim.lo@k00001.test" });
  });

  it("refuses a weak password with a field message and changes nothing; a good one activates the account, once", async () => {
    const db = use().db;
    const { user, token } = await invite("sam.ng@k00001.test");
    for (const [password, key] of [
      ["short", "password.tooShort"],
      ["qwerty123456", "password.common"],
      ["samng-k00001-pass", "password.personal"],
    ] as const) {
      const error = await redeem(db, token, password, password).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AppError);
      expect((error as AppError).fieldErrors.password).toBe(key);
    }
    const mismatch = await redeem(db, token, GOOD, `${GOOD}!`).catch((e: unknown) => e);
    expect((mismatch as AppError).fieldErrors.confirmation).toBe("password.mismatch");
    expect((await db.select().from(users).where(eq(users.id, user.id)))[0]!.status).toBe("invited");

    expect(await redeem(db, token, GOOD, GOOD)).toEqual({ purpose: "invitation" });
    const [after] = await db.select().from(users).where(eq(users.id, user.id));
    expect(after!.status).toBe("active");
    expect(after!.passwordHash).toMatch(/^\$argon2id\$/);
    const again = await redeem(db, token, GOOD, GOOD).catch((e: unknown) => e);
    expect((again as AppError).messageKey).toBe("link.invalid");
    expect(await inspectLink(db, token)).toEqual({ valid: false });
  });

  it("an expired, a tampered and a replaced link all fail alike", async () => {
    const db = use().db;
    const { token } = await invite("expired@k00001.test");
    expect(await inspectLink(db, `${token.slice(0, -2)}xx`)).toEqual({ valid: false });
    clock = new TestClock(Date.now() + 73 * HOUR).start();
    expect(await inspectLink(db, token)).toEqual({ valid: false });
    const late = await redeem(db, token, GOOD, GOOD).catch((e: unknown) => e);
    expect((late as AppError).messageKey).toBe("link.invalid");
  });

  it("a helpdesk reset mails a new link, voids the old one, and using it ends the user's sessions", async () => {
    const db = use().db;
    const { user, token: first } = await invite("reset.me@k00001.test");
    await redeem(db, first, GOOD, GOOD);
    await db.insert(sessions).values({ id: "s-reset-test", userId: user.id, expiresAt: new Date(Date.now() + HOUR), absoluteExpiresAt: new Date(Date.now() + HOUR), lastSeenAt: new Date() });
    const helpdesk = await contextFor(db, "helpdesk@k00001.test");
    await performSupportAction({ ...helpdesk, baseUrl: "https://console.example" }, { userId: user.id, action: "password_reset", ticketRef: "INC-42", reason: "Forgot it; verified by call-back." });
    await performSupportAction({ ...helpdesk, baseUrl: "https://console.example" }, { userId: user.id, action: "password_reset", ticketRef: "INC-43", reason: "Asked again; verified by call-back." });
    const mails = await db.select().from(mailOutbox).where(and(eq(mailOutbox.toAddress, "reset.me@k00001.test"), eq(mailOutbox.kind, "password_reset")));
    expect(mails).toHaveLength(2);
    const tokenOf = (body: string) => /activate\/([A-Za-z0-9_-]+)/.exec(body)![1]!;
    expect(await inspectLink(db, tokenOf(mails[0]!.body))).toEqual({ valid: false });
    const second = tokenOf(mails[1]!.body);
    expect(await redeem(db, second, "a brand new passphrase here", "a brand new passphrase here")).toEqual({ purpose: "password_reset" });
    expect(await db.select().from(sessions).where(eq(sessions.userId, user.id))).toEqual([]);
  });
});

