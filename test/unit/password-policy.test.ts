import { describe, expect, it } from "vitest";
import commonPasswords from "../../app/auth/common-passwords.json";
import { checkPassword } from "../../app/auth/password-policy";

const COMMON = new Set(commonPasswords as string[]);
const verdict = (password: string, context = {}) => {
  const v = checkPassword(password, COMMON, context);
  return v.ok ? "ok" : v.messageKey;
};

describe("password policy (SPEC §5, NIST SP 800-63B)", () => {
  it("ships a real list of common passwords", () => {
    expect(COMMON.size).toBeGreaterThan(40_000);
    expect(COMMON.has("password")).toBe(true);
  });

  it("asks for at least 12 characters and no composition rules", () => {
    expect(verdict("short pass")).toBe("password.tooShort");
    expect(verdict("harbour lanterns drift")).toBe("ok");
    expect(verdict("alllowercaseletters")).toBe("ok");
  });

  it("refuses common passwords, also with digits or symbols around them", () => {
    expect(verdict("qwerty123456")).toBe("password.common");
    expect(verdict("1qaz2wsx3edc")).toBe("password.common");
    expect(verdict("Password2026!")).toBe("password.common");
    expect(verdict("!!sunshine!!2026")).toBe("password.common");
  });

  it("refuses sequences and repetitions", () => {
    expect(verdict("abcdefghijklm")).toBe("password.pattern");
    expect(verdict("aaaaaaaaaaaaaa")).toBe("password.pattern");
    expect(verdict("xyzxyzxyzxyz")).toBe("password.pattern");
    expect(verdict("987654321098")).toBe("password.pattern");
  });

  it("refuses a password built on the user's name or email", () => {
    expect(verdict("wongmandy-harbour-9", { email: "mandy.wong@harbourview.example", displayName: "Mandy Wong" })).toBe("password.personal");
    expect(verdict("tea at the peak tram", { email: "mandy.wong@harbourview.example", displayName: "Mandy Wong" })).toBe("ok");
  });

  it("accepts up to 256 characters", () => {
    const long = Array.from({ length: 40 }, (_, i) => `ferry${i * 7}`).join(" ").slice(0, 256);
    expect(long.length).toBe(256);
    expect(verdict(long)).toBe("ok");
    expect(verdict("a quiet harbour ".repeat(16))).toBe("password.pattern");
    expect(verdict("x".repeat(300))).toBe("password.tooLong");
  });
});
