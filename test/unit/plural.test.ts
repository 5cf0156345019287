import { describe, expect, it } from "vitest";
import { translator } from "../../app/i18n/messages";
import { counted } from "../../app/i18n/plural";

describe("counts with plurals (issue 14)", () => {
  it("says 1 row and 2 rows in English, and one form in Chinese", () => {
    const en = translator("en");
    const zh = translator("zh-HK");
    expect(counted(en, "en", "export.rows", 1)).toBe("1 row");
    expect(counted(en, "en", "export.rows", 0)).toBe("0 rows");
    expect(counted(en, "en", "export.rows", 2)).toBe("2 rows");
    expect(counted(en, "en", "export.events", 1)).toBe("1 event");
    expect(counted(zh, "zh-HK", "export.rows", 1)).toBe("1 行");
    expect(counted(zh, "zh-HK", "export.rows", 12)).toBe("12 行");
  });

  it("counts the rest of the console's counted words the same way", () => {
    const en = translator("en");
    const zh = translator("zh-HK");
    expect(counted(en, "en", "participants.count", 1)).toBe("1 participant");
    expect(counted(en, "en", "participants.count", 5)).toBe("5 participants");
    expect(counted(en, "en", "home.openWork", 1)).toBe("1 item waits for you in My work.");
    expect(counted(en, "en", "home.openWork", 3)).toBe("3 items wait for you in My work.");
    expect(counted(en, "en", "form.checkFields", 1)).toBe("Please correct the field marked below.");
    expect(counted(en, "en", "form.checkFields", 2)).toBe("Please correct the 2 fields marked below.");
    expect(counted(en, "en", "integrity.broken", 1)).toBe("1 chain is broken.");
    expect(counted(en, "en", "integrity.allIntact", 7)).toBe("All 7 chains are intact.");
    expect(counted(zh, "zh-HK", "form.checkFields", 2)).toBe("請更正以下標示的 2 個欄位。");
  });
});
