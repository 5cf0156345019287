/**
 * The password policy of SPEC §5 (NIST SP 800-63B): at least 12 characters, no composition rules, refused when it is
 * a common password (the list in common-passwords.json, from the MIT-licensed @zxcvbn-ts/language-common, lower-
 * cased, 6 characters and more), a common password with digits or symbols added, a run or a repetition, or built on
 * the user's own name or email.
 */
import type { MessageKey } from "~/i18n/messages";

export const MIN_PASSWORD_LENGTH = 12;
export const MAX_PASSWORD_LENGTH = 256;

export type PasswordVerdict = { ok: true } | { ok: false; messageKey: MessageKey };

const SEQUENCES = ["0123456789", "abcdefghijklmnopqrstuvwxyz", "qwertyuiop", "asdfghjkl", "zxcvbnm", "1qaz2wsx3edc4rfv"];

function isSequentialOrRepeated(value: string): boolean {
  const v = value.toLowerCase();
  if (new Set(v).size <= 2) return true;
  // A short unit repeated to fill the password: "abcabcabcabc", "passpasspass".
  for (let unit = 1; unit <= v.length / 2; unit++) {
    if (v.length % unit === 0 && v.slice(0, unit).repeat(v.length / unit) === v) return true;
  }
  return SEQUENCES.some((s) => {
    const both = s + s;
    const reversed = [...both].reverse().join("");
    return both.includes(v) || reversed.includes(v);
  });
}

export function checkPassword(
  password: string,
  commonPasswords: ReadonlySet<string>,
  context: { email?: string; displayName?: string } = {},
): PasswordVerdict {
  if ([...password].length < MIN_PASSWORD_LENGTH) return { ok: false, messageKey: "password.tooShort" };
  if (password.length > MAX_PASSWORD_LENGTH) return { ok: false, messageKey: "password.tooLong" };
  const lower = password.toLowerCase();
  const base = lower.replace(/[^a-z]+$/, "").replace(/^[^a-z]+/, "");
  if (commonPasswords.has(lower) || (base.length >= 6 && commonPasswords.has(base))) {
    return { ok: false, messageKey: "password.common" };
  }
  if (isSequentialOrRepeated(password)) return { ok: false, messageKey: "password.pattern" };
  const words = [context.email?.split("@")[0], ...(context.displayName?.split(/\s+/) ?? [])]
    .map((w) => w?.toLowerCase().replace(/[^a-z0-9]/g, "") ?? "")
    .filter((w) => w.length >= 4);
  if (words.some((w) => lower.includes(w))) return { ok: false, messageKey: "password.personal" };
  return { ok: true };
}
