import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import postgres from "postgres";
import type { TestProject } from "vitest/node";
import { chromiumPath } from "./browser-path";
import { dropLeftovers, makePgliteSnapshots, makePostgresTemplates, RUN_DIR_PREFIX, type DatabaseFixtures } from "./database-fixtures";

declare module "vitest" {
  export interface ProvidedContext {
    /** The run's migrated and seeded databases to clone (test/support/databases.ts). */
    databaseFixtures: DatabaseFixtures | null;
    /** A folder for the whole run (the snapshots, the pages axe has checked); removed at the end. */
    runDir: string;
  }
}

/**
 * What a run makes once for the integration and browser projects, whichever of them runs first: the checks of what
 * the run has and the databases' fixtures. Kept on globalThis because each project loads this file apart.
 */
interface Run {
  runDir: string;
  databases: Promise<DatabaseFixtures>;
  users: number;
  close(): Promise<void>;
}
const RUN = Symbol.for("ocp-console.test-run");
type WithRun = typeof globalThis & { [RUN]?: Promise<Run> };

/**
 * Says plainly, once per run, which databases and whether a browser are used, and fails the run at once when
 * REQUIRE_POSTGRES=1 or REQUIRE_BROWSER=1 asks for what is missing.
 */
async function checkEnvironment(): Promise<void> {
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
      lines.push(`PostgreSQL ${row?.v}: yes (each test file copies the run's template database, and drops its copy)`);
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
  if (!existsSync(path.resolve("build/index.js"))) {
    throw new Error("build/index.js is missing: run `npm run build` first (`npm test` does it for you).");
  }
  console.log(`\nTest environment:\n  ${lines.join("\n  ")}\n`);
}

async function startRun(): Promise<Run> {
  await checkEnvironment();
  const adminUrl = process.env.TEST_DATABASE_URL || null;
  await dropLeftovers(adminUrl);
  const runDir = mkdtempSync(path.join(tmpdir(), RUN_DIR_PREFIX));
  const postgresTemplates = adminUrl ? makePostgresTemplates(adminUrl) : Promise.resolve(null);
  const databases = Promise.all([makePgliteSnapshots(runDir), postgresTemplates]).then(([pglite, pg]) => ({
    pglite,
    postgres: pg?.templates ?? null,
  }));
  const run: Run = {
    runDir,
    databases,
    users: 0,
    async close() {
      await postgresTemplates.then((pg) => pg?.drop()).catch(() => {});
      rmSync(runDir, { recursive: true, force: true });
    },
  };
  // A failure here fails the run; the catch only keeps Node from reporting it a second time as unhandled.
  databases.catch(() => {});
  return run;
}

export default async function globalSetup(project: TestProject): Promise<() => Promise<void>> {
  const holder = globalThis as WithRun;
  holder[RUN] ??= startRun();
  const run = await holder[RUN];
  run.users++;
  const teardown = async () => {
    if (--run.users > 0) return;
    delete holder[RUN];
    await run.close();
  };
  try {
    project.provide("runDir", run.runDir);
    project.provide("databaseFixtures", await run.databases);
  } catch (error) {
    await teardown();
    throw error;
  }
  return teardown;
}
