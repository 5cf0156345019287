import { describe, expect, it } from "vitest";
import { findCodeLikeTokens, readPage } from "../support/crawl";

/** The crawl test's reader (test/support/crawl.ts) finds what it is for, and only in what a reader sees. */
describe("the crawl's page reader", () => {
  const page = (body: string, lang = "en") =>
    `<!DOCTYPE html><html lang="${lang}"><head><title>x</title><script>var role_code = "da_checker";</script></head><body>${body}<script>window.__remix = {"a":"si_maker"}</script></body></html>`;
  const rules = (html: string, locale: "en" | "zh-HK" = "en", names: string[] = []) =>
    findCodeLikeTokens(readPage(html), locale, names).map((f) => `${f.rule}: ${f.token}`);

  it("finds codes, keys, raw ids and times in visible text, attributes a reader meets included", () => {
    expect(
      rules(
        page(
          `<p>role.grant.requested by da_checker</p><p title="revokedBy">x</p><p>6534d995-0a3c-4c1e-9d7a-2b1f3c4d5e6f at 2026-01-01T00:00:00.000Z</p><p>undefined [object Object] {count} rows</p>`,
        ),
      ),
    ).toEqual([
      "unfilled placeholder: {count}",
      "empty value: undefined",
      "empty value: [object Object]",
      "ISO timestamp: 2026-01-01T00:00:00.000Z",
      "raw UUID: 6534d995-0a3c-4c1e-9d7a-2b1f3c4d5e6f",
      "snake_case identifier: da_checker",
      "dotted identifier: role.grant.requested",
      "camelCase identifier: revokedBy",
    ]);
  });

  it("reads nothing in scripts, styles, hidden elements or an identifier's <code>, and keeps names, emails and hosts", () => {
    expect(
      rules(page(`<style>.a_b{}</style><div hidden>si_maker</div><p>Client <code>b01234_simu-6534d995-0a3c-4c1e-9d7a-2b1f3c4d5e6f</code></p><p>mandy_chan@harbourview.example on ocp.hkex.com, by Dr_Who</p>`), "en", ["Dr_Who"]),
    ).toEqual([]);
  });

  it("finds English on a Chinese page, but not acronyms, ids, names, BICs or text marked as English", () => {
    expect(
      rules(page(`<p>角色 pending，由 Mandy Maker 批核。OCP API 及 JWT；B01234；HVSCHKHH；<span lang="en">English</span>；日期 YYYY-MM-DD</p>`, "zh-HK"), "zh-HK", ["Mandy Maker"]),
    ).toEqual(["English on a Chinese page: pending"]);
  });

  it("collects same-page links but not downloads", () => {
    expect(readPage(page(`<a href="/users">Users</a><a href="/reports/export" download>CSV</a>`)).links).toEqual(["/users"]);
  });
});
