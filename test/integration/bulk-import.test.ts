import { parse } from "csv-parse/sync";
import { count, eq, inArray } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditEvents, grantRequests, importRuns, roleGrants, users } from "../../db/schema";
import { consolePersonasOf } from "../../app/auth/session.server";
import type { ServiceContext } from "../../app/modules/context.server";
import { decideRequest } from "../../app/modules/roles/service.server";
import { applyImport, checkImport, importReportCsv, parseImportFile, type ImportProgress } from "../../app/modules/users/import.server";
import { createUser, getUserProfile } from "../../app/modules/users/service.server";
import { contextFor, registerParticipant } from "../factories";
import { createFirm, refusal } from "../support/access";
import { auditEventsSince, lastAuditId } from "../support/audit";
import { describeEachDatabase } from "../support/databases";
import { HttpClient, startServer, type RunningServer } from "../support/server";

const HEADER = "email,display_name,roles,valid_from,valid_to,justification";

interface ReportLine {
  line: string;
  email: string;
  outcome: string;
  roles: string;
  user_id: string;
  errors: string;
}
const readReport = (csv: string) => parse(csv, { columns: true, skip_empty_lines: true }) as ReportLine[];

describeEachDatabase("bulk import of users and role requests", { demo: true }, (use) => {
  let officer: ServiceContext;
  const db = () => use().db;
  const totals = async () => {
    const n = async (table: typeof users | typeof grantRequests | typeof roleGrants | typeof importRuns) => Number((await db().select({ n: count() }).from(table))[0]!.n);
    return { users: await n(users), requests: await n(grantRequests), grants: await n(roleGrants), runs: await n(importRuns) };
  };

  beforeAll(async () => {
    officer = await contextFor(db(), "officer@hkex.demo");
  });

  describe("a file with problems", () => {
    it("changes nothing but the dry-run record, and reports each problem by line, column and reason", async () => {
      const firm = await createFirm(db());
      await createUser(firm.maker, { participantId: firm.participant.id, email: "taken@bulk.test", displayName: "Already Here" });
      const file = [
        HEADER,
        "good.one@bulk.test,Good One,trade_info_viewer,,,",
        "not-an-email,Bad Email,,,,",
        "no.name@bulk.test,,,,,",
        "unknown.role@bulk.test,Unknown Role,trade_info_viewer;superuser,,,",
        "sod@bulk.test,Both Halves,si_maker;si_checker,,,",
        "good.one@bulk.test,Good Again,,,,",
        "taken@bulk.test,Taken,,,,",
        "dates@bulk.test,Bad Dates,ref_data_viewer,2026-05-01,2026-04-01,",
        "nodate@bulk.test,No Date,ref_data_viewer,someday,,",
        "short@bulk.test,Short Row",
        "hkex@bulk.test,HKEX Role,helpdesk,,,",
      ].join("\n");
      const before = await totals();
      const auditBefore = await lastAuditId(db());
      const run = await checkImport(firm.maker, { participantId: firm.participant.id, fileName: "staff.csv", text: file });

      expect(run).toMatchObject({ mode: "dry_run", outcome: "invalid", rowCount: 11, errorCount: 10, appliedAt: null });
      const problems = run.report.filter((r) => r.outcome === "error").map((r) => ({ line: r.line, errors: r.errors!.map((e) => `${e.column}: ${e.message}`) }));
      expect(problems).toEqual([
        { line: 3, errors: ["email: is not an email address"] },
        { line: 4, errors: ["display_name: is empty"] },
        { line: 5, errors: ['roles: "superuser" is not a participant role in the catalogue'] },
        { line: 6, errors: ["roles: si_maker and si_checker may not be held together"] },
        { line: 7, errors: ["email: repeats line 2"] },
        { line: 8, errors: ["email: is already a login name (login names are never reused)"] },
        { line: 9, errors: ["valid_to: is not after valid_from"] },
        { line: 10, errors: ["valid_from: is not a date (YYYY-MM-DD)"] },
        { line: 11, errors: ["*: has 2 values; the header has 6 columns"] },
        { line: 12, errors: ['roles: "helpdesk" is not a participant role in the catalogue'] },
      ]);
      expect(run.report.find((r) => r.line === 2)).toMatchObject({ outcome: "ok", email: "good.one@bulk.test" });

      // Only the dry run's record and its audit event.
      expect(await totals()).toEqual({ ...before, runs: before.runs + 1 });
      const events = await auditEventsSince(db(), auditBefore);
      expect(events.map((e) => [e.action, e.entityId])).toEqual([["user.import.checked", run.id]]);
      expect(events[0]!.metadata).toMatchObject({ rows: 11, errors: 10 });

      // The downloadable report says the same.
      const report = readReport(importReportCsv(run));
      expect(report).toHaveLength(11);
      expect(report[1]).toMatchObject({ line: "3", email: "not-an-email", outcome: "error", errors: "email: is not an email address" });
      // Plain words, no rule id (issue 14); the file's own column and role codes stay, as the file wrote them.
      expect(report.find((r) => r.line === "6")!.errors).toBe("roles: si_maker and si_checker may not be held together");

      // Applying an invalid run applies nothing.
      await refusal(applyImport(firm.maker, { runId: run.id }), 400, "import.error.invalidNow");
      expect(await totals()).toEqual({ ...before, runs: before.runs + 1 });
      expect(await auditEventsSince(db(), auditBefore)).toHaveLength(1);
    });

    it("refuses a file it cannot read at all, naming what is wrong", async () => {
      const firm = await createFirm(db());
      const header = await refusal(checkImport(firm.maker, { participantId: firm.participant.id, fileName: "x.csv", text: "mail,name\na@b.test,A\n" }), 400, "import.error.header");
      expect(header.params).toMatchObject({ unknown: "mail, name", missing: "email, display_name" });
      await refusal(checkImport(firm.maker, { participantId: firm.participant.id, fileName: "x.csv", text: `${HEADER}\n` }), 400, "import.error.empty");
      await refusal(checkImport(firm.maker, { participantId: firm.participant.id, fileName: "x.csv", text: "" }), 400, "import.error.empty");
      await refusal(checkImport(firm.maker, { participantId: firm.participant.id, fileName: "x.csv", text: `${HEADER}\n"unclosed@bulk.test,Name,,,,\n` }), 400, "import.error.unreadable");
      expect(() => parseImportFile(`${HEADER}\n${"a@b.test,A,,,,\n".repeat(20_001)}`)).toThrow();
    });

    it("applies nothing when the world changed since the dry run", async () => {
      const firm = await createFirm(db());
      const run = await checkImport(firm.maker, { participantId: firm.participant.id, fileName: "late.csv", text: `${HEADER}\nfirst.late@bulk.test,First,,,,\nsecond.late@bulk.test,Second,ref_data_viewer,,,\n` });
      expect(run.outcome).toBe("valid");
      await createUser(firm.maker, { participantId: firm.participant.id, email: "second.late@bulk.test", displayName: "Made by hand meanwhile" });
      const before = await totals();
      const auditBefore = await lastAuditId(db());
      const error = await refusal(applyImport(firm.maker, { runId: run.id }), 400, "import.error.invalidNow");
      expect(error.params).toEqual({ errors: 1 });
      expect(await totals()).toEqual(before);
      expect(await auditEventsSince(db(), auditBefore)).toEqual([]);
      expect(await db().select().from(users).where(eq(users.email, "first.late@bulk.test"))).toEqual([]);
    });
  });

  describe("a good file", () => {
    it("creates invited users whose roles wait for a checker, once only, with a report that reads back", async () => {
      const firm = await createFirm(db());
      const file = [
        HEADER,
        "amy.chan@bulk.test,Amy Chan,trade_info_viewer;ref_data_viewer,,2027-06-30,",
        "ben.ho@bulk.test,Ben Ho,si_maker,,,",
        '"carol.ip@bulk.test","Ip, Carol",,,,',
        "+plus@bulk.test,Plus Sign,si_status_subscriber,,,",
        "-minus@bulk.test,Minus Sign,,,,",
      ].join("\r\n");
      const run = await checkImport(firm.maker, { participantId: firm.participant.id, fileName: "team.csv", text: file });
      expect(run).toMatchObject({ outcome: "valid", rowCount: 5, errorCount: 0 });
      const before = await totals();
      const auditBefore = await lastAuditId(db());
      const applied = await applyImport(firm.maker, { runId: run.id });
      expect(applied).toMatchObject({ mode: "apply", outcome: "applied", errorCount: 0 });
      expect(applied.appliedAt).not.toBeNull();
      expect(await totals()).toEqual({ ...before, users: before.users + 5, requests: before.requests + 4 });

      const created = await db().select().from(users).where(inArray(users.email, ["amy.chan@bulk.test", "ben.ho@bulk.test", "carol.ip@bulk.test", "+plus@bulk.test", "-minus@bulk.test"]));
      expect(created.map((u) => [u.email, u.displayName, u.status, u.participantId]).sort()).toEqual(
        [
          ["+plus@bulk.test", "Plus Sign", "invited", firm.participant.id],
          ["-minus@bulk.test", "Minus Sign", "invited", firm.participant.id],
          ["amy.chan@bulk.test", "Amy Chan", "invited", firm.participant.id],
          ["ben.ho@bulk.test", "Ben Ho", "invited", firm.participant.id],
          ["carol.ip@bulk.test", "Ip, Carol", "invited", firm.participant.id],
        ].sort(),
      );
      const requests = await db().select().from(grantRequests).where(eq(grantRequests.importRunId, run.id));
      expect(requests.map((r) => [r.roleCode, r.status, r.source, r.requestedBy]).sort()).toEqual(
        [
          ["ref_data_viewer", "pending", "import", firm.maker.actor.userId],
          ["si_maker", "pending", "import", firm.maker.actor.userId],
          ["si_status_subscriber", "pending", "import", firm.maker.actor.userId],
          ["trade_info_viewer", "pending", "import", firm.maker.actor.userId],
        ].sort(),
      );
      // valid_to 2027-06-30 is the whole of that Hong Kong day.
      expect(requests.find((r) => r.roleCode === "trade_info_viewer")!.validTo?.toISOString()).toBe("2027-06-30T15:59:59.999Z");

      const events = await auditEventsSince(db(), auditBefore);
      expect(events.filter((e) => e.action === "user.created")).toHaveLength(5);
      expect(events.filter((e) => e.action === "role.grant.requested")).toHaveLength(4);
      expect(events.at(-1)).toMatchObject({ action: "user.import.applied", entityId: run.id, metadata: { rows: 5, requests: 4, grants: 0 } });

      // Once only.
      await refusal(applyImport(firm.maker, { runId: run.id }), 409, "import.error.alreadyApplied");
      expect(await totals()).toEqual({ ...before, users: before.users + 5, requests: before.requests + 4 });

      // A checker approves an imported request like any other; the grant says where it came from.
      const amy = created.find((u) => u.email === "amy.chan@bulk.test")!;
      const amyRequest = requests.find((r) => r.userId === amy.id && r.roleCode === "ref_data_viewer")!;
      await decideRequest(firm.checker, { requestId: amyRequest.id, decision: "approve" });
      const profile = await getUserProfile(firm.maker, amy.id);
      expect(profile.grants).toEqual([expect.objectContaining({ roleCode: "ref_data_viewer", source: "import", requestedByName: firm.maker.actor.displayName, approvedByName: firm.checker.actor.displayName })]);

      // The report, read back as a spreadsheet would, matches the rows; cells a spreadsheet would run are inert.
      const report = readReport(importReportCsv(applied));
      const byEmail = new Map(created.map((u) => [u.email, u.id]));
      expect(report).toEqual([
        { line: "2", email: "amy.chan@bulk.test", outcome: "requested", roles: "trade_info_viewer;ref_data_viewer", user_id: byEmail.get("amy.chan@bulk.test"), errors: "" },
        { line: "3", email: "ben.ho@bulk.test", outcome: "requested", roles: "si_maker", user_id: byEmail.get("ben.ho@bulk.test"), errors: "" },
        { line: "4", email: "carol.ip@bulk.test", outcome: "created", roles: "", user_id: byEmail.get("carol.ip@bulk.test"), errors: "" },
        { line: "5", email: "'+plus@bulk.test", outcome: "requested", roles: "si_status_subscriber", user_id: byEmail.get("+plus@bulk.test"), errors: "" },
        { line: "6", email: "'-minus@bulk.test", outcome: "created", roles: "", user_id: byEmail.get("-minus@bulk.test"), errors: "" },
      ]);
    });

    it("makes every cell that starts with = + - or @ inert in the report", async () => {
      const firm = await createFirm(db());
      const file = [
        HEADER,
        '"=HYPERLINK(""http://evil.test"",""x"")",Formula Email,,,,',
        "@SUM(1+1)@bulk.test,At Sign,,,,",
        "+1@bulk.test,Plus,,,,",
        "-1@bulk.test,Minus,,,,",
        "safe@bulk.test,Safe,=1+1,,,",
      ].join("\n");
      const run = await checkImport(firm.maker, { participantId: firm.participant.id, fileName: "evil.csv", text: file });
      const csv = importReportCsv(run);
      const report = readReport(csv);
      expect(report.map((r) => r.email)).toEqual(['\'=HYPERLINK("http://evil.test","x")', "'@SUM(1+1)@bulk.test", "'+1@bulk.test", "'-1@bulk.test", "safe@bulk.test"]);
      for (const row of report) {
        for (const cell of Object.values(row)) expect(cell, JSON.stringify(row)).not.toMatch(/^[=+\-@\t\r]/);
      }
      expect(report.at(-1)!.errors).toBe('roles: "=1+1" is not a participant role in the catalogue');
    });
  });

  describe("an officer's import", () => {
    it("grants a participant's first administrators directly, and nothing else", async () => {
      const bare = await registerParticipant(db());
      const tag = bare.id.toLowerCase();
      const refused = await checkImport(officer, { participantId: bare.id, fileName: "admins.csv", text: `${HEADER}\nmaker.${tag}@bulk.test,First Maker,da_maker,,,\nops.${tag}@bulk.test,Ops,trade_info_viewer,,,\n` });
      // In the report, the English line and, for the page in either language, the message and the role it names.
      expect(refused.report[1]!.errors).toEqual([
        { column: "roles", message: 'an officer may grant only DA roles, not "trade_info_viewer"', messageKey: "import.row.officerDaOnly", params: { role: "trade_info_viewer" } },
      ]);

      const run = await checkImport(officer, { participantId: bare.id, fileName: "admins.csv", text: `${HEADER}\nmaker.${tag}@bulk.test,First Maker,da_maker,,,\nchecker.${tag}@bulk.test,First Checker,da_checker,,,\n` });
      expect(run.outcome).toBe("valid");
      const applied = await applyImport(officer, { runId: run.id });
      expect(applied.report.map((r) => r.outcome)).toEqual(["granted", "granted"]);
      const created = await db().select().from(users).where(eq(users.participantId, bare.id));
      expect(created).toHaveLength(2);
      const grants = await db().select().from(roleGrants).where(eq(roleGrants.participantId, bare.id));
      expect(grants.map((g) => [g.roleCode, g.source, g.approvedBy, g.status]).sort()).toEqual([
        ["da_checker", "import", officer.actor.userId, "active"],
        ["da_maker", "import", officer.actor.userId, "active"],
      ]);
      for (const user of created) expect((await consolePersonasOf(db(), user.id, new Date())).length).toBe(1);
      expect(await db().select().from(grantRequests).where(eq(grantRequests.participantId, bare.id))).toEqual([]);

      // Once a participant has active administrators, an officer's import grants nothing more.
      const staffed = await createFirm(db());
      const more = await checkImport(officer, { participantId: staffed.participant.id, fileName: "more.csv", text: `${HEADER}\nthird.${tag}@bulk.test,Third,da_checker,,,\n` });
      expect(more.report[0]!.errors).toEqual([{ column: "roles", message: "an officer may grant roles only to a participant's first administrators", messageKey: "import.row.officerFirstOnly" }]);
    });

    it("is refused to staff who may not import", async () => {
      const firm = await createFirm(db());
      for (const email of ["helpdesk@hkex.demo", "compliance@hkex.demo"]) {
        await refusal(checkImport(await contextFor(db(), email), { participantId: firm.participant.id, fileName: "x.csv", text: `${HEADER}\nx@bulk.test,X,,,,\n` }), 403);
      }
      await refusal(checkImport(firm.checker, { participantId: firm.participant.id, fileName: "x.csv", text: `${HEADER}\nx@bulk.test,X,,,,\n` }), 403);
    });
  });

  describe("at scale", () => {
    // Its speed at 10,000 rows is measured by bench/bulk-import.ts (docs/performance.md), not asserted here.
    it("imports 3,000 rows in one transaction, across many write batches, with progress", async () => {
      const rows = 3_000;
      const firm = await createFirm(db());
      const tag = firm.participant.id.toLowerCase();
      const lines = [HEADER];
      for (let i = 0; i < rows; i++) lines.push(`user${i}.${tag}@scale.test,Scale User ${i},trade_info_viewer,,,`);
      const started = performance.now();
      const run = await checkImport(firm.maker, { participantId: firm.participant.id, fileName: "scale.csv", text: lines.join("\n") });
      const checkedAt = performance.now();
      expect(run).toMatchObject({ outcome: "valid", rowCount: rows, errorCount: 0 });
      const progress: { phase: string; done: number; total: number }[] = [];
      const onProgress: ImportProgress = (phase, done, total) => progress.push({ phase, done, total });
      const before = await totals();
      const auditBefore = await lastAuditId(db());
      const applied = await applyImport(firm.maker, { runId: run.id, progress: onProgress });
      const appliedAt = performance.now();
      const seconds = (appliedAt - started) / 1000;
      console.log(
        `bulk import [${use().kind}]: ${rows} rows — dry run ${((checkedAt - started) / 1000).toFixed(1)} s, apply ${((appliedAt - checkedAt) / 1000).toFixed(1)} s, total ${seconds.toFixed(1)} s`,
      );

      expect(applied.outcome).toBe("applied");
      expect(await totals()).toEqual({ ...before, users: before.users + rows, requests: before.requests + rows });
      const [audited] = await db().select({ n: count() }).from(auditEvents).where(eq(auditEvents.participantId, firm.participant.id));
      expect(Number(audited!.n)).toBeGreaterThanOrEqual(2 * rows + 1);
      // Per row: user.created, its activation link (user.invitation.issued) and its role request; plus the run.
      expect((await auditEventsSince(db(), auditBefore)).length).toBe(3 * rows + 1);

      // Progress moves forward only and ends with done.
      expect(progress.at(-1)).toEqual({ phase: "done", done: rows, total: rows });
      const phases = progress.map((p) => p.phase);
      expect(phases.indexOf("writing")).toBeGreaterThan(phases.lastIndexOf("checking"));
      const report = readReport(importReportCsv(applied));
      expect(report).toHaveLength(rows);
      expect(report[rows - 1]).toMatchObject({ line: String(rows + 1), email: `user${rows - 1}.${tag}@scale.test`, outcome: "requested", roles: "trade_info_viewer" });
      expect(new Set(report.map((r) => r.user_id)).size).toBe(rows);
    }, 180_000);
  });

  describe("over HTTP", () => {
    let server: RunningServer;
    beforeAll(async () => {
      server = await startServer(db());
    });
    afterAll(() => server?.close());

    it("checks an uploaded file, applies it with streamed progress, and serves the report only to its participant", async () => {
      const maker = new HttpClient(server.baseUrl);
      expect((await maker.signIn("maker@b01234.demo", "demo-password-2026")).status).toBe(302);
      const form = new FormData();
      form.set("participantId", "B01234");
      form.set("file", new Blob([`${HEADER}\nhttp.one@harbourview.example,Http One,ref_data_viewer,,,\nhttp.two@harbourview.example,Http Two,,,,\n`], { type: "text/csv" }), "upload.csv");
      const upload = await fetch(`${server.baseUrl}/imports`, { method: "POST", body: form, redirect: "manual", headers: { Cookie: maker.cookieHeader(), Origin: server.baseUrl } });
      expect(upload.status).toBe(302);
      const location = upload.headers.get("location")!;
      expect(location).toMatch(/^\/imports\/[0-9a-f-]{36}$/);
      const runId = location.split("/").at(-1)!;

      const page = await maker.get(location);
      expect(page.status).toBe(200);
      const html = await page.text();
      expect(html).toContain("Every row passed the checks.");
      expect(html).toContain("upload.csv");

      // Another participant's administrator cannot see it.
      const other = new HttpClient(server.baseUrl);
      expect((await other.signIn("maker@c00123.demo", "demo-password-2026")).status).toBe(302);
      expect((await other.get(location)).status).toBe(404);
      expect((await other.get(`${location}/report`)).status).toBe(404);
      // The streamed apply answers in its stream: the run is not found for them, and nothing is applied.
      const foreign = await other.post(`${location}/apply`, {}, { headers: { Accept: "application/x-ndjson" } });
      expect(JSON.parse((await foreign.text()).trim())).toMatchObject({ phase: "error", messageKey: "error.notFound" });
      expect((await other.post(`${location}/apply`, {})).status).toBe(404);
      expect((await db().select().from(importRuns).where(eq(importRuns.id, runId)))[0]?.appliedAt).toBeNull();

      const applied = await maker.post(`${location}/apply`, {}, { headers: { Accept: "application/x-ndjson" } });
      expect(applied.status).toBe(200);
      expect(applied.headers.get("content-type")).toContain("application/x-ndjson");
      const messages = (await applied.text())
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { phase: string; done: number; total: number });
      expect(messages.at(-1)).toEqual({ phase: "done", done: 2, total: 2 });
      expect(messages.every((m) => m.phase !== "error")).toBe(true);
      const [run] = await db().select().from(importRuns).where(eq(importRuns.id, runId));
      expect(run?.outcome).toBe("applied");

      const again = await maker.post(`${location}/apply`, {}, { headers: { Accept: "application/x-ndjson" } });
      const last = JSON.parse((await again.text()).trim().split("\n").at(-1)!) as { phase: string; messageKey: string };
      expect(last).toMatchObject({ phase: "error", messageKey: "import.error.alreadyApplied" });

      const report = await maker.get(`${location}/report`);
      expect(report.status).toBe(200);
      expect(report.headers.get("content-type")).toContain("text/csv");
      expect(report.headers.get("content-disposition")).toContain('filename="upload-report.csv"');
      expect(readReport(await report.text()).map((r) => [r.email, r.outcome])).toEqual([
        ["http.one@harbourview.example", "requested"],
        ["http.two@harbourview.example", "created"],
      ]);
    });

    it("answers a bad upload with a field message, not an error page", async () => {
      const maker = new HttpClient(server.baseUrl);
      expect((await maker.signIn("maker@b01234.demo", "demo-password-2026")).status).toBe(302);
      const form = new FormData();
      form.set("participantId", "B01234");
      const response = await fetch(`${server.baseUrl}/imports`, { method: "POST", body: form, redirect: "manual", headers: { Cookie: maker.cookieHeader(), Origin: server.baseUrl } });
      expect(response.status).toBe(400);
      expect(await response.text()).toContain("Choose a CSV file to upload.");
    });
  });
});
