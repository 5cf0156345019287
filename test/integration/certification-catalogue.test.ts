import { eq } from "drizzle-orm";
import { beforeAll, expect, it } from "vitest";
import { certificationCases, certificationRunCases } from "../../db/schema";
import type { ServiceContext } from "../../app/modules/context.server";
import {
  addCatalogueCase,
  catalogueVersion,
  certificationStatusOf,
  changeCatalogueCase,
  declareProgramVersion,
  getRun,
  recordResult,
  retireCatalogueCase,
  startRun,
} from "../../app/modules/certification/service.server";
import { certifyParticipant, contextFor, createConsoleUser, issueClientWithKey, registerParticipant } from "../factories";
import { auditEventsSince, lastAuditId } from "../support/audit";
import { describeEachDatabase } from "../support/databases";
import { refusedWith } from "../support/onboarding";
import { HttpClient, startServer } from "../support/server";
import { DEMO_PASSWORD } from "../../app/modules/demo";

/**
 * The test-case catalogue managed by the platform administrator (SPEC §6): changing a case is a new catalogue
 * version of it, retiring one leaves it out of new runs; runs keep the text they started with, and past runs stay
 * as they were.
 */
describeEachDatabase("certification catalogue management", { demo: true, compatibility: true }, (use) => {
  let admin: ServiceContext;
  let officer: ServiceContext;
  let n = 0;

  beforeAll(async () => {
    admin = await contextFor(use().db, "platform@hkex.demo");
    officer = await contextFor(use().db, "officer@hkex.demo");
  });

  /** A participant subscribed to reference data only, with its administrators and a simulator client. */
  async function participant() {
    const db = use().db;
    const p = await registerParticipant(db, { id: `Q${String(61000 + ++n)}`, type: "DCP", services: ["reference_data"] });
    const make = async (role: string, tag: string) => contextFor(db, (await createConsoleUser(db, { email: `${tag}-${p.id.toLowerCase()}@catalogue.example`, participantId: p.id, roleCodes: [role] })).email);
    const maker = await make("da_maker", "maker");
    const checker = await make("da_checker", "checker");
    const client = await issueClientWithKey(db, p.id, "simulator", maker);
    return { id: p.id, maker, checker, client };
  }

  async function newCase(mandatory = false) {
    const code = `RFC-${String(10 + ++n)}`;
    const added = await addCatalogueCase(admin, { code, serviceCode: "reference_data", titleEn: "Stock list at noon", titleZh: "中午的股份名單", steps: "1. Request the stock list at 12:00.", expectedResult: "Every listed stock", mandatory });
    return { code, version: added.catalogueVersion };
  }

  const caseRow = async (code: string) => (await use().db.select().from(certificationCases).where(eq(certificationCases.code, code)))[0]!;
  const edit = (code: string, version: number, overrides: Record<string, unknown> = {}) => ({
    code,
    catalogueVersion: version,
    titleEn: "Stock list at noon, with suspensions",
    titleZh: "中午的股份名單（包括停牌）",
    steps: "1. Request the stock list at 12:00. 2. Look for a suspended stock.",
    expectedResult: "Every listed stock, suspended ones flagged",
    mandatory: false,
    ...overrides,
  });

  it("changes a case as a new catalogue version, audited; a run already started keeps the text it used, a new run gets the new one", async () => {
    const db = use().db;
    const { code, version } = await newCase();
    const p = await participant();
    const first = await startRun(p.maker, { participantId: p.id, environment: "simulator", apiClientId: p.client.id, programName: "Gateway", programVersion: "1.0" });
    const copied = await db.select().from(certificationRunCases).where(eq(certificationRunCases.runId, first.id));
    expect(copied.find((c) => c.caseCode === code)?.titleEn).toBe("Stock list at noon");

    const mark = await lastAuditId(db);
    const changed = await changeCatalogueCase(admin, edit(code, version));
    expect(changed.catalogueVersion).toBe(version + 1);
    expect(await catalogueVersion(db)).toBe(version + 1);
    expect(await caseRow(code)).toMatchObject({ titleEn: "Stock list at noon, with suspensions", catalogueVersion: version + 1, retiredAt: null });
    const events = await auditEventsSince(db, mark);
    expect(events.map((e) => e.action)).toEqual(["certification.case.changed"]);
    expect(events[0]).toMatchObject({ entityType: "certification_case", entityId: code, participantId: null, actorName: "Patrick Platform" });
    expect(events[0]!.changes).toMatchObject({
      titleEn: { before: "Stock list at noon", after: "Stock list at noon, with suspensions" },
      catalogueVersion: { before: version, after: version + 1 },
    });
    expect(events[0]!.changes).not.toHaveProperty("mandatory");

    // The open run is not rewritten.
    expect(await db.select().from(certificationRunCases).where(eq(certificationRunCases.runId, first.id))).toEqual(copied);
    // A new run (after the first went stale on a new program version) has the new text.
    await declareProgramVersion(p.maker, { participantId: p.id, programVersion: "1.1" });
    const second = await startRun(p.maker, { participantId: p.id, environment: "simulator", apiClientId: p.client.id, programName: "Gateway", programVersion: "1.1" });
    const view = await getRun(officer, second.id);
    expect(view.cases.find((c) => c.caseCode === code)?.titleEn).toBe("Stock list at noon, with suspensions");
  });

  it("refuses a bad change with a field message, a stale form with 409, and anyone but the platform administrator with 403; nothing changes", async () => {
    const db = use().db;
    const { code, version } = await newCase();
    const before = await caseRow(code);
    const mark = await lastAuditId(db);
    const blank = await refusedWith(changeCatalogueCase(admin, edit(code, version, { titleZh: " " })), 400, "error.badRequest");
    expect(blank.fieldErrors).toEqual({ titleZh: "validation.required" });
    await refusedWith(changeCatalogueCase(admin, edit(code, version - 1)), 409, "error.conflict");
    await refusedWith(changeCatalogueCase(officer, edit(code, version)), 403);
    await refusedWith(changeCatalogueCase(await contextFor(db, "maker@b01234.demo"), edit(code, version)), 403);
    await refusedWith(changeCatalogueCase(admin, edit("ZZZ-99", 1)), 404, "error.notFound");
    expect(await caseRow(code)).toEqual(before);
    expect(await auditEventsSince(db, mark)).toEqual([]);
  });

  it("retires a case: new runs leave it out, a past run keeps it with its results; a retired case changes no more", async () => {
    const db = use().db;
    const { code, version } = await newCase();
    const p = await participant();
    const first = await startRun(p.maker, { participantId: p.id, environment: "simulator", apiClientId: p.client.id, programName: "Gateway", programVersion: "1.0" });
    await recordResult(p.maker, { runId: first.id, caseCode: code, outcome: "passed", evidence: "Noon file matched" });

    const short = await refusedWith(retireCatalogueCase(admin, { code, catalogueVersion: version, reason: "old" }), 400, "error.badRequest");
    expect(short.fieldErrors).toEqual({ reason: "validation.reasonTooShort" });
    const mark = await lastAuditId(db);
    const retired = await retireCatalogueCase(admin, { code, catalogueVersion: version, reason: "Replaced by the end-of-day stock list case" });
    expect(retired.catalogueVersion).toBe(version + 1);
    expect((await caseRow(code)).retiredAt).not.toBeNull();
    const events = await auditEventsSince(db, mark);
    expect(events.map((e) => [e.action, e.entityId, e.reason])).toEqual([["certification.case.retired", code, "Replaced by the end-of-day stock list case"]]);

    const past = await getRun(officer, first.id);
    expect(past.cases.map((c) => c.caseCode)).toContain(code);
    expect(past.results.filter((r) => r.caseCode === code).map((r) => r.outcome)).toEqual(["passed"]);
    await declareProgramVersion(p.maker, { participantId: p.id, programVersion: "2.0" });
    const next = await startRun(p.maker, { participantId: p.id, environment: "simulator", apiClientId: p.client.id, programName: "Gateway", programVersion: "2.0" });
    expect((await getRun(officer, next.id)).cases.map((c) => c.caseCode)).not.toContain(code);

    await refusedWith(retireCatalogueCase(admin, { code, catalogueVersion: version + 1, reason: "Retire it twice" }), 409, "cert.refused.caseRetired");
    await refusedWith(changeCatalogueCase(admin, edit(code, version + 1)), 409, "cert.refused.caseRetired");
  });

  it("over HTTP, asks before retiring, naming the case in the reader's language, and refuses a short reason first; only the confirmed post retires", async () => {
    const db = use().db;
    const { code, version } = await newCase();
    const server = await startServer(db);
    try {
      const client = new HttpClient(server.baseUrl);
      expect((await client.signIn("platform@hkex.demo", DEMO_PASSWORD)).status).toBe(302);
      const url = "/certification/catalogue?_data=routes%2Fcertification.catalogue";
      const form = { intent: "retire", caseCode: code, catalogueVersion: String(version), reason: "Replaced by the end-of-day stock list case" };
      const mark = await lastAuditId(db);

      const short = await client.post(url, { ...form, reason: "old" });
      expect(short.status).toBe(400);
      expect(await short.json()).toMatchObject({ ok: false, fieldErrors: { reason: "validation.reasonTooShort" } });
      const stale = await client.post(url, { ...form, catalogueVersion: String(version - 1) });
      expect(stale.status).toBe(409);

      const asked = await client.post(url, form, { headers: { "Accept-Language": "zh-HK" } });
      expect(asked.status).toBe(200);
      expect(await asked.json()).toMatchObject({ confirm: { intent: "retire", titleKey: "confirm.case.retire.title", params: { code, title: "中午的股份名單" }, values: form } });
      expect((await caseRow(code)).retiredAt).toBeNull();
      expect(await catalogueVersion(db)).toBe(version);
      expect(await auditEventsSince(db, mark)).toEqual([]);

      const retired = await client.post(url, { ...form, confirmed: "yes" });
      expect(retired.status).toBe(200);
      expect((await caseRow(code)).retiredAt).not.toBeNull();
      expect((await auditEventsSince(db, mark)).map((e) => e.action)).toEqual(["certification.case.retired"]);
      // Asking again about a retired case is the command's own refusal, not a question.
      expect((await client.post(url, { ...form, catalogueVersion: String(version + 1) })).status).toBe(409);
    } finally {
      await server.close();
    }
  });

  it("makes the subscribers' sign-offs stale when a case becomes mandatory", async () => {
    const db = use().db;
    const { code, version } = await newCase(false);
    const p = await participant();
    await certifyParticipant(db, p.id, { maker: p.maker, checker: p.checker, officer }, { programVersion: "3.0" });
    expect(await certificationStatusOf(db, p.id)).toMatchObject({ current: true, status: "signed_off" });
    const mark = await lastAuditId(db);
    await changeCatalogueCase(admin, edit(code, version, { mandatory: true }));
    expect(await certificationStatusOf(db, p.id)).toMatchObject({ current: false, status: "stale" });
    const actions = (await auditEventsSince(db, mark)).map((e) => e.action);
    expect(actions[0]).toBe("certification.case.changed");
    expect(actions).toContain("certification.run.stale");
  });
});
