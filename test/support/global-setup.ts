import postgres from "postgres";
import { build, staleness } from "../../bin/build.mjs";
import { chromiumPath } from "./browser-path";

/**
 * Says plainly, once per run, which databases and whether a browser are used, and fails the run at once when
 * REQUIRE_POSTGRES=1 or REQUIRE_BROWSER=1 asks for what is missing.
 */
export default async function globalSetup() {
  const lines: string[] = ["PGlite (embedded PostgreSQL): always"];
  const url = process.env.TEST_DATABASE_URL;
  const requirePostgres = process.env.REQUIRE_POSTGRES === "1";
  if (!url) {
    if (requirePostgres) throw new Error("REQUIRE_POSTGRES=1 but TEST_DATABASE_URL is not set.");
    lines.push("PostgreSQL: SKIPPED (set TEST_DATABASE_URL, e.g. postgres://postgres@127.0.0.1:5432/postgres)");
  } else {
    const sql = postgres(url, { max: 1, connect_timeout: 5, onnotice: () => {} });
    try {
      const [row] = await sql`select current_setting('server_version') as v`;
      lines.push(`PostgreSQL ${row?.v}: yes (each test file creates its own database and drops it)`);
    } catch (error) {
      if (requirePostgres) throw new Error(`REQUIRE_POSTGRES=1 but PostgreSQL at TEST_DATABASE_URL is unreachable: ${String(error)}`);
      lines.push(`PostgreSQL: SKIPPED (TEST_DATABASE_URL unreachable: ${String(error)})`);
      process.env.TEST_DATABASE_URL = "";
    } finally {
      await sql.end({ timeout: 1 });
    }
  }
  const browser = chromiumPath();
  if (browser) lines.push(`Browser tests: Chromium at ${browser}`);
  else if (process.env.REQUIRE_BROWSER === "1") {
    throw new Error("REQUIRE_BROWSER=1 but Chromium was not found (apt-get install -y chromium, or set CHROMIUM_PATH).");
  } else lines.push("Browser tests: SKIPPED (Chromium not found: apt-get install -y chromium, or set CHROMIUM_PATH)");
  // The HTTP tests load build/index.js and the command tests run bin/console.mjs on it: build once here if a source
  // changed since, rather than test an old build or let the commands rebuild it in several workers at once.
  const stale = staleness();
  if (stale) {
    console.log(`\n${stale}: building (remix build).`);
    if (build() !== 0) throw new Error("remix build failed");
  }
  console.log(`\nTest environment:\n  ${lines.join("\n  ")}\n`);
}
