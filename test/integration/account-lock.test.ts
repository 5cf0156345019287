import { eq } from "drizzle-orm";
import { afterEach, beforeAll, expect, it } from "vitest";
import { users } from "../../db/schema";
import { signIn, type SignInEnv } from "../../app/auth/sign-in.server";
import { LOCK_AFTER_FAILURES, LOCK_COOL_DOWN_MS } from "../../app/auth/rules";
import { createConsoleUser, registerParticipant } from "../factories";
import { describeEachDatabase } from "../support/databases";
import { MINUTE, TestClock } from "../support/clock";

const PASSWORD = "correct horse battery staple";

describeEachDatabase("locking an account after failed sign-ins (SPEC §4)", { compatibility: true }, (use) => {
  let clock: TestClock | null = null;
  const env = (): SignInEnv => ({ db: use().db, secureCookie: false, demoMode: false, requestId: "lock-test", ip: "198.51.100.7", userAgent: "vitest" });
  beforeAll(async () => {
    await registerParticipant(use().db, { id: "L00001" });
    await createConsoleUser(use().db, { email: "lock@example.test", participantId: "L00001", password: PASSWORD, roleCodes: ["da_maker"] });
  });
  afterEach(() => clock?.stop());

  const status = async () => (await use().db.select({ status: users.status }).from(users).where(eq(users.email, "lock@example.test")))[0]?.status;

  it("locks after ten wrong passwords in a row, refuses the right one while locked, and unlocks itself after the cool-down", async () => {
    clock = new TestClock().start();
    for (let i = 0; i < LOCK_AFTER_FAILURES; i++) {
      // Wait out the growing delay, so every attempt is weighed rather than throttled.
      clock.advance(6 * MINUTE);
      expect((await signIn(env(), { email: "lock@example.test", password: "wrong password" })).ok).toBe(false);
    }
    expect(await status()).toBe("locked");
    clock.advance(6 * MINUTE);
    const whileLocked = await signIn(env(), { email: "lock@example.test", password: PASSWORD });
    expect(whileLocked).toEqual({ ok: false, reason: "invalid" });
    clock.advance(LOCK_COOL_DOWN_MS);
    const after = await signIn(env(), { email: "lock@example.test", password: PASSWORD });
    expect(after.ok).toBe(true);
    expect(await status()).toBe("active");
  });
});
