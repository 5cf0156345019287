import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import postgres from "postgres";
import type { TestProject } from "vitest/node";
import { build, staleness } from "../../bin/build.mjs";
import { chromiumPath } from "./browser-path";
import {
  dropLeftovers,
  dropPostgresTemplates,
  makePostgresTemplates,
  nameFixtures,
  recordOutcome,
  RUN_DIR_PREFIX,
  type DatabaseFixtures,
} from "./database-fixtures";

declare module "vitest" {
  export interface ProvidedContext {
    /** The run's migrated and seeded databases to clone (test/support/databases.ts). */
    databaseFixtures: DatabaseFixtures | null;
    /** A folder for the whole run (the snapshots, the pages axe has checked); removed at the end. */
    runDir: string;
  }
}

/**
 * What a run makes once for the integration and browser projects, whichever of them starts first: the checks of what
 * the run has and the databases' fixtures. Kept on globalThis because each project loads this file apart.
 */
interface Run {
  fixtures: DatabaseFixtures;
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
  // The HTTP tests load build/index.js and the command tests run bin/console.mjs on it: build once here if a source
  // changed since, rather than test an old build or let the commands rebuild it in several workers at once.
  const stale = staleness();
  if (stale) {
    console.log(`\n${stale}: building (remix build).`);
    if (build() !== 0) throw new Error("remix build failed");
  }
  console.log(`\nTest environment:\n  ${lines.join("\n  ")}\n`);
}

/**
 * Makes the PGlite snapshots in a process of its own (see make-pglite-snapshots.ts). `exited` resolves when it has
 * ended; `stop` ends it early, when the run is over before it is (a run of files that need none).
 */
function makePgliteSnapshotsApart(fixtures: DatabaseFixtures): { exited: Promise<void>; stop(): void } {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", path.resolve("test/support/make-pglite-snapshots.ts"), fixtures.runDir, JSON.stringify(fixtures.pglite)],
    { stdio: ["ignore", "inherit", "inherit"] },
  );
  const exited = new Promise<void>((resolve) => {
    child.once("error", (error) => {
      recordOutcome(fixtures.runDir, "pglite", error);
      resolve();
    });
    child.once("exit", (code, signal) => {
      recordOutcome(fixtures.runDir, "pglite", new Error(`the snapshot process ended (${signal ?? `exit ${code}`}) without a word`));
      resolve();
    });
  });
  return { exited, stop: () => child.exitCode === null && child.signalCode === null && child.kill() };
}

async function startRun(): Promise<Run> {
  await checkEnvironment();
  const adminUrl = process.env.TEST_DATABASE_URL || null;
  await dropLeftovers(adminUrl);
  const fixtures = nameFixtures(mkdtempSync(path.join(tmpdir(), RUN_DIR_PREFIX)), adminUrl !== null);
  // Neither is awaited here: the unit tests run while they are made, and a test file that needs one waits for it.
  const pglite = makePgliteSnapshotsApart(fixtures);
  const templates = fixtures.postgres;
  const postgresMade =
    adminUrl && templates
      ? makePostgresTemplates(adminUrl, templates).then(
          () => recordOutcome(fixtures.runDir, "postgres"),
          (error: unknown) => recordOutcome(fixtures.runDir, "postgres", error),
        )
      : Promise.resolve();
  return {
    fixtures,
    users: 0,
    async close() {
      pglite.stop();
      await Promise.all([pglite.exited, postgresMade]);
      if (adminUrl && templates) await dropPostgresTemplates(adminUrl, templates);
      const axeChecked = path.join(fixtures.runDir, "axe-checked");
      if (existsSync(axeChecked)) console.log(`\naxe-core checked ${readdirSync(axeChecked).length} kinds of page (route, language, page or error boundary).`);
      rmSync(fixtures.runDir, { recursive: true, force: true });
    },
  };
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
  project.provide("runDir", run.fixtures.runDir);
  project.provide("databaseFixtures", run.fixtures);
  return teardown;
}
