import { randomUUID } from "node:crypto";
import { parse } from "csv-parse/sync";
import { stringify } from "csv-stringify/sync";
import { and, desc, eq, inArray } from "drizzle-orm";
import type { Transaction } from "../../../db/client.server";
import { grantRequests, importRuns, participants, roleGrants, roles, users, type ImportReportRow, type ImportRun } from "../../../db/schema";
import { scopeOf } from "~/auth/permissions";
import { AppError, forbidden, notFound } from "~/lib/errors";
import { appendAuditEvent, appendAuditEvents, type AuditEventInput } from "../audit/service.server";
import type { ServiceContext } from "../context.server";
import { appointedAdministrators, loadSodRules } from "../roles/facts.server";
import { ADMINISTRATOR_ROLES, sodVerdict } from "../roles/rules";
import { lockParticipantAccess } from "../roles/service.server";
import { emailSchema } from "./schemas";
import { issueLinks } from "../credentials/links.server";

/** The columns of a user-import file; the first line names them. roles are separated by ";". */
export const IMPORT_COLUMNS = ["email", "display_name", "roles", "valid_from", "valid_to", "justification"] as const;
const REQUIRED_COLUMNS = ["email", "display_name"] as const;
export const MAX_IMPORT_ROWS = 20_000;
export const MAX_IMPORT_BYTES = 5 * 1024 * 1024;

export interface ParsedRow {
  line: number;
  email: string;
  displayName: string;
  roles: string[];
  validFrom: Date | null;
  validTo: Date | null;
  justification: string | null;
  errors: { column: string; message: string }[];
}

export type ImportProgress = (phase: "checking" | "writing" | "done", done: number, total: number) => void;

