import path from "node:path";
import { defineConfig } from "vitest/config";
import { SlowFirstSequencer } from "./test/support/sequencer";

/**
 * Three projects (docs/decisions/013-test-fixtures.md): unit needs no build and no database (`npm run test:unit`);
 * integration and e2e share a global setup that migrates and seeds once per run. Every project keeps its worker
 * processes from one file to the next (isolate: false), so that the app, PGlite's WebAssembly, the server build and
 * Chromium are loaded twice a run rather than once a file.
 */
export default defineConfig({
  resolve: {
    alias: { "~": path.resolve(__dirname, "app") },
  },
  test: {
    environment: "node",
    setupFiles: ["test/support/setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // PGlite instances and browsers are heavy; two cores, two workers.
    maxWorkers: 2,
    reporters: ["default"],
    sequence: { sequencer: SlowFirstSequencer },
    // The server build is plain JavaScript, a megabyte of it: Node loads it as it is, rather than vite transforming it.
    server: { deps: { external: [/\/build\/index\.js$/] } },
    projects: [
      { extends: true, test: { name: "unit", include: ["test/unit/**/*.test.{ts,tsx}"], isolate: false } },
      {
        extends: true,
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.{ts,tsx}"],
          globalSetup: ["test/support/global-setup.ts"],
          isolate: false,
        },
      },
      {
        extends: true,
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.{ts,tsx}"],
          globalSetup: ["test/support/global-setup.ts"],
          isolate: false,
        },
      },
    ],
  },
});
