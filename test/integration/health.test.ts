import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DatabaseHandle } from "../../db/client.server";
import { createTestDatabase, describeEachDatabase } from "../support/databases";
import { HttpClient, startServer, type RunningServer } from "../support/server";

describeEachDatabase("health and readiness", { compatibility: true }, (use) => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(use().db);
  });
  afterAll(() => server.close());

  it("answers /healthz with 200, not cached, without signing in", async () => {
    const res = await new HttpClient(server.baseUrl).get("/healthz");
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(await res.json()).toEqual({ status: "ok" });
  });

  it("answers /readyz with 200 when the database is migrated", async () => {
    const res = await new HttpClient(server.baseUrl).get("/readyz");
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(await res.json()).toEqual({ status: "ready" });
  });

  it("tags every answer with a request id, keeping a well-formed one from the load balancer", async () => {
    const client = new HttpClient(server.baseUrl);
    expect((await client.get("/healthz")).headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    const given = await client.get("/healthz", { "X-Request-Id": "lb-0123456789" });
    expect(given.headers.get("x-request-id")).toBe("lb-0123456789");
    const forged = await client.get("/healthz", { "X-Request-Id": "bad id\twith spaces" });
    expect(forged.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe("readiness before migrations", () => {
  let handle: DatabaseHandle;
  let server: RunningServer;
  beforeAll(async () => {
    ({ handle } = await createTestDatabase("pglite", { unmigrated: true }));
    server = await startServer(handle.db);
  });
  afterAll(async () => {
    await server.close();
    await handle.close();
  });

  it("answers /readyz with 503 while the schema is missing, and /healthz still with 200", async () => {
    const client = new HttpClient(server.baseUrl);
    const ready = await client.get("/readyz");
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ status: "not-ready" });
    expect((await client.get("/healthz")).status).toBe(200);
  });
});
