import { describe, expect, it } from "vitest";
import { checkTotpCode, groupedKey, newTotpSecret, timeStepAt, totpUri } from "../../app/auth/totp.server";
import { codeAt } from "../support/totp";

// RFC 6238 Appendix B: the SHA-1 key is the ASCII "12345678901234567890"; its 8-digit codes end in our 6 digits.
const RFC_KEY = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const RFC_VECTORS: [number, string][] = [
  [59, "287082"],
  [1111111109, "081804"],
  [1111111111, "050471"],
  [1234567890, "005924"],
  [2000000000, "279037"],
  [20000000000, "353130"],
];

describe("TOTP codes (RFC 6238)", () => {
  it.each(RFC_VECTORS)("at %i s accepts the RFC's code %s", (seconds, code) => {
    const at = new Date(seconds * 1000);
    expect(checkTotpCode(RFC_KEY, code, null, at)).toEqual({ ok: true, step: timeStepAt(at) });
    expect(codeAt(RFC_KEY, timeStepAt(at))).toBe(code);
  });

  it("accepts one step either side of now, no further", () => {
    const at = new Date(1_800_000_015_000);
    const now = timeStepAt(at);
    for (const offset of [-1, 0, 1]) {
      expect(checkTotpCode(RFC_KEY, codeAt(RFC_KEY, now + offset), null, at)).toEqual({ ok: true, step: now + offset });
    }
    for (const offset of [-3, -2, 2, 3]) {
      expect(checkTotpCode(RFC_KEY, codeAt(RFC_KEY, now + offset), null, at)).toEqual({ ok: false, reason: "wrong-code" });
    }
  });

  it("refuses a code of the last used step or an earlier one as already used", () => {
    const at = new Date(1_800_000_015_000);
    const now = timeStepAt(at);
    expect(checkTotpCode(RFC_KEY, codeAt(RFC_KEY, now), now, at)).toEqual({ ok: false, reason: "code-already-used" });
    expect(checkTotpCode(RFC_KEY, codeAt(RFC_KEY, now - 1), now, at)).toEqual({ ok: false, reason: "code-already-used" });
    expect(checkTotpCode(RFC_KEY, codeAt(RFC_KEY, now + 1), now, at)).toEqual({ ok: true, step: now + 1 });
  });

  it("ignores spaces and treats anything but six digits as a wrong code", () => {
    const at = new Date(59_000);
    expect(checkTotpCode(RFC_KEY, " 287 082 ", null, at).ok).toBe(true);
    for (const junk of ["", "28708", "2870822", "abcdef", "２８７０８２", "287082\u0000"]) {
      expect(checkTotpCode(RFC_KEY, junk, null, at)).toEqual({ ok: false, reason: "wrong-code" });
    }
  });

  it("makes 160-bit base32 keys, never the same twice, shown in groups of four", () => {
    const keys = new Set(Array.from({ length: 50 }, () => newTotpSecret()));
    expect(keys.size).toBe(50);
    for (const key of keys) expect(key).toMatch(/^[A-Z2-7]{32}$/);
    expect(groupedKey("JBSWY3DPEHPK3PXP")).toBe("JBSW Y3DP EHPK 3PXP");
  });

  it("names the console and the account in the otpauth URI an authenticator scans", () => {
    const uri = new URL(totpUri("JBSWY3DPEHPK3PXP", "maker@b01234.demo"));
    expect(uri.protocol).toBe("otpauth:");
    expect(uri.host).toBe("totp");
    expect(decodeURIComponent(uri.pathname)).toBe("/OCP Onboarding Console:maker@b01234.demo");
    expect(Object.fromEntries(uri.searchParams)).toEqual({
      issuer: "OCP Onboarding Console",
      secret: "JBSWY3DPEHPK3PXP",
      algorithm: "SHA1",
      digits: "6",
      period: "30",
    });
  });
});
