import { describe, expect, it } from "vitest";
import { en } from "~/i18n/en";
import { formatHongKongTime, negotiateLocale, translator } from "~/i18n/messages";
import { zhHK } from "~/i18n/zh-HK";

const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe("message catalogues", () => {
  it("have exactly the same keys in English and Traditional Chinese", () => {
    expect(Object.keys(zhHK).sort()).toEqual(Object.keys(en).sort());
  });

  it("have no empty message", () => {
    for (const [locale, catalogue] of [["en", en], ["zh-HK", zhHK]] as const) {
      for (const [key, text] of Object.entries(catalogue)) {
        expect(text.trim(), `${locale} ${key}`).not.toBe("");
      }
    }
  });

  it("use the same placeholders in both languages", () => {
    for (const key of Object.keys(en) as (keyof typeof en)[]) {
      expect(placeholders(zhHK[key]), key).toEqual(placeholders(en[key]));
    }
  });

  it("fill placeholders in the reader's language", () => {
    expect(translator("en")("signIn.throttled", { seconds: 4 })).toBe(
      "Too many failed attempts. Try again in 4 seconds.",
    );
    expect(translator("zh-HK")("signIn.throttled", { seconds: 4 })).toBe("失敗次數過多，請於 4 秒後再試。");
  });
});

describe("choosing the reader's language", () => {
  it("keeps the language the reader chose", () => {
    expect(negotiateLocale("zh-HK", "en-GB,en;q=0.9")).toBe("zh-HK");
    expect(negotiateLocale("en", "zh-HK")).toBe("en");
  });

  it("follows the browser when nothing was chosen", () => {
    expect(negotiateLocale(undefined, "zh-HK,zh;q=0.9,en;q=0.8")).toBe("zh-HK");
    expect(negotiateLocale(undefined, "zh-TW")).toBe("zh-HK");
    expect(negotiateLocale(undefined, "en-GB,en;q=0.9")).toBe("en");
    expect(negotiateLocale(undefined, "fr-FR, zh;q=0.5")).toBe("zh-HK");
  });

  it("falls back to English for an unknown choice or language", () => {
    expect(negotiateLocale("de", null)).toBe("en");
    expect(negotiateLocale(undefined, "fr-FR,de;q=0.8")).toBe("en");
    expect(negotiateLocale(undefined, "")).toBe("en");
    expect(negotiateLocale(undefined, null)).toBe("en");
  });
});

describe("Hong Kong time", () => {
  it("shows midnight UTC as eight in the morning in Hong Kong", () => {
    const shown = formatHongKongTime("2026-01-01T00:00:00Z", "en");
    expect(shown).toContain("01/01/2026");
    expect(shown).toContain("08:00:00");
    expect(formatHongKongTime(new Date("2026-01-01T00:00:00Z"), "zh-HK")).toContain("08:00:00");
  });

  it("moves to the next day in Hong Kong when it is still the evening before in UTC", () => {
    const shown = formatHongKongTime("2025-12-31T16:30:00Z", "en");
    expect(shown).toContain("01/01/2026");
    expect(shown).toContain("00:30:00");
  });

  it("uses a 24-hour clock", () => {
    expect(formatHongKongTime("2026-06-30T10:15:00Z", "en")).toContain("18:15:00");
    // Midnight starts the day in both languages (a launch day's first instant), never "24:00" of the day before.
    expect(formatHongKongTime("2026-12-04T16:00:00Z", "zh-HK")).toBe("05/12/2026 00:00:00");
    expect(formatHongKongTime("2026-12-04T16:00:00Z", "en")).toContain("05/12/2026");
  });
});
