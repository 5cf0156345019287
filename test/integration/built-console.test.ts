import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import postgres from "postgres";
import { afterAll, describe, expect, it } from "vitest";
import { DEMO_PASSWORD } from "../../app/modules/demo";
import { runConsoleCommand } from "../support/console";
import { databaseKinds } from "../support/databases";
import { HttpClient } from "../support/server";

const root = path.resolve(".");

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** The child's stdout so far, and a promise of its exit code. */
function watch(child: ChildProcess) {
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return {
    output: () => output,
    exited,
    async until(text: string, timeoutMs: number): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (!output.includes(text)) {
        if (child.exitCode !== null) throw new Error(`the console exited (${child.exitCode}):\n${output}`);
        if (Date.now() > deadline) throw new Error(`no "${text}" after ${timeoutMs} ms:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
  };
}

const activationLinks = (html: string) => [...new Set(html.match(/https?:\/\/[^\s<>"]+\/activate\/[A-Za-z0-9_-]+/g))];

describe("the built console: node bin/console.mjs", () => {
  const folders: string[] = [];
  afterAll(() => {
    for (const f of folders) rmSync(f, { recursive: true, force: true });
  });

  it("serves the demo on PGlite from build/index.js alone, one copy of every module, and stops on SIGTERM", async () => {
    const folder = mkdtempSync(path.join(tmpdir(), "ocp-built-console-"));
    folders.push(folder);
    const modulesFile = path.join(folder, "modules.txt");
    const port = await freePort();
    // As `npm start` runs it, with a recorder of every module loaded.
    const child = spawn(process.execPath, ["--import", "./test/support/record-modules.mjs", "bin/console.mjs", "serve"], {
      env: {
        ...process.env,
        NODE_ENV: "development",
        DATABASE_URL: "",
        DEMO_MODE: "",
        PORT: String(port),
        HOST: "127.0.0.1",
        DATA_DIR: path.join(folder, "pglite"),
        LOG_LEVEL: "warn",
        JOBS_INTERVAL_SECONDS: "0",
        RECORD_MODULES_FILE: modulesFile,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const running = watch(child);
    try {
      await running.until("(demo accounts only).", 90_000);
      expect(running.output()).toContain(`OCP Onboarding Console is running at http://localhost:${port}`);
      expect(running.output()).toContain(`Demo mode: sign in with any of these accounts, password ${DEMO_PASSWORD}`);
      expect(running.output()).toContain("checker@b01234.demo");

      const baseUrl = `http://127.0.0.1:${port}`;
      const visitor = new HttpClient(baseUrl);
      const health = await visitor.get("/healthz");
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ status: "ok" });
      const login = await visitor.get("/login");
      expect(login.status).toBe(200);
      expect(await login.text()).toContain('name="password"');

      // The demo's activation mail, written at start-up, links to this console's address.
      const links = activationLinks(await (await visitor.get("/mailbox")).text());
      expect(links.length).toBeGreaterThan(0);
      for (const link of links) expect(link.startsWith(`http://localhost:${port}/activate/`), link).toBe(true);

      child.kill("SIGTERM");
      expect(await running.exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }

    // Of this project's files, the process ran the launcher and the build: no source, no TypeScript.
    const loaded = readFileSync(modulesFile, "utf8").split("\n").filter(Boolean);
    const own = loaded.filter((url) => url.startsWith(pathToFileURL(root).href) && !url.includes("/node_modules/"));
    expect([...new Set(own)].map((url) => path.relative(root, new URL(url).pathname)).sort()).toEqual([
      "bin/build.mjs",
      "bin/console.mjs",
      "build/index.js",
    ]);
    expect(own.length).toBe(3);
    expect(loaded.filter((url) => /\.(ts|tsx|mts|cts)$/.test(url))).toEqual([]);

    // The one-shot commands on the same folder, from the same build.
    const pglite = { DATA_DIR: path.join(folder, "pglite") };
    const migrated = await runConsoleCommand(["migrate"], pglite);
    expect(migrated.stdout).toContain(`Migrations applied to pglite (${pglite.DATA_DIR}).`);
    expect(migrated.code).toBe(0);
    const seeded = await runConsoleCommand(["seed-demo"], pglite);
    expect(seeded.stdout).toContain("The database already has data: nothing seeded.");
    const jobs = await runConsoleCommand(["jobs"], pglite);
    expect(jobs.stdout).toMatch(/^Jobs done: \d+ access review\(s\) closed, \d+ key expiry notice\(s\), \d+ rollout snapshot\(s\), \d+ mail\(s\) sent\.$/m);
    expect(jobs.code).toBe(0);
    const unknown = await runConsoleCommand(["serv"], pglite);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('Unknown command "serv".');
  }, 180_000);

  it.skipIf(!databaseKinds().includes("postgres"))("migrates and seeds the demo on PostgreSQL through DATABASE_URL", async () => {
    const adminUrl = process.env.TEST_DATABASE_URL!;
    const name = `ocp_test_cli_${Date.now().toString(36)}`;
    const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create database ${name}`);
    try {
      const url = new URL(adminUrl);
      url.pathname = `/${name}`;
      const target = { DATABASE_URL: url.toString() };
      const migrated = await runConsoleCommand(["migrate"], target);
      expect(migrated.stdout).toContain("Migrations applied to postgres");
      expect(migrated.code).toBe(0);
      const seeded = await runConsoleCommand(["seed-demo"], target);
      expect(seeded.stdout).toContain("Demo seeded into postgres");
      expect(seeded.stdout).toContain("Note: demo accounts sign in only when the server runs with DEMO_MODE=1.");
      expect(seeded.code).toBe(0);
      const verified = await runConsoleCommand(["audit-verify"], target);
      expect(verified.stdout).toMatch(/All \d+ chains intact\./);
      expect(verified.code).toBe(0);
    } finally {
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end({ timeout: 5 });
    }
  }, 180_000);
});
