import type { Browser } from "playwright-core";
import { afterAll, beforeAll } from "vitest";
import type { Database } from "../../db/client.server";
import { seedDemo } from "../../db/seed";
import { launchBrowser } from "./browser";
import { createTestDatabase, type TestDatabase } from "./databases";
import { startServer, type RunningServer } from "./server";

export interface DemoConsole {
  database: TestDatabase & { drop(): Promise<void> };
  server: RunningServer;
  browser: Browser;
}

/**
 * For a browser test file: the demo seeded into a fresh PGlite, the real server over it, and one Chromium — all
 * torn down after the file. `prepare` runs on the seeded database before the server starts; `assign` hands the
 * three to the file's own variables.
 */
export function useDemoConsole(assign: (demo: DemoConsole) => void, prepare?: (db: Database) => Promise<void>): void {
  const demo: Partial<DemoConsole> = {};
  beforeAll(async () => {
    demo.database = await createTestDatabase("pglite");
    await seedDemo(demo.database.db);
    if (prepare) await prepare(demo.database.db);
    demo.server = await startServer(demo.database.db);
    demo.browser = await launchBrowser();
    assign(demo as DemoConsole);
  });
  afterAll(async () => {
    await demo.browser?.close();
    await demo.server?.close();
    await demo.database?.drop();
  });
}
