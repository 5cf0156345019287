import { Secret, TOTP } from "otpauth";
import QRCode from "qrcode";
import { TOTP_DIGITS, TOTP_PERIOD_SECONDS } from "./totp";

export { TOTP_DIGITS, TOTP_PERIOD_SECONDS };

/**
 * RFC 6238 time-based one-time passwords, through the `otpauth` library: SHA-1, 6 digits, 30-second steps, the
 * parameters every authenticator app understands. A code is accepted for the current step and one step either
 * side (clock drift), and only for a step later than the last one accepted for the account, so that a code, once
 * used, can never be used again (RFC 6238 §5.2).
 */
export const TOTP_ISSUER = "OCP Onboarding Console";
/** Steps accepted either side of the server's current step. */
export const TOTP_WINDOW = 1;
/** Wrong codes one sign-in may enter before it must start again with the password. */
export const MAX_CODE_FAILURES_PER_SESSION = 5;
/** A signed-in session that has not passed the second factor within this time is ended. */
export const SECOND_FACTOR_TIMEOUT_MS = 10 * 60 * 1000;
/**
 * The key the demo accounts come enrolled with, so that a tester can add it to any authenticator. Demo only: the
 * seed gives it to demo accounts alone, and those cannot sign in when the server is not in demo mode.
 */
export const DEMO_TOTP_SECRET = "JBSWY3DPEHPK3PXP";

/** A new shared key: 160 random bits (RFC 4226 §4 recommends at least that), base32 as authenticators expect. */
export function newTotpSecret(): string {
  return new Secret({ size: 20 }).base32;
}

function totpFor(secret: string, account: string): TOTP {
  return new TOTP({
    issuer: TOTP_ISSUER,
    label: account,
    algorithm: "SHA1",
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD_SECONDS,
    secret: Secret.fromBase32(secret),
  });
}

/** The time step a moment falls in. */
export function timeStepAt(at: Date): number {
  return Math.floor(at.getTime() / 1000 / TOTP_PERIOD_SECONDS);
}

/** The digits of a code as typed, without the spaces authenticators show ("123 456"); null if it is no code. */
export function codeDigits(typed: string): string | null {
  const digits = typed.replace(/\s+/g, "");
  return new RegExp(`^\\d{${TOTP_DIGITS}}$`).test(digits) ? digits : null;
}

export type CodeVerdict = { ok: true; step: number } | { ok: false; reason: "wrong-code" | "code-already-used" };

/**
 * Judges a code typed by the user: the step it belongs to if it is right and newer than `lastStep`. Spaces are
 * ignored (authenticators show "123 456"); anything but six digits is simply a wrong code.
 */
export function checkTotpCode(secret: string, code: string, lastStep: number | null, at: Date): CodeVerdict {
  const token = codeDigits(code);
  if (!token) return { ok: false, reason: "wrong-code" };
  const delta = totpFor(secret, "-").validate({ token, timestamp: at.getTime(), window: TOTP_WINDOW });
  if (delta === null) return { ok: false, reason: "wrong-code" };
  const step = timeStepAt(at) + delta;
  if (lastStep !== null && step <= lastStep) return { ok: false, reason: "code-already-used" };
  return { ok: true, step };
}

/** The otpauth:// URI an authenticator scans (Key Uri Format), naming the console and the account. */
export function totpUri(secret: string, account: string): string {
  return totpFor(secret, account).toString();
}

/** The enrolment QR code as an SVG image in a data: URL (the page's content security policy allows data: images). */
export async function totpQrDataUrl(secret: string, account: string): Promise<string> {
  const svg = await QRCode.toString(totpUri(secret, account), { type: "svg", margin: 2, errorCorrectionLevel: "M" });
  return `data:image/svg+xml;base64,${Buffer.from(svg).toString("base64")}`;
}

/** The key as people copy it by hand: groups of four. */
export function groupedKey(secret: string): string {
  return secret.replace(/(.{4})(?=.)/g, "$1 ");
}
