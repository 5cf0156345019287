import type { Browser } from "playwright-core";
import { afterAll, beforeAll } from "vitest";
import type { Database } from "../../db/client.server";
import { launchBrowser } from "./browser";
import { FIXTURE_WAIT_MS } from "./database-fixtures";
import { createTestDatabase, type TestDatabase } from "./databases";
import { startServer, type RunningServer } from "./server";

export interface DemoConsole {
  database: TestDatabase & { drop(): Promise<void> };
  server: RunningServer;
  browser: Browser;
}

/**
 * For a browser test file: the demo in a PGlite of its own (cloned from the run's seeded snapshot), the real server
 * over it, and the worker's Chromium — torn down after the file (the browser's contexts only). `prepare` runs on
 * the seeded database before the server starts; `assign` hands the three to the file's own variables.
 */
export function useDemoConsole(assign: (demo: DemoConsole) => void, prepare?: (db: Database) => Promise<void>): void {
  const demo: Partial<DemoConsole> = {};
  beforeAll(async () => {
    demo.database = await createTestDatabase("pglite", { demo: true });
    if (prepare) await prepare(demo.database.db);
    demo.server = await startServer(demo.database.db);
    demo.browser = await launchBrowser();
    assign(demo as DemoConsole);
  }, FIXTURE_WAIT_MS + 60_000);
  afterAll(async () => {
    // The worker keeps its Chromium for its next file; what this file opened goes.
    for (const context of demo.browser?.contexts() ?? []) await context.close();
    await demo.server?.close();
    await demo.database?.drop();
  });
}
