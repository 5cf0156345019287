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
});
