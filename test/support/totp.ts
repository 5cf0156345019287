import { Secret, TOTP } from "otpauth";
import { eq } from "drizzle-orm";
import { vi } from "vitest";
import type { Database } from "../../db/client.server";
import { users } from "../../db/schema";
import { DEMO_TOTP_SECRET, TOTP_PERIOD_SECONDS, timeStepAt } from "../../app/auth/totp.server";
import { TEST_TOTP_SECRET } from "../factories";

/**
 * The tests' authenticator app. It knows the demo key (demo accounts), the factories' key (test users) and any key
 * it was shown on an enrolment page, and, like a person waiting for the next code, never offers a code of a time
 * step it has already used for that account on that server: the console refuses a code twice (RFC 6238 §5.2).
 */
const learnt = new Map<string, string>();
const lastStepUsed = new Map<string, number>();
const PERIOD_MS = TOTP_PERIOD_SECONDS * 1000;

const accountKey = (baseUrl: string, email: string) => `${baseUrl}|${email.trim().toLowerCase()}`;

/** Remembers the key an enrolment page showed (spaces as shown are dropped). */
export function learnKey(baseUrl: string, email: string, key: string): string {
  const secret = key.replace(/\s+/g, "");
  learnt.set(accountKey(baseUrl, email), secret);
  lastStepUsed.delete(accountKey(baseUrl, email));
  return secret;
}

export function keyOf(baseUrl: string, email: string): string {
  return learnt.get(accountKey(baseUrl, email)) ?? (email.trim().toLowerCase().endsWith(".demo") ? DEMO_TOTP_SECRET : TEST_TOTP_SECRET);
}

/** The code of a given time step (or of the step `at` falls in). */
export function codeAt(secret: string, step: number): string {
  return new TOTP({ secret: Secret.fromBase32(secret), digits: 6, period: TOTP_PERIOD_SECONDS, algorithm: "SHA1" }).generate({
    timestamp: step * PERIOD_MS,
  });
}

export function currentStep(): number {
  return timeStepAt(new Date());
}

/**
 * A fresh code for the account: the earliest step the console still accepts (one step either side of now) that has
 * not been used. If all three have been, it sets the account's last used step back on the server's database (see
 * below), or, without one, waits for the next step as a person would (and, under a frozen test clock, says it
 * cannot).
 */
export async function nextCode(baseUrl: string, email: string): Promise<string> {
  const key = accountKey(baseUrl, email);
  const secret = keyOf(baseUrl, email);
  for (;;) {
    const now = Date.now();
    const current = timeStepAt(new Date(now));
    // The step before now only while it stays acceptable for the round trip.
    const earliest = now % PERIOD_MS < PERIOD_MS - 10_000 ? current - 1 : current;
    const step = Math.max(earliest, (lastStepUsed.get(key) ?? -Infinity) + 1);
    if (step <= current + 1) {
      lastStepUsed.set(key, step);
      return codeAt(secret, step);
    }
    // All three steps the console accepts now are used. A person would wait for the next code; a test suite that
    // signs the same account in many times a minute cannot afford to. Where the server's database is known, the
    // account's last used step is set back instead, as if the earlier sign-ins had been a minute earlier. (Tests
    // about the replay rule type exact codes with codeAt and never come here.)
    const rewind = rewinders.get(baseUrl);
    if (rewind) {
      await rewind(email.trim().toLowerCase(), current - 2);
      lastStepUsed.set(key, current - 2);
      continue;
    }
    if (vi.isFakeTimers()) {
      throw new Error(`no unused TOTP code left for ${email} under the test clock: advance it by 30 s`);
    }
    await new Promise((resolve) => setTimeout(resolve, (step - 1) * PERIOD_MS - now + 50));
  }
}

const rewinders = new Map<string, (email: string, step: number) => Promise<void>>();

/** Lets nextCode set an account's last used step back on this server's database (see there). */
export function allowReplayRewind(baseUrl: string, db: Database): void {
  rewinders.set(baseUrl, async (email, step) => {
    await db.update(users).set({ totpLastStep: step }).where(eq(users.email, email));
  });
}

/** Forgets every key learnt and step used on a server: a later server may get the same address. */
export function forgetServer(baseUrl: string): void {
  for (const map of [learnt, lastStepUsed]) {
    for (const key of map.keys()) if (key.startsWith(`${baseUrl}|`)) map.delete(key);
  }
  rewinders.delete(baseUrl);
}

/** Marks a step as used (a test that typed a code itself). */
export function markUsed(baseUrl: string, email: string, step: number): void {
  const key = accountKey(baseUrl, email);
  lastStepUsed.set(key, Math.max(step, lastStepUsed.get(key) ?? -Infinity));
}
