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

const TIME_OPTIONS: Intl.DateTimeFormatOptions = {
  timeZone: HK_TIME_ZONE,
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hour12: false,
};

/**
 * One formatter per locale, built once: constructing an Intl.DateTimeFormat costs far more than formatting with one
 * (it was the hottest function of the server, issue 16).
 */
const TIME_FORMATS: Record<Locale, Intl.DateTimeFormat> = {
  en: new Intl.DateTimeFormat("en-GB", TIME_OPTIONS),
  "zh-HK": new Intl.DateTimeFormat("zh-HK", TIME_OPTIONS),
};

/** A time as Hong Kong readers expect it, whatever the server's or the browser's own time zone. */
export function formatHongKongTime(value: Date | string, locale: Locale): string {
  const date = typeof value === "string" ? new Date(value) : value;
  return (TIME_FORMATS[locale] ?? TIME_FORMATS.en).format(date);
}
