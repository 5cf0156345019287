import { and, eq } from "drizzle-orm";
import { afterAll, beforeAll, expect, it } from "vitest";
import { certificationCases, certificationResults, certificationRunCases, mailOutbox, onboardingSteps } from "../../db/schema";
import { AppError } from "../../app/lib/errors";
import type { ServiceContext } from "../../app/modules/context.server";
import { DEMO_PASSWORD } from "../../app/modules/demo";
import { CHECKS } from "../../app/modules/onboarding/checks.server";
import { createClient } from "../../app/modules/credentials/service.server";
import {
  addCatalogueCase,
  certificationStatusOf,
  confirmRun,
  decideCertification,
  declareProgramVersion,
  getRun,
  listRuns,
  recordResult,
  returnSubmittedRun,
  runCsv,
  startRun,
  submitRun,
} from "../../app/modules/certification/service.server";
import { advanceCase, certifyParticipant, contextFor, createConsoleUser, issueClientWithKey, registerParticipant } from "../factories";
import { auditEventsSince, lastAuditId } from "../support/audit";
import { describeEachDatabase } from "../support/databases";
import { clientWithPrivateKey } from "../support/simulator";
import { SIMULATOR_RATE_LIMIT } from "../../app/modules/certification/simulator.server";
import { HttpClient, startServer, type RunningServer } from "../support/server";

/**
 * API certification (SPEC §6) through the commands and over HTTP, on both databases: the whole path with its audit
 * events, the rules the commands enforce, tenancy (another participant's run is 404), two officers signing off at
 * once, staleness, and the onboarding check that reads it.
 */

async function refusal(promise: Promise<unknown>, status: number, messageKey?: string): Promise<AppError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AppError);
  expect((error as AppError).status).toBe(status);
  if (messageKey) expect((error as AppError).messageKey).toBe(messageKey);
  return error as AppError;
}

let counter = 0;
function nextId(): string {
  counter++;
  return `K${String((Date.now() + counter) % 100000).padStart(5, "0")}`;
}

