import { sql } from "drizzle-orm";
import { expect, it } from "vitest";
import { rowsOf } from "../../db/client.server";
import { compactJsonbText } from "../../app/modules/audit/explorer.server";
import { describeEachDatabase } from "../support/databases";

/**
 * The CSV export writes a JSON column as JSON.stringify of its value. It takes the database's jsonb text and drops
 * PostgreSQL's spaces instead of parsing it (compactJsonbText); where the two could differ it must say so (null)
 * and the export parses. Checked against the jsonb text each database really writes.
 */
const fast: unknown[] = [
  { status: { before: "pending", after: "approved" }, decidedBy: { before: null, after: "u-2" } },
  { userId: "user-4242", roleCode: "si_maker", source: "queue" },
  { text: 'a "quoted", spaced : text, with \\ backslash', empty: "", blank: "   " },
  { escapes: "line\nbreak\ttab\rreturn\u0001\u001f\b\f", unicode: "陳大文 — café ✓ 😀", slash: "a/b" },
  { nested: [1, -2, 0, [], {}, [true, false, null]], big: 123456789012345, negative: -987654321 },
  { "key with spaces": { " ": " " }, a1: "1a", x: "1: 2, 3" },
  ["a", "b", 3],
  "=SUM(A1)",
  "-1 leading minus",
  42,
  -7,
  true,
  null,
  {},
  [],
];
const slow: string[] = [
  '{"amount": 1.50}',
  '{"e": 1e3}',
  '{"ratio": 0.5}',
  '{"huge": 12345678901234567890}',
  '{"10": "ten", "9": "nine", "a": "letter"}',
  '{"1a": 1}',
  "[1.0, 2]",
  "-0.25",
];

describeEachDatabase("export JSON cells", { compatibility: true }, (use) => {
  async function jsonbText(json: string): Promise<string> {
    const [row] = rowsOf<{ t: string }>(await use().db.execute(sql`select ${json}::jsonb::text as t`));
    return row!.t;
  }

  it("drops PostgreSQL's spaces exactly as JSON.stringify would write the value", async () => {
    for (const value of fast) {
      const text = await jsonbText(JSON.stringify(value));
      expect(compactJsonbText(text), text).toBe(JSON.stringify(JSON.parse(text)));
    }
  });

  it("declines numbers it cannot copy as they are and keys JavaScript would reorder", async () => {
    for (const json of slow) {
      const text = await jsonbText(json);
      expect([null, JSON.stringify(JSON.parse(text))], text).toContain(compactJsonbText(text));
    }
    // Those that differ are declined, not copied wrong.
    expect(compactJsonbText(await jsonbText('{"amount": 1.50}'))).toBeNull();
    expect(compactJsonbText(await jsonbText('{"10": "ten", "a": "letter"}'))).toBeNull();
    expect(compactJsonbText(await jsonbText('{"huge": 12345678901234567890}'))).toBeNull();
  });
});
