import { afterAll, beforeAll, expect, it } from "vitest";
import { eq, inArray } from "drizzle-orm";
import { users } from "../../db/schema";
import { registerParticipant } from "../factories";
import { describeEachDatabase } from "../support/databases";
import { createFirm, type Firm } from "../support/access";
import { type HttpClient, startServer, type RunningServer } from "../support/server";
import { verifiedClients } from "../support/sessions";

interface Picker {
  options: { id: string; name: string }[] | null;
  currentEmail: string | null;
}

/**
 * Pickers of a user at a firm with hundreds of staff (issue 16): the API client's owner and a step's owner are
 * chosen by email instead of from a menu of every user, which the page would otherwise send on every view.
 */
describeEachDatabase("user pickers at a large firm", { demo: true }, (use) => {
  const db = () => use().db;
  let server: RunningServer;
  let firm: Firm;
  const staff: { id: string; email: string }[] = [];
  const as = verifiedClients(() => server.baseUrl, db);
  const data = <T,>(client: HttpClient, path: string, route: string): Promise<T> => client.loaderData<T>(path, route);

  beforeAll(async () => {
    server = await startServer(db());
    firm = await createFirm(db(), { nameEn: "Kowloon Many Staff Securities Limited", nameZh: "九龍眾員證券有限公司" });
    // Users without a password (no hashing to wait for); their emails read back for the pickers.
    const ids: string[] = [];
    for (let i = 0; i < 205; i++) ids.push(await firm.addUser([], `Staff Member ${String(i).padStart(3, "0")}`));
    const rows = await db().select({ id: users.id, email: users.email }).from(users).where(inArray(users.id, ids));
    for (const id of ids) staff.push(rows.find((r) => r.id === id)!);
  }, 120_000);
  afterAll(() => server.close());

  it("asks a large firm's maker for the API client owner's email, and creates the client for that user", async () => {
    const maker = await as(firm.makerEmail);
    const d = await data<{ owners: Picker }>(maker, "/credentials", "routes/credentials._index");
    expect(d.owners.options).toBeNull();
    const html = await (await maker.get("/credentials")).text();
    expect(html).toMatch(/<input[^>]*id="client-owner"[^>]*type="email"|<input[^>]*type="email"[^>]*id="client-owner"/);
    expect(html).toContain("too many users to list here: type the user&#x27;s email address");
    expect(html).not.toContain("Staff Member 150");

    const owner = staff[150]!;
    const created = await maker.post("/credentials?index", { environment: "simulator", name: "Owned by email", ownerUserId: owner.email.toUpperCase() });
    expect(created.status).toBe(302);
    const page = await (await maker.get(created.headers.get("location")!)).text();
    expect(page).toContain("Owned by email");
    expect(page).toContain("Staff Member 150");
  });

  it("refuses an email that is no user of the firm, or another firm's, with the owner field's message and no client", async () => {
    const maker = await as(firm.makerEmail);
    const before = (await data<{ clients: unknown[] }>(maker, "/credentials", "routes/credentials._index")).clients.length;
    for (const email of ["nobody@firm.test", "maker@b01234.demo", "not an email"]) {
      const res = await maker.post("/credentials?index", { environment: "simulator", name: "Nobody's", ownerUserId: email });
      expect(res.status, email).toBe(400);
      const body = await res.text();
      expect(body, email).toContain("credentials.error.owner");
    }
    expect((await data<{ clients: unknown[] }>(maker, "/credentials", "routes/credentials._index")).clients).toHaveLength(before);
  });

  it("keeps the menu for a firm with few users", async () => {
    const maker = await as("maker@b01234.demo");
    const d = await data<{ owners: Picker }>(maker, "/credentials", "routes/credentials._index");
    expect(d.owners.options!.length).toBeGreaterThan(1);
    expect(d.owners.options!.length).toBeLessThanOrEqual(200);
  });

  it("lets an officer set a large firm's step owner by email, shows it back, and refuses an outsider", async () => {
    const officer = await as("officer@hkex.demo");
    const path = `/participants/${firm.participant.id}/steps/test_credentials`;
    const route = "routes/participants.$participantId.steps.$stepKey";
    const before = await data<{ owners: Picker; step: { version: number } }>(officer, path, route);
    expect(before.owners.options).toBeNull();

    const owner = staff[7]!;
    const saved = await officer.post(path, { intent: "plan", version: String(before.step.version), ownerUserId: owner.email, dueDate: "2030-01-31" });
    expect(saved.status).toBeLessThan(400);
    const after = await data<{ owners: Picker; step: { version: number; ownerUserId: string | null; ownerName: string | null } }>(officer, path, route);
    expect(after.step.ownerUserId).toBe(owner.id);
    expect(after.step.ownerName).toBe("Staff Member 007");
    expect(after.owners.currentEmail).toBe(owner.email);

    const refused = await officer.post(path, { intent: "plan", version: String(after.step.version), ownerUserId: "maker@b01234.demo", dueDate: "2030-01-31" });
    expect(refused.status).toBe(400);
    const still = await data<{ step: { ownerUserId: string | null } }>(officer, path, route);
    expect(still.step.ownerUserId).toBe(owner.id);
  });
});

/** An officer's participant picker in a market of more than 200 participants asks for the participant's ID. */
describeEachDatabase("participant picker in a large market", { demo: true }, (use) => {
  const db = () => use().db;
  let server: RunningServer;
  const as = verifiedClients(() => server.baseUrl, db);

  beforeAll(async () => {
    server = await startServer(db());
    for (let i = 0; i < 201; i++) await registerParticipant(db());
  }, 180_000);
  afterAll(() => server.close());

  it("asks for the ID on the new-user form, takes it in any case, and says so in the field when it names no participant", async () => {
    const officer = await as("officer@hkex.demo");
    const d = (await (await officer.get("/users/new?_data=routes%2Fusers.new")).json()) as { participants: unknown[] | null };
    expect(d.participants).toBeNull();
    const html = await (await officer.get("/users/new")).text();
    expect(html).toContain("Type the participant&#x27;s ID, for example B01234");
    expect(html).not.toContain("Test Participant 150 Limited");

    const unknown = await officer.post("/users/new", { participantId: "Q99999", email: "typo@firm.test", displayName: "Typo Person", locale: "en" });
    expect(unknown.status).toBe(400);
    expect(await unknown.text()).toContain("access.error.participant");
    const [none] = await db().select({ id: users.id }).from(users).where(eq(users.email, "typo@firm.test"));
    expect(none).toBeUndefined();

    const created = await officer.post("/users/new", { participantId: " b01234 ", email: "typed@firm.test", displayName: "Typed Participant", locale: "en" });
    expect(created.status).toBe(302);
    const [made] = await db().select({ participantId: users.participantId }).from(users).where(eq(users.email, "typed@firm.test"));
    expect(made?.participantId).toBe("B01234");
  });

  it("asks for the ID on the bulk import form and refuses an unknown one in the field, not with a missing page", async () => {
    const officer = await as("officer@hkex.demo");
    const d = (await (await officer.get("/imports?_data=routes%2Fimports._index")).json()) as { participants: unknown[] | null };
    expect(d.participants).toBeNull();
    const form = new FormData();
    form.set("participantId", "Q99999");
    form.set("file", new Blob(["email,display_name,roles\nnew-person@firm.test,New Person,\n"], { type: "text/csv" }), "staff.csv");
    const res = await fetch(`${server.baseUrl}/imports?index`, { method: "POST", body: form, redirect: "manual", headers: { Cookie: officer.cookieHeader(), Origin: server.baseUrl } });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("access.error.participant");
  });
});
