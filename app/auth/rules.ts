/** Pure sign-in rules: session lifetimes, throttling, and where a sign-in may send the browser. */

export const IDLE_TIMEOUT_MS = 30 * 60 * 1000;
export const ABSOLUTE_LIFETIME_MS = 12 * 60 * 60 * 1000;
/** How often a live session's last-seen time is written: idle expiry is exact to within this. */
export const LAST_SEEN_WRITE_INTERVAL_MS = 60 * 1000;

export interface SessionTimes {
  createdAt: Date;
  lastSeenAt: Date;
  absoluteExpiresAt: Date;
}

export type SessionVerdict = "valid" | "idle-expired" | "absolute-expired";

export function sessionVerdict(s: SessionTimes, now: Date): SessionVerdict {
  if (now.getTime() >= s.absoluteExpiresAt.getTime()) return "absolute-expired";
  if (now.getTime() - s.lastSeenAt.getTime() >= IDLE_TIMEOUT_MS) return "idle-expired";
  return "valid";
}

/** The server-side expiry to store after activity at `now`: idle limit, never past the absolute limit. */
export function nextExpiry(s: Pick<SessionTimes, "absoluteExpiresAt">, now: Date): Date {
  return new Date(Math.min(now.getTime() + IDLE_TIMEOUT_MS, s.absoluteExpiresAt.getTime()));
}

export interface ThrottlePolicy {
  /** Failures allowed in a row before delays start. */
  freeFailures: number;
  /** First delay, doubled with each further failure. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Hard ceiling of failed attempts in any rolling hour. */
  maxFailuresPerHour: number;
}

export const ACCOUNT_THROTTLE: ThrottlePolicy = {
  freeFailures: 3,
  baseDelayMs: 1000,
  maxDelayMs: 5 * 60 * 1000,
  maxFailuresPerHour: 100,
};

/** After this many failed sign-ins in a row an account is locked (SPEC §4), and unlocks itself after the cool-down. */
export const LOCK_AFTER_FAILURES = 10;
export const LOCK_COOL_DOWN_MS = 30 * 60 * 1000;
export const AUTO_LOCK_REASON = "too many failed sign-ins";

/**
 * One login name from one address: the same delays as the account's. Together with the account's own throttle it
 * slows guessing at one account without touching anybody else signing in from that address.
 */
export const ADDRESS_ACCOUNT_THROTTLE: ThrottlePolicy = ACCOUNT_THROTTLE;

/**
 * One address, whatever the login names: only a generous hourly ceiling, no delays. Behind a proxy or a firm's
 * NAT many people share an address (docs/operations.md, TRUST_PROXY), so failures of some must never delay the
 * sign-ins of the others; the ceiling stops a single address spraying guesses across thousands of accounts.
 */
export const ADDRESS_CEILING: ThrottlePolicy = {
  freeFailures: Number.MAX_SAFE_INTEGER,
  baseDelayMs: 0,
  maxDelayMs: 0,
  maxFailuresPerHour: 2000,
};

export interface FailureHistory {
  /** Failures since the last success (within the last hour). */
  consecutiveFailures: number;
  lastFailureAt: Date | null;
  /** Failures in the last hour, and the oldest of them. */
  failuresInHour: number;
  oldestFailureInHourAt: Date | null;
}

/** The delay that must have passed since the last failure before another attempt is weighed. */
export function requiredDelayMs(policy: ThrottlePolicy, consecutiveFailures: number): number {
  if (consecutiveFailures < policy.freeFailures) return 0;
  const exponent = consecutiveFailures - policy.freeFailures;
  return Math.min(policy.baseDelayMs * 2 ** Math.min(exponent, 30), policy.maxDelayMs);
}

/** Milliseconds to wait before the next attempt may be weighed; 0 when it may be weighed now. */
export function throttleWaitMs(policy: ThrottlePolicy, history: FailureHistory, now: Date): number {
  let wait = 0;
  if (history.failuresInHour >= policy.maxFailuresPerHour && history.oldestFailureInHourAt) {
    wait = history.oldestFailureInHourAt.getTime() + 60 * 60 * 1000 - now.getTime();
  }
  if (history.lastFailureAt) {
    const delay = requiredDelayMs(policy, history.consecutiveFailures);
    wait = Math.max(wait, history.lastFailureAt.getTime() + delay - now.getTime());
  }
  return Math.max(0, wait);
}

/**
 * Where to go after signing in: only a path on this site. Anything that a browser could read as another origin
 * (`//evil`, `/\evil`, `https://…`, control characters) falls back to the home page.
 */
/** A page, with `?redirectTo=` naming where to go once it is done; none when that is the home page. */
export function withComeBack(path: string, target: string | null | undefined): string {
  return !target || target === "/" ? path : `${path}?redirectTo=${encodeURIComponent(target)}`;
}

export function safeRedirectPath(target: unknown, fallback = "/"): string {
  if (typeof target !== "string" || target.length === 0 || target.length > 2000) return fallback;
  if (!target.startsWith("/") || target.startsWith("//") || target.startsWith("/\\")) return fallback;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\\]/.test(target)) return fallback;
  try {
    const url = new URL(target, "http://console.invalid");
    if (url.origin !== "http://console.invalid") return fallback;
    const path = url.pathname + url.search + url.hash;
    // Dot segments may collapse to a path starting "//" ("/a/..//evil.example"), which a browser reads as another
    // host: the normalised path is what is returned, so it is what is checked.
    if (path.startsWith("//") || path.startsWith("/\\")) return fallback;
    return path;
  } catch {
    return fallback;
  }
}

/** The key under which an account's attempts are counted: the login name as typed, normalised. */
export function emailKey(email: string): string {
  return email.trim().toLowerCase();
}