function parseDate(value: string): Date | null | "invalid" {
  if (!value) return null;
  const date = new Date(/^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00+08:00` : value);
  return Number.isNaN(date.getTime()) ? "invalid" : date;
}

/**
 * Reads the file: RFC 4180 CSV with a header line. Row-level problems (a bad email, an unknown column value) are
 * kept with the row's line number and column; a file that cannot be read at all is an AppError.
 */
export function parseImportFile(text: string): ParsedRow[] {
  let records: string[][];
  try {
    records = parse(text, { bom: true, skip_empty_lines: true, relax_column_count: true, trim: true }) as string[][];
  } catch (error) {
    const line = (error as { lines?: number }).lines;
    throw new AppError(400, "import.error.unreadable", { file: "import.error.unreadable" }, { line: line ?? 1 });
  }
  const [header, ...body] = records;
  if (!header) throw new AppError(400, "import.error.empty", { file: "import.error.empty" });
  const columns = header.map((h) => h.trim().toLowerCase());
  const unknown = columns.filter((c) => !(IMPORT_COLUMNS as readonly string[]).includes(c));
  const missing = REQUIRED_COLUMNS.filter((c) => !columns.includes(c));
  if (unknown.length || missing.length) {
    throw new AppError(400, "import.error.header", { file: "import.error.header" }, {
      unknown: unknown.join(", ") || "—",
      missing: missing.join(", ") || "—",
      expected: IMPORT_COLUMNS.join(", "),
    });
  }
  if (body.length === 0) throw new AppError(400, "import.error.empty", { file: "import.error.empty" });
  if (body.length > MAX_IMPORT_ROWS) throw new AppError(400, "import.error.tooMany", { file: "import.error.tooMany" }, { max: MAX_IMPORT_ROWS });
  const at = (record: string[], column: string) => (record[columns.indexOf(column)] ?? "").trim();
  return body.map((record, i) => {
    const errors: ParsedRow["errors"] = [];
    if (record.length !== columns.length) errors.push({ column: "*", message: `has ${record.length} values; the header has ${columns.length} columns` });
    const email = emailSchema.safeParse(at(record, "email"));
    if (!email.success) errors.push({ column: "email", message: "is not an email address" });
    const displayName = at(record, "display_name");
    if (!displayName) errors.push({ column: "display_name", message: "is empty" });
    else if (displayName.length > 200) errors.push({ column: "display_name", message: "is longer than 200 characters" });
    const roleCodes = at(record, "roles")
      .split(/[;|]/)
      .map((r) => r.trim().toLowerCase())
      .filter(Boolean);
    const validFrom = parseDate(at(record, "valid_from"));
    const validTo = parseDate(at(record, "valid_to"));
    if (validFrom === "invalid") errors.push({ column: "valid_from", message: "is not a date (YYYY-MM-DD)" });
    if (validTo === "invalid") errors.push({ column: "valid_to", message: "is not a date (YYYY-MM-DD)" });
    if (validFrom instanceof Date && validTo instanceof Date && validTo <= validFrom) {
      errors.push({ column: "valid_to", message: "is not after valid_from" });
    }
    return {
      // Line numbers as a spreadsheet shows them: the header is line 1.
      line: i + 2,
      email: email.success ? email.data : at(record, "email"),
      displayName,
      roles: [...new Set(roleCodes)],
      validFrom: validFrom instanceof Date ? validFrom : null,
      validTo: validTo instanceof Date ? validTo : null,
      justification: at(record, "justification") || null,
      errors,
    };
  });
}

interface Plan {
  participantId: string;
  /** An officer importing a participant's first administrators: their DA roles are granted, not requested. */
  directGrants: boolean;
  rows: ParsedRow[];
}

/** The checks that need the database: login names never reused, roles from the catalogue, separation of duties. */
async function checkRows(tx: Transaction, ctx: ServiceContext, participantId: string, rows: ParsedRow[], progress?: ImportProgress): Promise<Plan> {
  const officer = scopeOf(ctx.actor.permissions, "user:import") === "any";
  const now = new Date();
  const admins = await appointedAdministrators(tx, participantId, now);
  const directGrants = officer && (!admins.some((a) => a.roleCode === "da_maker") || !admins.some((a) => a.roleCode === "da_checker"));
  const catalogue = await tx.select().from(roles);
  const rules = await loadSodRules(tx);
  const seen = new Map<string, number>();
  const emails = rows.map((r) => r.email);
  const taken = new Set<string>();
  for (let i = 0; i < emails.length; i += 1000) {
    const found = await tx.select({ email: users.email }).from(users).where(inArray(users.email, emails.slice(i, i + 1000)));
    found.forEach((f) => taken.add(f.email));
  }
  rows.forEach((row, index) => {
    if (index % 1000 === 0) progress?.("checking", index, rows.length);
    if (taken.has(row.email)) row.errors.push({ column: "email", message: "is already a login name (login names are never reused)" });
    const first = seen.get(row.email);
    if (first !== undefined) row.errors.push({ column: "email", message: `repeats line ${first}` });
    else seen.set(row.email, row.line);
    for (const code of row.roles) {
      const role = catalogue.find((r) => r.code === code);
      if (!role || !role.active || role.population !== "participant") {
        row.errors.push({ column: "roles", message: `"${code}" is not a participant role in the catalogue` });
      } else if (officer && !directGrants) {
        row.errors.push({ column: "roles", message: "an officer may grant roles only to a participant's first administrators" });
      } else if (officer && !(ADMINISTRATOR_ROLES as readonly string[]).includes(code)) {
        row.errors.push({ column: "roles", message: `an officer may grant only DA roles, not "${code}"` });
      }
    }
    for (const [i, code] of row.roles.entries()) {
      const verdict = sodVerdict(row.roles.slice(0, i), code, rules, []);
      for (const rule of [...verdict.blocking, ...verdict.waiverMissing]) {
        row.errors.push({ column: "roles", message: `${rule.roleA} and ${rule.roleB} may not be held together (rule ${rule.id})` });
      }
      if (verdict.warnings.length && !row.justification) {
        row.errors.push({ column: "justification", message: `is required: ${verdict.warnings.map((w) => `${w.roleA} with ${w.roleB}`).join(", ")} needs a written justification` });
      }
    }
  });
  return { participantId, directGrants, rows };
}

function reportOf(rows: ParsedRow[]): ImportReportRow[] {
  return rows.map((r) => ({ line: r.line, email: r.email, outcome: r.errors.length ? "error" : "ok", roles: r.roles, errors: r.errors.length ? r.errors : undefined }));
}

function importScope(ctx: ServiceContext, participantId: string) {
  const scope = scopeOf(ctx.actor.permissions, "user:import");
  if (!scope) throw forbidden();
  if (scope === "own-participant" && participantId !== ctx.actor.participantId) throw notFound();
}

/**
 * Checks a file without applying it (the dry run) and keeps the result and the file as an import run, so that the
 * real run applies exactly what was checked.
 */
export async function checkImport(ctx: ServiceContext, participantId: string, fileName: string, text: string): Promise<ImportRun> {
  importScope(ctx, participantId);
  if (Buffer.byteLength(text, "utf8") > MAX_IMPORT_BYTES) throw new AppError(400, "import.error.tooLarge", { file: "import.error.tooLarge" });
  const parsed = parseImportFile(text);
  return ctx.db.transaction(async (tx) => {
    const [participant] = await tx.select({ id: participants.id }).from(participants).where(eq(participants.id, participantId));
    if (!participant) throw notFound();
    const plan = await checkRows(tx, ctx, participantId, parsed);
    const errorCount = plan.rows.filter((r) => r.errors.length).length;
    const [run] = await tx
      .insert(importRuns)
      .values({
        id: randomUUID(),
        participantId,
        fileName: fileName.slice(0, 200) || "import.csv",
        mode: "dry_run",
        outcome: errorCount ? "invalid" : "valid",
        rowCount: plan.rows.length,
        errorCount,
        report: reportOf(plan.rows),
        source: text,
        createdBy: ctx.actor.userId,
        createdAt: new Date(),
      })
      .returning();
    await appendAuditEvent(tx, ctx, {
      action: "user.import.checked",
      entityType: "import_run",
      entityId: run!.id,
      participantId,
      metadata: { fileName: run!.fileName, rows: run!.rowCount, errors: errorCount },
    });
    return run!;
  });
}

/**
 * Applies a checked import: every row or none, in one transaction. Users are created "invited"; their roles become
 * requests that a checker approves (or grants, for an officer's import of a participant's first administrators).
 * The file is checked again inside the transaction, since the world may have changed since the dry run.
 */
export async function applyImport(ctx: ServiceContext, runId: string, progress?: ImportProgress): Promise<ImportRun> {
  const [run] = await ctx.db.select().from(importRuns).where(eq(importRuns.id, runId));
  if (!run) throw notFound();
  importScope(ctx, run.participantId);
  if (run.appliedAt) throw new AppError(409, "import.error.alreadyApplied");
  const parsed = parseImportFile(run.source);
  return ctx.db.transaction(async (tx) => {
    const [locked] = await tx.select().from(importRuns).where(eq(importRuns.id, runId)).for("update");
    if (!locked || locked.appliedAt) throw new AppError(409, "import.error.alreadyApplied");
    await lockParticipantAccess(tx, run.participantId);
    const plan = await checkRows(tx, ctx, run.participantId, parsed, progress);
    const errorCount = plan.rows.filter((r) => r.errors.length).length;
    if (errorCount > 0) {
      throw new AppError(400, "import.error.invalidNow", { file: "import.error.invalidNow" }, { errors: errorCount });
    }
    const now = new Date();
    const report: ImportReportRow[] = [];
    const events: AuditEventInput[] = [];
    const total = plan.rows.length;
    const newUsers = plan.rows.map((row) => ({
      id: randomUUID(),
      email: row.email,
      displayName: row.displayName,
      participantId: run.participantId,
      status: "invited" as const,
    }));
    for (let i = 0; i < newUsers.length; i += 1000) {
      await tx.insert(users).values(newUsers.slice(i, i + 1000));
      progress?.("writing", Math.min(i + 1000, total) / 2, total);
    }
    await issueLinks(tx, ctx, newUsers, "invitation");
    const requestRows: (typeof grantRequests.$inferInsert)[] = [];
    const grantRows: (typeof roleGrants.$inferInsert)[] = [];
    plan.rows.forEach((row, i) => {
      const user = newUsers[i]!;
      events.push({
        action: "user.created",
        entityType: "user",
        entityId: user.id,
        participantId: run.participantId,
        changes: { email: { before: null, after: user.email }, displayName: { before: null, after: user.displayName }, status: { before: null, after: "invited" } },
        metadata: { importRunId: run.id, line: row.line },
      });
      for (const roleCode of row.roles) {
        if (plan.directGrants) {
          const grant = { id: randomUUID(), userId: user.id, roleCode, participantId: run.participantId, status: "active" as const, validFrom: row.validFrom && row.validFrom > now ? row.validFrom : now, validTo: row.validTo, source: "import", requestedBy: ctx.actor.userId, approvedBy: ctx.actor.userId, createdAt: now };
          grantRows.push(grant);
          events.push({ action: "role.grant.created", entityType: "role_grant", entityId: grant.id, participantId: run.participantId, metadata: { userId: user.id, roleCode, importRunId: run.id, firstAdministrator: true } });
        } else {
          const request = { id: randomUUID(), participantId: run.participantId, userId: user.id, roleCode, validFrom: row.validFrom, validTo: row.validTo, sodJustification: row.justification, source: "import", importRunId: run.id, requestedBy: ctx.actor.userId, requestedAt: now };
          requestRows.push(request);
          events.push({ action: "role.grant.requested", entityType: "grant_request", entityId: request.id, participantId: run.participantId, metadata: { userId: user.id, roleCode, importRunId: run.id } });
        }
      }
      report.push({ line: row.line, email: row.email, outcome: row.roles.length ? (plan.directGrants ? "granted" : "requested") : "created", userId: user.id, roles: row.roles });
    });
    for (let i = 0; i < requestRows.length; i += 1000) await tx.insert(grantRequests).values(requestRows.slice(i, i + 1000));
    for (let i = 0; i < grantRows.length; i += 1000) await tx.insert(roleGrants).values(grantRows.slice(i, i + 1000));
    events.push({ action: "user.import.applied", entityType: "import_run", entityId: run.id, participantId: run.participantId, metadata: { rows: total, requests: requestRows.length, grants: grantRows.length } });
    await appendAuditEvents(tx, ctx, events);
    progress?.("writing", total, total);
    const [after] = await tx
      .update(importRuns)
      .set({ mode: "apply", outcome: "applied", report, appliedAt: new Date(), errorCount: 0 })
      .where(eq(importRuns.id, run.id))
      .returning();
    progress?.("done", total, total);
    return after!;
  });
}

export async function getImportRun(ctx: ServiceContext, runId: string): Promise<ImportRun> {
  const [run] = await ctx.db.select().from(importRuns).where(eq(importRuns.id, runId));
  if (!run) throw notFound();
  const scope = scopeOf(ctx.actor.permissions, "user:read");
  if (!scope || (scope === "own-participant" && run.participantId !== ctx.actor.participantId)) throw notFound();
  return run;
}

export async function listImportRuns(ctx: ServiceContext, limit = 20) {
  const scope = scopeOf(ctx.actor.permissions, "user:import");
  if (!scope) throw forbidden();
  return ctx.db
    .select({ id: importRuns.id, participantId: importRuns.participantId, fileName: importRuns.fileName, outcome: importRuns.outcome, rowCount: importRuns.rowCount, errorCount: importRuns.errorCount, createdAt: importRuns.createdAt, appliedAt: importRuns.appliedAt })
    .from(importRuns)
    .where(scope === "own-participant" ? eq(importRuns.participantId, ctx.actor.participantId ?? "") : and())
    .orderBy(desc(importRuns.createdAt))
    .limit(limit);
}

/** The downloadable report: one line per row of the file, what happened to it, and why not if it failed. */
export function importReportCsv(run: ImportRun): string {
  return stringify(
    run.report.map((r) => [r.line, r.email, r.outcome, (r.roles ?? []).join(";"), r.userId ?? "", (r.errors ?? []).map((e) => `${e.column}: ${e.message}`).join(" | ")]),
    { header: true, columns: ["line", "email", "outcome", "roles", "user_id", "errors"], cast: { string: (v) => (/^[=+\-@\t\r]/.test(v) ? `'${v}` : v) } },
  );
}
