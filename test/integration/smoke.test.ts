import { afterAll, beforeAll, expect, it } from "vitest";
import { DEMO_PASSWORD } from "../../app/modules/demo";
import { describeEachDatabase } from "../support/databases";
import { HttpClient, startServer, type RunningServer } from "../support/server";

describeEachDatabase("smoke", { demo: true, compatibility: true }, (use) => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(use().db);
  });
  afterAll(() => server.close());

  it("signs in and lists only the maker's participant", async () => {
    const client = new HttpClient(server.baseUrl);
    const res = await client.signIn("maker@b01234.demo", DEMO_PASSWORD);
    expect(res.status).toBe(302);
    const page = await (await client.get("/participants")).text();
    expect(page).toContain("B01234");
    expect(page).not.toContain("C00123");
  });
});
