import type { Locale, MessageKey, Translate } from "./messages";

/** Counts that take a plural: each has a `.one` and an `.other` message in both catalogues. */
export type CountedKey = "export.rows" | "export.events" | "participants.count" | "home.openWork" | "home.approvalsWaiting" | "form.checkFields" | "integrity.allIntact" | "integrity.broken";

const RULES = { en: new Intl.PluralRules("en"), "zh-HK": new Intl.PluralRules("zh-HK") } as const;

/** "1 row", "2 rows"; Chinese has one form, and both keys say it. */
export function counted(t: Translate, locale: Locale, key: CountedKey, count: number, format: (n: number) => string = String): string {
  const form = RULES[locale].select(count) === "one" ? "one" : "other";
  return t(`${key}.${form}` as MessageKey, { count: format(count) });
}
