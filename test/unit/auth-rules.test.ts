import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ABSOLUTE_LIFETIME_MS,
  ACCOUNT_THROTTLE,
  IDLE_TIMEOUT_MS,
  nextExpiry,
  requiredDelayMs,
  safeRedirectPath,
  sessionVerdict,
  throttleWaitMs,
  type FailureHistory,
} from "~/auth/rules";

const MINUTE = 60 * 1000;
const T0 = new Date("2026-03-02T01:00:00Z");
const at = (ms: number) => new Date(T0.getTime() + ms);

describe("sign-in throttling", () => {
  it("lets the first three failures through without a delay", () => {
    expect([0, 1, 2].map((n) => requiredDelayMs(ACCOUNT_THROTTLE, n))).toEqual([0, 0, 0]);
  });

  it("doubles the delay with each further failure, up to five minutes", () => {
    const delays = [3, 4, 5, 6, 7].map((n) => requiredDelayMs(ACCOUNT_THROTTLE, n));
    expect(delays).toEqual([1000, 2000, 4000, 8000, 16000]);
    expect(requiredDelayMs(ACCOUNT_THROTTLE, 50)).toBe(5 * MINUTE);
    expect(requiredDelayMs(ACCOUNT_THROTTLE, 10_000)).toBe(5 * MINUTE);
  });

  it("asks the fourth attempt to wait one second after the third failure, then lets it through", () => {
    const history: FailureHistory = {
      consecutiveFailures: 3,
      lastFailureAt: T0,
      failuresInHour: 3,
      oldestFailureInHourAt: at(-2000),
    };
    expect(throttleWaitMs(ACCOUNT_THROTTLE, history, at(0))).toBe(1000);
    expect(throttleWaitMs(ACCOUNT_THROTTLE, history, at(400))).toBe(600);
    expect(throttleWaitMs(ACCOUNT_THROTTLE, history, at(1000))).toBe(0);
  });

  it("refuses the 101st failed attempt in an hour even after a success, until the oldest one is an hour old", () => {
    // A success reset the run of failures, but the hourly ceiling still holds.
    const history: FailureHistory = {
      consecutiveFailures: 0,
      lastFailureAt: at(-10 * MINUTE),
      failuresInHour: 100,
      oldestFailureInHourAt: at(-50 * MINUTE),
    };
    expect(throttleWaitMs(ACCOUNT_THROTTLE, history, T0)).toBe(10 * MINUTE);
    expect(throttleWaitMs(ACCOUNT_THROTTLE, history, at(10 * MINUTE))).toBe(0);
    expect(throttleWaitMs(ACCOUNT_THROTTLE, { ...history, failuresInHour: 99 }, T0)).toBe(0);
  });

  it("does not hold back an account with no failures", () => {
    const clean: FailureHistory = {
      consecutiveFailures: 0,
      lastFailureAt: null,
      failuresInHour: 0,
      oldestFailureInHourAt: null,
    };
    expect(throttleWaitMs(ACCOUNT_THROTTLE, clean, T0)).toBe(0);
  });
});

describe("where a sign-in may send the browser", () => {
  it.each([
    ["//evil.com"],
    ["//evil.com/participants"],
    ["/\\evil.com"],
    ["/\\/evil.com"],
    ["https://evil.com"],
    ["http://evil.com/participants"],
    ["javascript:alert(1)"],
    ["JavaScript:alert(1)"],
    ["/participants\u0000"],
    ["/\t/evil.com"],
    ["/\n/evil.com"],
    ["/participants\r\nSet-Cookie: x=1"],
    ["participants"],
    [""],
    ["/" + "a".repeat(2001)],
    // Dot segments that normalise to "//host" (issue 15, found by the security review).
    ["/a/..//evil.example"],
    ["/./..//evil.example/x"],
    ["/%2e%2e//evil.example"],
    ["/a/%2E%2E//evil.example?x=1"],
    ["/x/../../\\evil.example"],
  ])("refuses %j and goes home instead", (target) => {
    expect(safeRedirectPath(target)).toBe("/");
  });

  it("never answers a path a browser would take to another host, whatever dot segments it is built from (property)", () => {
    const segment = fc.constantFrom("a", "..", ".", "", "%2e%2e", "%2E%2e", "evil.example", "\\");
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 8 }), (parts) => {
        const answer = safeRedirectPath(`/${parts.join("/")}`);
        expect(answer.startsWith("//") || answer.startsWith("/\\")).toBe(false);
        expect(new URL(answer, "http://console.invalid").origin).toBe("http://console.invalid");
      }),
      { numRuns: 2000 },
    );
  });

  it("refuses values that are not text", () => {
    expect(safeRedirectPath(undefined)).toBe("/");
    expect(safeRedirectPath(null)).toBe("/");
    expect(safeRedirectPath(["/participants"])).toBe("/");
  });

  it("keeps a path on this site with its query and fragment", () => {
    expect(safeRedirectPath("/participants?x=1")).toBe("/participants?x=1");
    expect(safeRedirectPath("/participants/B01234#history")).toBe("/participants/B01234#history");
    expect(safeRedirectPath("/")).toBe("/");
  });

  it("uses the fallback it is given", () => {
    expect(safeRedirectPath("//evil.com", "/participants")).toBe("/participants");
  });
});

describe("session lifetime", () => {
  const signedInAt = T0;
  const session = (lastSeenAt: Date) => ({
    createdAt: signedInAt,
    lastSeenAt,
    absoluteExpiresAt: at(ABSOLUTE_LIFETIME_MS),
  });

  it("lasts 30 minutes without activity and not a moment longer", () => {
    expect(IDLE_TIMEOUT_MS).toBe(30 * MINUTE);
    expect(sessionVerdict(session(T0), at(29 * MINUTE))).toBe("valid");
    expect(sessionVerdict(session(T0), at(30 * MINUTE - 1))).toBe("valid");
    expect(sessionVerdict(session(T0), at(30 * MINUTE))).toBe("idle-expired");
    expect(sessionVerdict(session(T0), at(31 * MINUTE))).toBe("idle-expired");
  });

  it("ends 12 hours after sign-in however active the user is", () => {
    expect(ABSOLUTE_LIFETIME_MS).toBe(12 * 60 * MINUTE);
    const justActive = (ms: number) => session(at(ms - MINUTE));
    expect(sessionVerdict(justActive(12 * 60 * MINUTE - 1), at(12 * 60 * MINUTE - 1))).toBe("valid");
    expect(sessionVerdict(justActive(12 * 60 * MINUTE), at(12 * 60 * MINUTE))).toBe("absolute-expired");
    expect(sessionVerdict(justActive(13 * 60 * MINUTE), at(13 * 60 * MINUTE))).toBe("absolute-expired");
  });

  it("extends the stored expiry by the idle limit after activity, never past the absolute limit", () => {
    const s = { absoluteExpiresAt: at(ABSOLUTE_LIFETIME_MS) };
    expect(nextExpiry(s, at(MINUTE))).toEqual(at(31 * MINUTE));
    expect(nextExpiry(s, at(ABSOLUTE_LIFETIME_MS - 10 * MINUTE))).toEqual(at(ABSOLUTE_LIFETIME_MS));
  });
});
