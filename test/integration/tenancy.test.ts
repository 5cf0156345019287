import { afterAll, beforeAll, expect, it } from "vitest";
import { DEMO_PASSWORD } from "../../app/modules/demo";
import { describeEachDatabase } from "../support/databases";
import { HttpClient, startServer, type RunningServer } from "../support/server";

interface ActivityData {
  events: { participantId: string | null; chainKey: string; action: string }[];
}

describeEachDatabase("tenancy over HTTP", { demo: true }, (use) => {
  let server: RunningServer;
  const clients = new Map<string, HttpClient>();

  beforeAll(async () => {
    server = await startServer(use().db);
  });
  afterAll(() => server.close());

  async function as(email: string): Promise<HttpClient> {
    let client = clients.get(email);
    if (!client) {
      client = new HttpClient(server.baseUrl);
      expect((await client.signIn(email, DEMO_PASSWORD)).status, `sign-in of ${email}`).toBe(302);
      clients.set(email, client);
    }
    return client;
  }
  /** The data the activity page shows (what its loader answers the browser). */
  async function activityOf(email: string): Promise<ActivityData> {
    const res = await (await as(email)).get("/activity?_data=routes%2Factivity");
    expect(res.status).toBe(200);
    return (await res.json()) as ActivityData;
  }
  const withoutNonce = (html: string) => html.replace(/nonce="[^"]*"|nonce-[^']*'|"cspNonce":"[^"]*"|"requestId":"[^"]*"/g, "");

  it("answers 404 when a participant administrator asks for another participant, as for one that does not exist", async () => {
    const maker = await as("maker@b01234.demo");
    const other = await maker.get("/participants/C00123");
    expect(other.status).toBe(404);
    const otherPage = await other.text();
    expect(otherPage).toContain("We could not find that page or record.");
    expect(otherPage).not.toContain("Lion Rock");

    const missing = await maker.get("/participants/Z99999");
    expect(missing.status).toBe(404);
    expect(withoutNonce(otherPage).replaceAll("C00123", "Z99999")).toBe(withoutNonce(await missing.text()));
  });

  it("shows a participant administrator their own participant", async () => {
    const own = await (await as("maker@b01234.demo")).get("/participants/B01234");
    expect(own.status).toBe(200);
    expect(await own.text()).toContain("Harbour View Securities Clearing Limited");
  });

  it("never lists another participant to a participant administrator", async () => {
    for (const email of ["maker@b01234.demo", "checker@b01234.demo"]) {
      const page = await (await (await as(email)).get("/participants")).text();
      expect(page).toContain("B01234");
      expect(page).not.toContain("C00123");
      expect(page).not.toContain("A00003");
      expect(page).not.toContain("Lion Rock");
    }
    const c00123 = await (await (await as("checker@c00123.demo")).get("/participants")).text();
    expect(c00123).toContain("C00123");
    expect(c00123).not.toContain("B01234");
  });

  it("shows the officer every participant", async () => {
    const officer = await as("officer@hkex.demo");
    const page = await (await officer.get("/participants")).text();
    for (const id of ["A00003", "B01234", "C00123"]) expect(page).toContain(id);
    const other = await officer.get("/participants/C00123");
    expect(other.status).toBe(200);
    expect(await other.text()).toContain("Lion Rock Custodian Services Limited");
  });

  it("shows a participant administrator only their own participant's activity", async () => {
    // Another participant's administrator signs in: an event on their chain, among the newest.
    expect((await new HttpClient(server.baseUrl).signIn("maker@c00123.demo", DEMO_PASSWORD)).status).toBe(302);
    const { events } = await activityOf("maker@b01234.demo");
    expect(events.length).toBeGreaterThan(0);
    expect(new Set(events.map((e) => e.participantId))).toEqual(new Set(["B01234"]));
    expect(new Set(events.map((e) => e.chainKey))).toEqual(new Set(["B01234"]));
    expect(events.map((e) => e.action)).toContain("auth.sign_in.succeeded");

    const page = await (await (await as("maker@b01234.demo")).get("/activity")).text();
    expect(page).toContain("Audit events of participant B01234");
    expect(page).not.toContain("Mei Maker (C00123)");
  });

  it("shows compliance the activity of every participant and of the platform", async () => {
    // Fresh sign-ins put events of two participants and of the platform among the newest.
    for (const email of ["maker@b01234.demo", "maker@c00123.demo", "officer@hkex.demo"]) {
      expect((await new HttpClient(server.baseUrl).signIn(email, DEMO_PASSWORD)).status).toBe(302);
    }
    const { events } = await activityOf("compliance@hkex.demo");
    const shown = new Set(events.map((e) => e.participantId));
    for (const id of [null, "B01234", "C00123"]) expect(shown.has(id), String(id)).toBe(true);
    const page = await (await (await as("compliance@hkex.demo")).get("/activity")).text();
    expect(page).toContain("Every audit event on the platform");
    expect(page).toContain("Mei Maker (C00123)");
    expect(page).toContain("Mandy Maker (B01234)");
  });

  it("refuses the activity page to helpdesk with 403", async () => {
    const helpdesk = await as("helpdesk@hkex.demo");
    const res = await helpdesk.get("/activity");
    expect(res.status).toBe(403);
    const page = await res.text();
    expect(page).toContain("You do not have permission to do that.");
    expect(page).not.toContain("auth.sign_in");
    expect((await helpdesk.get("/activity?_data=routes%2Factivity")).status).toBe(403);
  });

  it("leaves the activity link out of helpdesk's navigation", async () => {
    const page = await (await (await as("helpdesk@hkex.demo")).get("/")).text();
    expect(page).not.toContain('href="/activity"');
    expect(page).toContain('href="/participants"');
  });
});