describeEachDatabase("API certification", { demo: true }, (use) => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(use().db);
  });
  afterAll(() => server.close());

  const as = (email: string) => contextFor(use().db, email);

  /** A participant subscribed to reference data, with a maker, a checker, a tester and a simulator client. */
  async function participant(services: string[] = ["reference_data"]) {
    const db = use().db;
    const p = await registerParticipant(db, { id: nextId(), services });
    const make = async (role: "da_maker" | "da_checker" | "certification_tester", tag: string): Promise<ServiceContext> => {
      const u = await createConsoleUser(db, { email: `${tag}-${p.id.toLowerCase()}@cert.example`, participantId: p.id, password: DEMO_PASSWORD, roleCodes: [role] });
      return contextFor(db, u.email);
    };
    const maker = await make("da_maker", "maker");
    const checker = await make("da_checker", "checker");
    const tester = await make("certification_tester", "tester");
    const client = await issueClientWithKey(db, p.id, "simulator", maker);
    return { id: p.id, maker, checker, tester, client };
  }

  it("has the demo's states agree with the checks: B01234 mid-certification, C00123 and D00456 signed off", async () => {
    const db = use().db;
    const officer = await as("officer@hkex.demo");
    const [b] = await listRuns(officer, "B01234");
    const view = await getRun(officer, b!.id);
    expect(view.run.status).toBe("recording");
    const latest = (code: string) => view.results.filter((r) => r.caseCode === code).at(-1)?.outcome;
    expect(latest("CON-02")).toBe("failed");
    expect(latest("SIS-03")).toBe("blocked");
    expect(view.results.filter((r) => r.caseCode === "TRD-02").map((r) => r.outcome)).toEqual(["failed", "passed"]);
    const now = new Date();
    for (const id of ["C00123", "D00456"]) {
      expect(await certificationStatusOf(db, id), id).toMatchObject({ current: true, status: "signed_off" });
      for (const check of ["administrators_activated", "test_credentials_issued", "certification_signed_off"] as const) {
        expect(await CHECKS[check](db, id, now), `${id} ${check}`).toMatchObject({ outcome: "pass" });
      }
    }
    expect(await CHECKS.production_credentials_issued(db, "C00123", now)).toMatchObject({ outcome: "pass" });
    expect(await CHECKS.certification_signed_off(db, "B01234", now)).toMatchObject({ outcome: "fail" });
  });

  it("goes from start to sign-off with four eyes on both sides, an audit event for every step, and the run keeps its case text", async () => {
    const db = use().db;
    const p = await participant();
    const officer = await as("officer@hkex.demo");
    const mark = await lastAuditId(db);
    const run = await startRun(p.maker, { participantId: p.id, environment: "simulator", apiClientId: p.client.id, programName: "Gateway", programVersion: "2.1", vendor: "Acme Fintech" });
    expect(run.status).toBe("recording");
    const cases = await db.select().from(certificationRunCases).where(eq(certificationRunCases.runId, run.id));
    expect(cases.map((c) => c.caseCode).sort()).toEqual(["REF-01", "REF-02", "REF-03", "REF-04", "REF-05", "REF-06"]);

    // Not yet: a mandatory case has not passed.
    await refusal(submitRun(p.maker, { runId: run.id }), 400, "cert.refused.mandatoryMissing");
    // Not applicable is for optional cases only.
    await refusal(recordResult(p.tester, { runId: run.id, caseCode: "REF-02", outcome: "not_applicable", evidence: "n/a" }), 400, "cert.refused.mandatoryApplies");
    await refusal(recordResult(p.tester, { runId: run.id, caseCode: "TRD-01", outcome: "passed", evidence: "x" }), 400, "cert.refused.unknownCase");

    await recordResult(p.tester, { runId: run.id, caseCode: "REF-02", outcome: "failed", evidence: "Page 3 missing" });
    for (const code of ["REF-01", "REF-02", "REF-03", "REF-04", "REF-05"]) await recordResult(p.tester, { runId: run.id, caseCode: code, outcome: "passed", evidence: `${code} ok`, jwtCheck: code === "REF-01" ? "All claims passed (check 2026-12-01 10:02)" : undefined });
    await recordResult(p.tester, { runId: run.id, caseCode: "REF-06", outcome: "not_applicable", evidence: "No intraday refresh in our flow" });
    // Re-running a case keeps its history.
    const attempts = await db.select().from(certificationResults).where(and(eq(certificationResults.runId, run.id), eq(certificationResults.caseCode, "REF-02")));
    expect(attempts.map((a) => [a.attempt, a.outcome])).toEqual([
      [1, "failed"],
      [2, "passed"],
    ]);

    // The tester records, and only records.
    expect(p.tester.actor.personas).toEqual(["tester"]);
    await refusal(submitRun(p.tester, { runId: run.id }), 403);
    await refusal(confirmRun(p.tester, { runId: run.id }), 403);
    // Checks before the participant's side: the checker may not submit; the maker may not confirm their own submission.
    await refusal(submitRun(p.checker, { runId: run.id }), 403);
    await submitRun(p.maker, { runId: run.id });
    await refusal(confirmRun(p.maker, { runId: run.id }), 403);
    await refusal(decideCertification(officer, { runId: run.id, decision: "sign_off", declaration: "ok" }), 409, "cert.refused.alreadyDecided");
    await confirmRun(p.checker, { runId: run.id });
    // Nobody signs what they worked on: an officer cannot be a recorder here, but the participant's DAs cannot decide at all.
    await refusal(decideCertification(p.checker, { runId: run.id, decision: "sign_off", declaration: "ok" }), 403);
    const signed = await decideCertification(officer, { runId: run.id, decision: "sign_off", declaration: "Reviewed the results and the evidence." });
    expect(signed).toMatchObject({ status: "signed_off", decidedBy: officer.actor.userId });

    // Immutable after sign-off.
    await refusal(recordResult(p.tester, { runId: run.id, caseCode: "REF-01", outcome: "failed", evidence: "late" }), 409, "cert.refused.signedOff");
    await refusal(decideCertification(await as("officer2@hkex.demo"), { runId: run.id, decision: "return", reason: "again" }), 409);

    const events = await auditEventsSince(db, mark);
    const mine = events.filter((e) => e.entityId === run.id);
    expect(mine.map((e) => e.action)).toEqual([
      "certification.run.started",
      ...Array<string>(7).fill("certification.result.recorded"),
      "certification.run.submitted",
      "certification.run.confirmed",
      "certification.run.signed_off",
    ]);
    expect(mine.every((e) => e.participantId === p.id)).toBe(true);
    expect(mine.at(-1)).toMatchObject({ actorUserId: officer.actor.userId });

    // Its status, and its export for the officer's file.
    const status = await certificationStatusOf(db, p.id);
    expect(status).toMatchObject({ current: true, status: "signed_off", programVersion: "2.1" });
    const csv = await runCsv(officer, run.id);
    expect(csv.body.split("\r\n")[0]).toContain("case,service,mandatory");
    expect(csv.body).toContain("REF-02,reference_data,yes");
    expect(csv.body).toContain("Page 3 missing");
  });

  it("answers 404 for another participant's run, to its administrators, for every read and command", async () => {
    const db = use().db;
    const p = await participant();
    const other = await participant();
    const run = await certifyParticipant(db, p.id, { maker: p.maker, checker: p.checker, officer: await as("officer@hkex.demo") }, { until: "recording", outcomes: { "REF-06": [] } });
    for (const outsider of [other.maker, other.checker, await as("maker@c00123.demo")]) {
      await refusal(getRun(outsider, run.id), 404);
      await refusal(runCsv(outsider, run.id), 404);
      await refusal(recordResult(outsider, { runId: run.id, caseCode: "REF-01", outcome: "failed", evidence: "x" }), 404);
      await refusal(submitRun(outsider, { runId: run.id }), 404);
      await refusal(confirmRun(outsider, { runId: run.id }), 404);
      await refusal(returnSubmittedRun(outsider, { runId: run.id, reason: "x" }), 404);
      await refusal(decideCertification(outsider, { runId: run.id, decision: "sign_off", declaration: "x" }), 404);
      await refusal(declareProgramVersion(outsider, { participantId: p.id, programVersion: "9" }), 404);
      await refusal(startRun(outsider, { participantId: p.id, environment: "simulator", apiClientId: p.client.id, programName: "x", programVersion: "1" }), 404);
      expect((await listRuns(outsider)).map((r) => r.id)).not.toContain(run.id);
    }
    // A client of another participant cannot be used for one's own run.
    await refusal(startRun(other.maker, { participantId: other.id, environment: "simulator", apiClientId: p.client.id, programName: "x", programVersion: "1" }), 400, "cert.refused.client");

    // Over HTTP: the page, the summary and the export are 404 for another participant's administrator.
    const outsider = new HttpClient(server.baseUrl);
    expect((await outsider.signIn("maker@c00123.demo", DEMO_PASSWORD)).status).toBe(302);
    for (const path of [`/certification/${run.id}`, `/certification/${run.id}/summary`, `/certification/${run.id}/export`]) {
      expect((await outsider.get(path)).status, path).toBe(404);
    }
    const own = new HttpClient(server.baseUrl);
    expect((await own.signIn("officer@hkex.demo", DEMO_PASSWORD)).status).toBe(302);
    const page = await own.get(`/certification/${run.id}`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain("Results by case and attempt");
    expect(html).toContain("Not run");
    const exported = await own.get(`/certification/${run.id}/export`);
    expect(exported.headers.get("content-type")).toMatch(/^text\/csv/);
    // The catalogue reads for everyone in the Developer Corner; only the platform administrator adds to it.
    const catalogue = await outsider.get("/certification/catalogue");
    expect(catalogue.status).toBe(200);
    expect(await catalogue.text()).toContain("REF-05");
    const refused = await outsider.post("/certification/catalogue", { intent: "add", code: "ZZZ-01", serviceCode: "reference_data", titleEn: "x", titleZh: "x", steps: "x", expectedResult: "x" });
    expect(refused.status).toBe(403);
  });

  it("lets two officers sign off at once: one sign-off, one 'already decided'", async () => {
    const db = use().db;
    const p = await participant();
    const run = await certifyParticipant(db, p.id, { maker: p.maker, checker: p.checker, officer: await as("officer@hkex.demo") }, { until: "confirmed" });
    const mark = await lastAuditId(db);
    const [a, b] = await Promise.allSettled([
      decideCertification(await as("officer@hkex.demo"), { runId: run.id, decision: "sign_off", declaration: "First" }),
      decideCertification(await as("officer2@hkex.demo"), { runId: run.id, decision: "sign_off", declaration: "Second" }),
    ]);
    const outcomes = [a, b].map((r) => r.status).sort();
    expect(outcomes).toEqual(["fulfilled", "rejected"]);
    const rejected = [a, b].find((r) => r.status === "rejected") as PromiseRejectedResult;
    expect(rejected.reason).toBeInstanceOf(AppError);
    expect(rejected.reason).toMatchObject({ status: 409, messageKey: "cert.refused.alreadyDecided" });
    const events = (await auditEventsSince(db, mark)).filter((e) => e.entityId === run.id);
    expect(events.map((e) => e.action)).toEqual(["certification.run.signed_off"]);
  });

  it("returns with reasons on both sides, then lets the participant record again and resubmit", async () => {
    const db = use().db;
    const p = await participant();
    const officer = await as("officer@hkex.demo");
    const run = await certifyParticipant(db, p.id, { maker: p.maker, checker: p.checker, officer }, { until: "submitted" });
    await refusal(returnSubmittedRun(p.maker, { runId: run.id, reason: "own" }), 403);
    await returnSubmittedRun(p.checker, { runId: run.id, reason: "Evidence of REF-03 shows the wrong day" });
    await recordResult(p.tester, { runId: run.id, caseCode: "REF-03", outcome: "passed", evidence: "Today's file" });
    await submitRun(p.maker, { runId: run.id });
    await confirmRun(p.checker, { runId: run.id });
    const returned = await decideCertification(officer, { runId: run.id, decision: "return", reason: "Attach the JWT check to REF-01" });
    expect(returned).toMatchObject({ status: "returned", returnReason: "Attach the JWT check to REF-01" });
    await refusal(decideCertification(officer, { runId: run.id, decision: "return", reason: "" }), 400);
  });

  it("turns stale on a new program version or a new mandatory case, and the onboarding check follows", async () => {
    const db = use().db;
    const p = await participant();
    const officer = await as("officer@hkex.demo");
    await certifyParticipant(db, p.id, { maker: p.maker, checker: p.checker, officer }, { programVersion: "1.0" });
    const now = new Date();
    expect(await CHECKS.certification_signed_off(db, p.id, now)).toMatchObject({ outcome: "pass", params: { version: "1.0" } });
    expect(await CHECKS.test_credentials_issued(db, p.id, now)).toMatchObject({ outcome: "pass" });
    expect(await CHECKS.production_credentials_issued(db, p.id, now)).toMatchObject({ outcome: "fail" });

    const mark = await lastAuditId(db);
    await declareProgramVersion(p.maker, { participantId: p.id, programVersion: "1.1" });
    expect(await certificationStatusOf(db, p.id)).toMatchObject({ current: false, status: "stale" });
    expect(await CHECKS.certification_signed_off(db, p.id, now)).toMatchObject({ outcome: "fail" });
    expect((await auditEventsSince(db, mark)).map((e) => e.action)).toEqual(["certification.run.stale"]);
    // The participant is told.
    const told = await db.select().from(mailOutbox).where(and(eq(mailOutbox.kind, "certification_stale"), eq(mailOutbox.participantId, p.id)));
    expect(told.map((m) => m.toAddress).sort()).toEqual([p.checker.actor.email, p.maker.actor.email].sort());

    // Re-certified for 1.1, then the catalogue adds a mandatory reference-data case: stale again.
    const recertified = await certifyParticipant(db, p.id, { maker: p.maker, checker: p.checker, officer }, { programVersion: "1.1" });
    expect(await CHECKS.certification_signed_off(db, p.id, now)).toMatchObject({ outcome: "pass" });
    const copied = await db.select().from(certificationRunCases).where(eq(certificationRunCases.runId, recertified.id));
    const code = `RFX-${String(counter).padStart(2, "0")}`;
    await addCatalogueCase(await as("platform@hkex.demo"), { code, serviceCode: "reference_data", titleEn: "Holiday calendar change", titleZh: "假期日曆更改", steps: "1. Request.", expectedResult: "New holiday shown", mandatory: true });
    expect(await certificationStatusOf(db, p.id)).toMatchObject({ current: false, status: "stale" });
    // History keeps every run; the demo's other participants subscribed to reference data went stale as well.
    expect((await listRuns(officer, p.id)).map((r) => r.status).sort()).toEqual(["stale", "stale"]);
    const [added] = await db.select().from(certificationCases).where(eq(certificationCases.code, code));
    expect(added?.catalogueVersion).toBeGreaterThan(1);
    // The catalogue change never rewrites the run's copy of its cases.
    expect(await db.select().from(certificationRunCases).where(eq(certificationRunCases.runId, recertified.id))).toEqual(copied);
  });

  it("serves the simulator to a registered simulator key only, records each call as machine evidence, pages the SI feed and rate-limits", async () => {
    const db = use().db;
    const p = await participant(["reference_data", "si_status"]);
    const signed = await clientWithPrivateKey(p.maker, p.id);
    const run = await startRun(p.maker, { participantId: p.id, environment: "simulator", apiClientId: signed.client.id, programName: "Gateway", programVersion: "4.0" });
    const call = (path: string, token?: string) => fetch(`${server.baseUrl}/simulator/v1/${path}`, { headers: token ? { Authorization: `Bearer ${token}` } : {} });

    expect((await call("participants")).status).toBe(401);
    const ok = await call("participants", await signed.token());
    expect(ok.status).toBe(200);
    const requestId = ok.headers.get("x-request-id");
    expect(((await ok.json()) as { data: unknown[] }).data.length).toBeGreaterThan(0);
    const machine = await db.select().from(certificationResults).where(eq(certificationResults.runId, run.id));
    expect(machine.map((r) => [r.caseCode, r.outcome, r.recordedBy]).sort()).toEqual([
      ["REF-01", "passed", null],
      ["REF-02", "passed", null],
    ]);
    expect(machine[0]!.evidence).toContain(`request ${requestId}`);
    expect(machine[0]!.evidence).toContain("token check passed, HTTP 200");

    // The push feed replays from any event id, page by page.
    const first = (await (await call("si-events?limit=50", await signed.token())).json()) as { events: { id: number }[]; next: string | null };
    expect(first.events.map((e) => e.id)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    const replay = (await (await call("si-events?after=100&limit=50", await signed.token())).json()) as { events: { id: number }[]; next: string | null };
    expect(replay.events[0]!.id).toBe(101);
    expect(replay.next).toBeNull();

    // A wrong audience, a test client's key and a made-up token: 401, and nothing recorded for them.
    const before = (await db.select().from(certificationResults).where(eq(certificationResults.runId, run.id))).length;
    const wrongAudience = await call("stocks", await signed.token({ audience: "https://ocp-api.example/hkex" }));
    expect(wrongAudience.status).toBe(401);
    expect(((await wrongAudience.json()) as { findings: string[] }).findings.length).toBeGreaterThan(0);
    const testClient = await clientWithPrivateKey(p.maker, p.id, "test");
    expect((await call("stocks", await testClient.token())).status).toBe(401);
    expect((await call("stocks", "a.b.c")).status).toBe(401);
    expect((await db.select().from(certificationResults).where(eq(certificationResults.runId, run.id))).length).toBe(before);

    // Rate-limited per client.
    const statuses: number[] = [];
    const token = await signed.token();
    for (let i = 0; i < SIMULATOR_RATE_LIMIT; i++) statuses.push((await call("calendar", token)).status);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
    const limited = await call("calendar", token);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
  });

  it("opens the API certification step only when the certification is signed off, and an administrator without a second factor is not activated", async () => {
    const db = use().db;
    const officer = await as("officer@hkex.demo");
    const approver = await as("officer2@hkex.demo");
    const p = await participant(["trade_info"]);
    await advanceCase(db, p.id, { officer, approver, participant: p.maker }, "api_certification");
    const [step] = await db.select().from(onboardingSteps).where(and(eq(onboardingSteps.participantId, p.id), eq(onboardingSteps.stepKey, "api_certification")));
    expect(step?.state).toBe("approved");
    expect(await certificationStatusOf(db, p.id)).toMatchObject({ current: true });
    // Production for a new program version waits for its own sign-off.
    await declareProgramVersion(p.maker, { participantId: p.id, programVersion: "2.0" });
    await refusal(createClient(p.maker, { participantId: p.id, environment: "production", name: "Prod", ownerUserId: p.maker.actor.userId! }), 400, "credentials.error.notCertified");

    // A newly appointed checker who never enrolled a second factor: the participant's administrators are not all activated.
    await createConsoleUser(db, { email: `no2fa-${p.id.toLowerCase()}@cert.example`, participantId: p.id, password: DEMO_PASSWORD, roleCodes: ["da_checker"], totpSecret: null });
    expect(await CHECKS.administrators_activated(db, p.id, new Date())).toMatchObject({ outcome: "fail" });
  });
});
