import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eq, sql } from "drizzle-orm";
import { openDatabase, rowsOf } from "../../db/client.server";
import { commandFaults } from "../../app/modules/command.server";
import type { ServiceContext } from "../../app/modules/context.server";
import { DEMO_PASSWORD } from "../../app/modules/demo";
import { addNcpAgreement, endNcpAgreement, listClearingAgreements, ncpGcpMapping, renameNcpAgreement } from "../../app/modules/participants/clearing.server";
import { updateParticipant } from "../../app/modules/participants/service.server";
import { hongKongDay as hongKongDayOf } from "../../app/lib/hong-kong-time";
import { clearingAgreements } from "../../db/schema";
import { contextFor } from "../factories";
import { describeEachDatabase } from "../support/databases";
import { auditSince, hongKongDay, lastAuditId, newOfficer, participantWithAdministrators, refusedWith, registryFootprint } from "../support/onboarding";
import { HttpClient, startServer, type RunningServer } from "../support/server";
import { clientWithPrivateKey } from "../support/simulator";

/**
 * A GCP's non-clearing participants (SPEC §2): clearing agreements with exchange participants under their own IDs
 * and names, recorded by an officer, read by the GCP's own users, published as the simulator's NCP/GCP mapping.
 */
describeEachDatabase("non-clearing participants of a GCP", { demo: true, compatibility: true }, (use) => {
  let officer: ServiceContext;
  let server: RunningServer;
  let n = 0;
  /** A fresh exchange participant ID for each agreement, so tests never overlap one another's NCPs. */
  const ncpId = () => `X${String(40000 + ++n).padStart(5, "0")}`;

  beforeAll(async () => {
    officer = await newOfficer(use().db, "ncp-officer@hkex.test", "Nora NCP Officer");
    server = await startServer(use().db);
  });
  afterAll(() => server.close());

  const gcp = (id: string, type = "GCP") => participantWithAdministrators(use().db, officer, { id, type });
  const agreement = (participantId: string, overrides: Record<string, unknown> = {}) => ({
    participantId,
    ncpId: ncpId(),
    nameEn: "Pok Fu Lam Securities Limited",
    nameZh: "薄扶林證券有限公司",
    startsOn: "2026-01-05",
    ...overrides,
  });

  /** Refused with 400 and this field's message, and nothing written: no row, no audit event. */
  async function expectRefusedField(call: () => Promise<unknown>, field: string, messageKey: string, params?: Record<string, string>) {
    const before = await registryFootprint(use().db);
    const error = await refusedWith(call(), 400, "error.badRequest");
    expect(error.fieldErrors[field], JSON.stringify(error.fieldErrors)).toBe(messageKey);
    if (params) expect(error.params).toMatchObject(params);
    expect(await registryFootprint(use().db)).toEqual(before);
  }

  describe("adding an agreement", () => {
    it("records the NCP under its own ID and names, audited with the officer as the actor, and lists it as active", async () => {
      const { db } = use();
      const { participant } = await gcp("G60001");
      const before = await lastAuditId(db);
      const added = await addNcpAgreement(officer, agreement(participant.id, { ncpId: "e60001", startsOn: hongKongDay(-30) }));
      expect(added).toMatchObject({ gcpId: "G60001", ncpId: "E60001", ncpNameEn: "Pok Fu Lam Securities Limited", ncpNameZh: "薄扶林證券有限公司", endsOn: null });
      const events = await auditSince(db, before);
      expect(events.map((e) => e.action)).toEqual(["participant.ncp.added"]);
      expect(events[0]).toMatchObject({ participantId: "G60001", entityType: "clearing_agreement", entityId: String(added.id), actorName: "Nora NCP Officer" });
      expect(events[0]!.changes).toMatchObject({ ncpId: { before: null, after: "E60001" }, ncpNameZh: { before: null, after: "薄扶林證券有限公司" }, startsOn: { before: null, after: hongKongDay(-30) } });
      const list = await listClearingAgreements(officer, "G60001");
      expect(list.agreements.map((a) => [a.ncpId, a.state])).toEqual([["E60001", "active"]]);
      expect(list.canManage).toBe(true);
    });

    it.each([
      ["an ID in the wrong format", { ncpId: "E6001" }, "ncpId", "ncp.error.idFormat"],
      ["an ID with a space", { ncpId: "E 60001" }, "ncpId", "ncp.error.idFormat"],
      ["no English name", { nameEn: "  " }, "nameEn", "validation.required"],
      ["no Chinese name", { nameZh: "" }, "nameZh", "validation.required"],
      ["a start that is not a day", { startsOn: "2026-02-30" }, "startsOn", "ncp.error.date"],
      ["an end that is not a day", { endsOn: "31/12/2026" }, "endsOn", "ncp.error.date"],
      ["an end before the start", { startsOn: "2026-03-01", endsOn: "2026-02-28" }, "endsOn", "ncp.error.endsBeforeStart"],
    ])("refuses %s with a field message and writes nothing", async (_why, overrides, field, messageKey) => {
      await expectRefusedField(() => addNcpAgreement(officer, agreement("B01234", overrides)), field, messageKey);
    });

    it("refuses the GCP's own ID and a clearing participant registered in this console", async () => {
      await gcp("G60002");
      await expectRefusedField(() => addNcpAgreement(officer, agreement("G60002", { ncpId: "G60002" })), "ncpId", "ncp.error.self");
      await expectRefusedField(() => addNcpAgreement(officer, agreement("G60002", { ncpId: "C00123" })), "ncpId", "ncp.error.registered", { ncpId: "C00123" });
    });

    it("refuses a participant that is not a General Clearing Participant, and writes nothing", async () => {
      for (const [id, type] of [["D60003", "DCP"], ["C60003", "CUSTODIAN"]] as const) {
        await gcp(id, type);
        const before = await registryFootprint(use().db);
        await refusedWith(addNcpAgreement(officer, agreement(id)), 400, "ncp.refused.notGcp");
        expect(await registryFootprint(use().db)).toEqual(before);
      }
    });

    it("refuses an NCP whose days overlap another agreement, under this GCP or another, naming it", async () => {
      await gcp("G60004");
      await gcp("G60005");
      const id = ncpId();
      await addNcpAgreement(officer, agreement("G60004", { ncpId: id, startsOn: "2025-01-01", endsOn: "2025-12-31" }));
      // The same NCP twice under one GCP, and under a second GCP on days the first still covers.
      await expectRefusedField(() => addNcpAgreement(officer, agreement("G60004", { ncpId: id, startsOn: "2025-06-01" })), "ncpId", "ncp.error.overlap", { gcp: "G60004", from: "2025-01-01", to: "2025-12-31" });
      await expectRefusedField(() => addNcpAgreement(officer, agreement("G60005", { ncpId: id, startsOn: "2025-12-31" })), "ncpId", "ncp.error.overlap", { gcp: "G60004" });
      // From the day after it ends, another GCP may clear for it.
      const moved = await addNcpAgreement(officer, agreement("G60005", { ncpId: id, startsOn: "2026-01-01" }));
      expect(moved.gcpId).toBe("G60005");
    });

    it("records one of two agreements for the same NCP made at once under two GCPs, and tells the other officer why", async (ctx) => {
      // Two transactions at once need two connections: PostgreSQL only (PGlite has one).
      if (use().kind !== "postgres") ctx.skip();
      await gcp("G60008");
      await gcp("G60009");
      const other = openDatabase({ databaseUrl: use().url!, maxConnections: 2 });
      try {
        const second = { ...(await newOfficer(use().db, "ncp-officer2@hkex.test", "Nick Second Officer")), db: other.db };
        const id = ncpId();
        let rival: Promise<unknown> | null = null;
        let rivalDone = false;
        // The first officer's transaction has checked for overlaps and inserted; before it commits, the second
        // officer's starts. It is held open until the second either waits for the NCP's lock or finishes without it.
        commandFaults.inject = async (name, point) => {
          if (name !== "participants.addNcp" || point !== "after-run" || rival) return;
          rival = addNcpAgreement(second, agreement("G60009", { ncpId: id, startsOn: "2026-03-01" })).finally(() => {
            rivalDone = true;
          });
          rival.catch(() => undefined);
          for (;;) {
            if (rivalDone) return;
            const [waiting] = rowsOf<{ n: number }>(await other.db.execute(sql`select count(*)::int as n from pg_locks where locktype = 'advisory' and not granted`));
            if (Number(waiting?.n ?? 0) > 0) return;
            await new Promise((resolve) => setTimeout(resolve, 10));
          }
        };
        const first = await addNcpAgreement(officer, agreement("G60008", { ncpId: id, startsOn: "2026-02-01" }));
        commandFaults.inject = null;
        expect(first.gcpId).toBe("G60008");
        await expect(rival).rejects.toMatchObject({ status: 400, fieldErrors: { ncpId: "ncp.error.overlap" }, params: { gcp: "G60008" } });
        expect(await use().db.select().from(clearingAgreements).where(eq(clearingAgreements.ncpId, id))).toHaveLength(1);
      } finally {
        commandFaults.inject = null;
        await other.close();
      }
    });

    it("is refused to the GCP's own administrators (403), and another participant's administrators never learn the GCP exists (404)", async () => {
      const { maker } = await gcp("G60006");
      await refusedWith(addNcpAgreement(maker, agreement("G60006")), 403);
      const other = await gcp("G60007");
      await refusedWith(addNcpAgreement(other.maker, agreement("G60006")), 404, "error.notFound");
      await refusedWith(addNcpAgreement(officer, agreement("Z99990")), 404, "error.notFound");
    });
  });

  describe("ending an agreement and correcting names", () => {
    it("ends it on a day, audited; an ended agreement stays ended and no longer maps", async () => {
      const { db } = use();
      await gcp("G60010");
      const added = await addNcpAgreement(officer, agreement("G60010", { startsOn: hongKongDay(-10) }));
      const today = hongKongDayOf(new Date());
      expect((await ncpGcpMapping(db, today)).map((m) => m.ncpId)).toContain(added.ncpId);
      await expectRefusedField(() => endNcpAgreement(officer, { participantId: "G60010", agreementId: added.id, version: added.version, endsOn: hongKongDay(-11) }), "endsOn", "ncp.error.endsBeforeStart");
      await expectRefusedField(() => endNcpAgreement(officer, { participantId: "G60010", agreementId: added.id, version: added.version, endsOn: "2026-13-01" }), "endsOn", "ncp.error.date");
      const before = await lastAuditId(db);
      const ended = await endNcpAgreement(officer, { participantId: "G60010", agreementId: added.id, version: added.version, endsOn: hongKongDay(-1) });
      expect(ended.endsOn).toBe(hongKongDay(-1));
      const events = await auditSince(db, before);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ action: "participant.ncp.ended", participantId: "G60010", entityId: String(added.id), changes: { endsOn: { before: null, after: hongKongDay(-1) } } });
      expect((await listClearingAgreements(officer, "G60010")).agreements.map((a) => a.state)).toEqual(["ended"]);
      expect((await ncpGcpMapping(db, today)).map((m) => m.ncpId)).not.toContain(added.ncpId);
      await refusedWith(endNcpAgreement(officer, { participantId: "G60010", agreementId: added.id, version: ended.version, endsOn: hongKongDay(0) }), 409, "ncp.refused.alreadyEnded");
      // A stale form: 409, nothing changed.
      await refusedWith(renameNcpAgreement(officer, { participantId: "G60010", agreementId: added.id, version: added.version, nameEn: "Stale Limited", nameZh: "過時有限公司" }), 409, "error.conflict");
    });

    it("corrects the names only, audited before and after", async () => {
      const { db } = use();
      await gcp("G60011");
      const added = await addNcpAgreement(officer, agreement("G60011"));
      await expectRefusedField(() => renameNcpAgreement(officer, { participantId: "G60011", agreementId: added.id, version: added.version, nameEn: "", nameZh: "新名" }), "nameEn", "validation.required");
      const before = await lastAuditId(db);
      const renamed = await renameNcpAgreement(officer, { participantId: "G60011", agreementId: added.id, version: added.version, nameEn: "Pokfulam Securities Limited", nameZh: added.ncpNameZh });
      expect(renamed).toMatchObject({ ncpId: added.ncpId, ncpNameEn: "Pokfulam Securities Limited", startsOn: added.startsOn, version: added.version + 1 });
      const events = await auditSince(db, before);
      expect(events.map((e) => [e.action, e.changes])).toEqual([["participant.ncp.renamed", { ncpNameEn: { before: "Pok Fu Lam Securities Limited", after: "Pokfulam Securities Limited" } }]]);
    });

    it("answers 404 for an agreement named under another GCP or another participant's administrator", async () => {
      await gcp("G60012");
      const { maker } = await gcp("G60013");
      const added = await addNcpAgreement(officer, agreement("G60012"));
      await refusedWith(endNcpAgreement(officer, { participantId: "G60013", agreementId: added.id, version: added.version, endsOn: "2026-12-31" }), 404, "error.notFound");
      await refusedWith(renameNcpAgreement(maker, { participantId: "G60012", agreementId: added.id, version: added.version, nameEn: "A", nameZh: "甲" }), 404, "error.notFound");
      await refusedWith(listClearingAgreements(maker, "G60012"), 404, "error.notFound");
      await refusedWith(endNcpAgreement(officer, { participantId: "G60012", agreementId: 999_999_999, version: 1, endsOn: "2026-12-31" }), 404, "error.notFound");
      expect((await use().db.select().from(clearingAgreements).where(eq(clearingAgreements.id, added.id)))[0]!.endsOn).toBeNull();
    });

    it("keeps a GCP with running agreements a GCP until they end", async () => {
      const { participant } = await gcp("G60014");
      await addNcpAgreement(officer, agreement("G60014"));
      const error = await refusedWith(updateParticipant(officer, { participantId: participant.id, version: participant.version, nameEn: participant.nameEn, nameZh: participant.nameZh, type: "DCP" }), 400);
      expect(error.fieldErrors).toEqual({ type: "ncp.error.typeHasNcps" });
    });
  });

  describe("over HTTP", () => {
    async function signedIn(email: string): Promise<HttpClient> {
      const client = new HttpClient(server.baseUrl);
      expect((await client.signIn(email, DEMO_PASSWORD)).status).toBe(302);
      return client;
    }

    it("shows the demo GCP's NCPs to its own administrator, read-only, and the officer the forms", async () => {
      const maker = await signedIn("maker@b01234.demo");
      const page = (await (await maker.get("/participants/B01234")).text()).replaceAll("<!-- -->", "");
      expect(page).toContain("Non-clearing participants");
      expect(page).toContain("Lantau Peak Securities Limited");
      expect(page).toContain("大嶼峰證券有限公司");
      expect(page).toContain("E10003");
      expect(page).toContain("Ended");
      expect(page).not.toContain("Add a non-clearing participant");
      expect(page).not.toContain("End on this day");
      const refused = await maker.post("/participants/B01234", { intent: "ncp-add", ncpId: "E19999", nameEn: "A", nameZh: "甲", startsOn: "2026-01-01" });
      expect(refused.status).toBe(403);

      const officerClient = await signedIn("officer@hkex.demo");
      const officerPage = await (await officerClient.get("/participants/B01234")).text();
      expect(officerPage).toContain("Add a non-clearing participant");
      expect(officerPage).toContain("End on this day");
      const bad = await officerClient.post("/participants/B01234?_data=routes%2Fparticipants.%24participantId._index", { intent: "ncp-add", ncpId: "E1", nameEn: "Tai Tam Securities Limited", nameZh: "大潭證券有限公司", startsOn: "2026-01-01" });
      expect(bad.status).toBe(400);
      expect(await bad.json()).toMatchObject({ ok: false, fieldErrors: { ncpId: "ncp.error.idFormat" } });
      // Not a GCP: no forms, and the page says why.
      const custodian = await (await officerClient.get("/participants/C00123")).text();
      expect(custodian).not.toContain("Add a non-clearing participant");
    });

    it("asks before ending an agreement, naming the NCP and its last day in the reader's language; only the confirmed post ends it", async () => {
      const { db } = use();
      await gcp("G60020");
      const added = await addNcpAgreement(officer, agreement("G60020", { startsOn: "2026-01-05" }));
      const officerClient = await signedIn("officer@hkex.demo");
      const url = "/participants/G60020?_data=routes%2Fparticipants.%24participantId._index";
      const form = { intent: "ncp-end", agreementId: String(added.id), version: String(added.version), endsOn: "2026-06-30" };
      const row = async () => (await db.select().from(clearingAgreements).where(eq(clearingAgreements.id, added.id)))[0]!;
      const footprint = await registryFootprint(db);

      // A day before the start is a field message before any question.
      const early = await officerClient.post(url, { ...form, endsOn: "2026-01-04" });
      expect(early.status).toBe(400);
      expect(await early.json()).toMatchObject({ ok: false, fieldErrors: { endsOn: "ncp.error.endsBeforeStart" } });

      const asked = await officerClient.post(url, form, { headers: { "Accept-Language": "zh-HK" } });
      expect(asked.status).toBe(200);
      expect(await asked.json()).toMatchObject({
        confirm: { intent: "ncp-end", titleKey: "confirm.ncp.end.title", params: { ncp: "薄扶林證券有限公司", ncpId: added.ncpId, endsOn: "2026-06-30" }, values: form },
      });
      expect(await row()).toMatchObject({ endsOn: null, version: added.version });
      expect(await registryFootprint(db)).toEqual(footprint);

      const ended = await officerClient.post(url, { ...form, confirmed: "yes" });
      expect(ended.status).toBe(200);
      expect(await row()).toMatchObject({ endsOn: "2026-06-30", version: added.version + 1 });
    });

    it("publishes the agreements in force today as the simulator's NCP/GCP mapping, and looks one NCP up", async () => {
      const { db } = use();
      const b = await contextFor(db, "maker@b01234.demo");
      const signed = await clientWithPrivateKey(b, "B01234");
      const call = async (path: string) => fetch(`${server.baseUrl}/simulator/v1/${path}`, { headers: { Authorization: `Bearer ${await signed.token()}` } });
      const res = await call("ncp-gcp");
      expect(res.status).toBe(200);
      const body = (await res.json()) as { asOf: string; data: { ncpId: string; gcpId: string; ncpNameEn: string; ncpNameZh: string; from: string; to: string | null }[] };
      expect(body.asOf).toBe(hongKongDayOf(new Date()));
      const demo = body.data.filter((m) => m.ncpId.startsWith("E1000"));
      expect(demo.map((m) => [m.ncpId, m.gcpId]).sort()).toEqual([
        ["E10001", "B01234"],
        ["E10002", "B01234"],
        ["E10003", "E00789"],
        ["E10004", "E00789"],
      ]);
      expect(demo.find((m) => m.ncpId === "E10001")).toMatchObject({ ncpNameEn: "Lantau Peak Securities Limited", ncpNameZh: "大嶼峰證券有限公司", to: null });
      const one = await call("ncp-gcp?ncp=e10003");
      expect(one.status).toBe(200);
      expect(((await one.json()) as { data: { gcpId: string }[] }).data).toEqual([expect.objectContaining({ ncpId: "E10003", gcpId: "E00789", from: "2026-01-01" })]);
      expect((await call("ncp-gcp?ncp=E99999")).status).toBe(404);
    });
  });
});
