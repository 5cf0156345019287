import { en, type MessageKey } from "./en";
import { zhHK } from "./zh-HK";

export type { MessageKey };
export const LOCALES = ["en", "zh-HK"] as const;
export type Locale = (typeof LOCALES)[number];
export const DEFAULT_LOCALE: Locale = "en";
export const LOCALE_COOKIE = "ocp_lang";

const catalogues: Record<Locale, Record<MessageKey, string>> = { en, "zh-HK": zhHK };

export function isLocale(value: unknown): value is Locale {
  return typeof value === "string" && (LOCALES as readonly string[]).includes(value);
}

export function isMessageKey(value: unknown): value is MessageKey {
  return typeof value === "string" && value in en;
}

export type Translate = (key: MessageKey, params?: Record<string, string | number>) => string;

export function translator(locale: Locale): Translate {
  const catalogue = catalogues[locale];
  return (key, params) => {
    const text = catalogue[key] ?? en[key] ?? key;
    if (!params) return text;
    // A parameter may come in each language (a role's name): "{roleAName}" reads "roleANameZh" in Chinese, if given.
    const localized = (name: string) => (locale === "zh-HK" && params[`${name}Zh`] !== undefined ? params[`${name}Zh`] : params[name]);
    return text.replace(/\{(\w+)\}/g, (whole, name: string) => {
      const value = localized(name);
      return value === undefined ? whole : String(value);
    });
  };
}

/** The language to use: the reader's saved choice, else the browser's preference, else English. */
export function negotiateLocale(cookieValue: string | undefined, acceptLanguage: string | null): Locale {
  if (isLocale(cookieValue)) return cookieValue;
  if (acceptLanguage) {
    const wanted = acceptLanguage
      .split(",")
      .map((part) => part.trim().split(";")[0]?.toLowerCase() ?? "")
      .filter(Boolean);
    for (const tag of wanted) {
      if (tag === "en" || tag.startsWith("en-")) return "en";
      if (tag.startsWith("zh")) return "zh-HK";
    }
  }
  return DEFAULT_LOCALE;
}

const HK_TIME_ZONE = "Asia/Hong_Kong";

const HK_PARTS = new Intl.DateTimeFormat("en-GB", {
  timeZone: HK_TIME_ZONE,
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hourCycle: "h23",
});

/**
 * A time as Hong Kong readers expect it, whatever the server's or the browser's own time zone. Put together from
 * its parts rather than left to the locale's pattern: Node's and the browser's ICU join date and time differently
 * in zh-HK (a thin space in one), and the server's text must be the browser's or hydration fails.
 */
export function formatHongKongTime(value: Date | string, locale: Locale): string {
  const date = typeof value === "string" ? new Date(value) : value;
  const part = Object.fromEntries(HK_PARTS.formatToParts(date).map((p) => [p.type, p.value])) as Record<string, string>;
  const day = `${part.day}/${part.month}/${part.year}`;
  const clock = `${part.hour}:${part.minute}:${part.second}`;
  return locale === "zh-HK" ? `${day} ${clock}` : `${day}, ${clock}`;
}

/** A thing's name in the reader's language: the Chinese name on a Chinese page where one is stored, else the English. */
export function nameIn(locale: Locale, names: { nameEn: string; nameZh?: string | null }): string {
  return locale === "zh-HK" && names.nameZh ? names.nameZh : names.nameEn;
}
