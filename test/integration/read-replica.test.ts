import type { AddressInfo } from "node:net";
import path from "node:path";
import { pathToFileURL } from "node:url";
import type { ServerBuild } from "@remix-run/node";
import { sql } from "drizzle-orm";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../app/env.server";
import type { Database } from "../../db/client.server";
import { createApp } from "../../server/app";
import { openReadDatabase } from "../../server/boot";
import { createTestDatabase } from "../support/databases";
import { createVerifiedSession } from "../support/sessions";

/**
 * DATABASE_READ_URL (docs/operations.md): the audit explorer, the reports and the exports read the replica when one
 * is configured; sign-in, sessions and every write stay on DATABASE_URL; without it every page reads the primary.
 * The "replica" here is a second database holding an event the primary does not have, so a page shows which one
 * it read.
 */
describe.skipIf(!process.env.TEST_DATABASE_URL)("a read replica for the read-heavy pages [postgres]", () => {
  let primary: Awaited<ReturnType<typeof createTestDatabase>>;
  let replica: Awaited<ReturnType<typeof createTestDatabase>>;
  let build: ServerBuild;
  let cookie: string;

  beforeAll(async () => {
    [primary, replica] = await Promise.all([createTestDatabase("postgres", { demo: true }), createTestDatabase("postgres", { demo: true })]);
    await replica.db.execute(sql`insert into audit_events (chain_key, seq, occurred_at, action, entity_type, entity_id, prev_hash, hash)
      values ('replica-only', 1, now(), 'replica.only.marker', 'test', 'x', ${"0".repeat(64)}, ${"f".repeat(64)})`);
    build = (await import(pathToFileURL(path.resolve("build/index.js")).href)) as ServerBuild;
    cookie = `ocp_session=${await createVerifiedSession(primary.db, "compliance@hkex.demo")}`;
  }, 120_000);
  afterAll(async () => {
    await Promise.all([primary?.drop(), replica?.drop()]);
  });

  async function get(readDb: Database | undefined, pathname: string): Promise<{ status: number; text: string }> {
    const config = loadConfig({ NODE_ENV: "test", DEMO_MODE: "1", LOG_LEVEL: "silent" });
    const server = createApp({ db: primary.db, readDb, config, build, logger: pino({ level: "silent" }) }).listen(0, "127.0.0.1");
    await new Promise<void>((resolve) => server.once("listening", () => resolve()));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}${pathname}`, { headers: { Cookie: cookie }, redirect: "manual" });
      return { status: res.status, text: await res.text() };
    } finally {
      server.closeAllConnections();
      server.close();
    }
  }

  it("is configured only beside DATABASE_URL, and a bad URL is named at boot", () => {
    expect(loadConfig({ DATABASE_URL: "postgres://db/primary", DATABASE_READ_URL: "postgres://replica/primary" }).databaseReadUrl).toBe("postgres://replica/primary");
    expect(loadConfig({ DATABASE_URL: "postgres://db/primary" }).databaseReadUrl).toBeUndefined();
    expect(loadConfig({ DATABASE_READ_URL: "postgres://replica/primary" }).databaseReadUrl).toBeUndefined();
    expect(() => loadConfig({ DATABASE_URL: "postgres://db/primary", DATABASE_READ_URL: "mysql://replica" })).toThrow(ConfigError);
  });

  it("without DATABASE_READ_URL there is no replica and the explorer and reports read the primary", async () => {
    const logger = pino({ level: "silent" });
    expect(openReadDatabase(loadConfig({ DATABASE_URL: primary.url! }), logger)).toBeNull();
    const activity = await get(undefined, "/activity");
    expect(activity.status).toBe(200);
    expect(activity.text).not.toContain("replica.only.marker");
    expect((await get(undefined, "/reports?report=access")).status).toBe(200);
  });

  it("with it, the explorer and its export read the replica while the session is checked on the primary", async () => {
    const handle = openReadDatabase(loadConfig({ DATABASE_URL: primary.url!, DATABASE_READ_URL: replica.url! }), pino({ level: "silent" }))!;
    try {
      // The session exists only in the primary: a page that answers 200 was authenticated there.
      const activity = await get(handle.db, "/activity");
      expect(activity.status).toBe(200);
      expect(activity.text).toContain("replica.only.marker");
      const csv = await get(handle.db, "/activity/export?format=csv");
      expect(csv.status).toBe(200);
      expect(csv.text).toContain("replica.only.marker");
      // The export's own event is written on the primary, not on the replica.
      const exported = (db: Database) => db.execute(sql`select count(*)::int as n from audit_events where action = 'audit.exported'`);
      expect(JSON.stringify(await exported(primary.db))).toContain('"n":1');
      expect(JSON.stringify(await exported(replica.db))).toContain('"n":0');
      expect((await get(handle.db, "/reports?report=access")).status).toBe(200);
    } finally {
      await handle.close();
    }
  });
});
