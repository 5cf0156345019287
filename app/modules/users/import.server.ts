import { randomUUID } from "node:crypto";
import { parse } from "csv-parse/sync";
import { stringify } from "csv-stringify/sync";
import { count, desc, eq, inArray } from "drizzle-orm";
import { z } from "zod";
import type { Transaction } from "../../../db/client.server";
import { importRuns, participants, roles, users, type ImportReportRow, type ImportRowError, type ImportRun } from "../../../db/schema";
import { AppError, notFound } from "~/lib/errors";
import { offsetOf, type PageInfo, type Paging } from "~/lib/paging";
import { defineCommand } from "../command.server";
import type { Actor, ServiceContext } from "../context.server";
import { appointedAdministrators } from "../roles/facts.server";
import { checkSeparationOfDuties, grantRoles, requestRoles } from "../roles/grants.server";
import { ADMINISTRATOR_ROLES } from "../roles/rules";
import { assertTenant, mayOn, whereTenant } from "../tenancy.server";
import { issueLinks } from "./links.server";
import { endOfHongKongDay, isCalendarDay, parseInstant, startOfHongKongDay } from "~/lib/hong-kong-time";
import { emailSchema } from "./schemas";

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
  errors: ImportRowError[];
}

export type ImportProgress = (phase: "checking" | "writing" | "done", done: number, total: number) => void;

/** A row's valid_from or valid_to, read as the console's forms read them (a "to" day lasts to its end, in Hong Kong). */
function parseDate(value: string, edge: "from" | "to"): Date | null | "invalid" {
  if (!value) return null;
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) {
    if (!isCalendarDay(value)) return "invalid";
    return edge === "from" ? startOfHongKongDay(value) : endOfHongKongDay(value);
  }
  return parseInstant(value) ?? "invalid";
}

/**
 * Reads the file: RFC 4180 CSV with a header line. Row-level problems (a bad email, an unknown column value) are
 * kept with the row's line number and column; a file that cannot be read at all is an AppError.
 */
export function parseImportFile(text: string): ParsedRow[] {
  // A NUL character is never part of a CSV of people's names and addresses, and PostgreSQL refuses it in text.
  if (text.includes("\u0000")) throw new AppError(400, "import.error.unreadable", { file: "import.error.unreadable" }, { line: text.slice(0, text.indexOf("\u0000")).split("\n").length });
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
    if (record.length !== columns.length) errors.push({ column: "*", message: `has ${record.length} values; the header has ${columns.length} columns`, messageKey: "import.row.columnCount", params: { values: record.length, columns: columns.length } });
    const email = emailSchema.safeParse(at(record, "email"));
    if (!email.success) errors.push({ column: "email", message: "is not an email address", messageKey: "import.row.email" });
    const displayName = at(record, "display_name");
    if (!displayName) errors.push({ column: "display_name", message: "is empty", messageKey: "import.row.nameEmpty" });
    else if (displayName.length > 200) errors.push({ column: "display_name", message: "is longer than 200 characters", messageKey: "import.row.nameLong" });
    const roleCodes = at(record, "roles")
      .split(/[;|]/)
      .map((r) => r.trim().toLowerCase())
      .filter(Boolean);
    const validFrom = parseDate(at(record, "valid_from"), "from");
    const validTo = parseDate(at(record, "valid_to"), "to");
    if (validFrom === "invalid") errors.push({ column: "valid_from", message: "is not a date (YYYY-MM-DD)", messageKey: "import.row.date" });
    if (validTo === "invalid") errors.push({ column: "valid_to", message: "is not a date (YYYY-MM-DD)", messageKey: "import.row.date" });
    if (validFrom instanceof Date && validTo instanceof Date && validTo <= validFrom) {
      errors.push({ column: "valid_to", message: "is not after valid_from", messageKey: "import.row.dateOrder" });
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

/**
 * The checks that need the database: login names never reused, roles from the catalogue, separation of duties —
 * the same check every grant and request takes (roles/grants.server.ts), with each row's earlier roles counted.
 */
async function checkRows(tx: Transaction, actor: Actor, participantId: string, rows: ParsedRow[], now: Date, progress?: ImportProgress): Promise<Plan> {
  const officer = mayOn(actor, "user:import", null);
  const admins = await appointedAdministrators(tx, participantId, now);
  const directGrants = officer && (!admins.some((a) => a.roleCode === "da_maker") || !admins.some((a) => a.roleCode === "da_checker"));
  const catalogue = await tx.select().from(roles);
  const seen = new Map<string, number>();
  const emails = rows.map((r) => r.email);
  const taken = new Set<string>();
  for (let i = 0; i < emails.length; i += 1000) {
    const found = await tx.select({ email: users.email }).from(users).where(inArray(users.email, emails.slice(i, i + 1000)));
    found.forEach((f) => taken.add(f.email));
  }
  rows.forEach((row, index) => {
    if (index % 1000 === 0) progress?.("checking", index, rows.length);
    if (taken.has(row.email)) row.errors.push({ column: "email", message: "is already a login name (login names are never reused)", messageKey: "import.row.emailTaken" });
    const first = seen.get(row.email);
    if (first !== undefined) row.errors.push({ column: "email", message: `repeats line ${first}`, messageKey: "import.row.emailRepeated", params: { line: first } });
    else seen.set(row.email, row.line);
    for (const code of row.roles) {
      const role = catalogue.find((r) => r.code === code);
      if (!role || !role.active || role.population !== "participant") {
        row.errors.push({ column: "roles", message: `"${code}" is not a participant role in the catalogue`, messageKey: "import.row.roleUnknown", params: { typed: code } });
      } else if (officer && !directGrants) {
        row.errors.push({ column: "roles", message: "an officer may grant roles only to a participant's first administrators", messageKey: "import.row.officerFirstOnly" });
      } else if (officer && !(ADMINISTRATOR_ROLES as readonly string[]).includes(code)) {
        row.errors.push({ column: "roles", message: `an officer may grant only DA roles, not "${code}"`, messageKey: "import.row.officerDaOnly", params: { role: code } });
      }
    }
  });
  // The users do not exist yet: each row stands for its future user, whose roles the batch adds one by one.
  const assignments = rows.flatMap((row) => row.roles.map((roleCode) => ({ row, userId: `import-line-${row.line}`, roleCode, participantId, justification: row.justification })));
  const findings = await checkSeparationOfDuties(tx, assignments, now);
  findings.forEach((finding, i) => {
    const { row } = assignments[i]!;
    const problem = finding.problem;
    if (!problem) return;
    if (problem.kind === "justificationRequired") {
      if (!row.errors.some((e) => e.column === "justification")) {
        row.errors.push({ column: "justification", message: `is required: ${problem.rule.roleA} with ${problem.rule.roleB} needs a written justification`, messageKey: "access.sod.justificationRequired", params: { roleA: problem.rule.roleA, roleB: problem.rule.roleB } });
      }
    } else {
      row.errors.push({ column: "roles", message: `${problem.rule.roleA} and ${problem.rule.roleB} may not be held together`, messageKey: problem.kind === "waiverMissing" ? "access.sod.waiverRequired" : "access.sod.blocked", params: { roleA: problem.rule.roleA, roleB: problem.rule.roleB } });
    }
  });
  return { participantId, directGrants, rows };
}

function reportOf(rows: ParsedRow[]): ImportReportRow[] {
  return rows.map((r) => ({ line: r.line, email: r.email, outcome: r.errors.length ? "error" : "ok", roles: r.roles, errors: r.errors.length ? r.errors : undefined }));
}

const checkImportSchema = z.object({
  participantId: z.string().regex(/^[A-Z][0-9]{5}$/, { error: "participant.error.idFormat" }),
  fileName: z.string().max(1000),
  text: z.string(),
});

/**
 * Checks a file without applying it (the dry run) and keeps the result and the file as an import run, so that the
 * real run applies exactly what was checked.
 */
export const checkImport = defineCommand({
  name: "users.checkImport",
  permission: "user:import",
  input: checkImportSchema,
  events: ["user.import.checked"],
  tenant: (_tx, input) => input.participantId,
  lockParticipant: false,
  async run(cx): Promise<ImportRun> {
    const { tx, input, now } = cx;
    if (Buffer.byteLength(input.text, "utf8") > MAX_IMPORT_BYTES) throw new AppError(400, "import.error.tooLarge", { file: "import.error.tooLarge" });
    const parsed = parseImportFile(input.text);
    const [participant] = await tx.select({ id: participants.id }).from(participants).where(eq(participants.id, input.participantId));
    // Only an officer gets this far with a participant that does not exist (a DA's tenancy check answers 404 first):
    // the officer typed its ID, so the field says so.
    if (!participant) throw new AppError(400, "error.badRequest", { participantId: "access.error.participant" });
    const plan = await checkRows(tx, cx.actor, input.participantId, parsed, now);
    const errorCount = plan.rows.filter((r) => r.errors.length).length;
    const [run] = await tx
      .insert(importRuns)
      .values({
        id: randomUUID(),
        participantId: input.participantId,
        fileName: input.fileName.slice(0, 200) || "import.csv",
        mode: "dry_run",
        outcome: errorCount ? "invalid" : "valid",
        rowCount: plan.rows.length,
        errorCount,
        report: reportOf(plan.rows),
        source: input.text,
        createdBy: cx.actor.userId,
        createdAt: now,
      })
      .returning();
    cx.audit({
      action: "user.import.checked",
      entityType: "import_run",
      entityId: run!.id,
      participantId: input.participantId,
      metadata: { fileName: run!.fileName, rows: run!.rowCount, errors: errorCount },
    });
    return run!;
  },
});

/**
 * Applies a checked import: every row or none, in one transaction. Users are created "invited"; their roles become
 * requests that a checker approves (or grants, for an officer's import of a participant's first administrators).
 * The file is checked again inside the transaction, since the world may have changed since the dry run.
 */
export const applyImport = defineCommand({
  name: "users.applyImport",
  permission: "user:import",
  input: z.object({
    runId: z.string().min(1).max(100),
    /** Progress for the page that streams it (not part of what is recorded). */
    progress: z.custom<ImportProgress>((v) => typeof v === "function").optional(),
  }),
  events: ["user.created", "user.invitation.issued", "role.grant.requested", "role.grant.created", "user.import.applied"],
  async tenant(tx, input) {
    const [run] = await tx.select({ participantId: importRuns.participantId }).from(importRuns).where(eq(importRuns.id, input.runId));
    if (!run) throw notFound();
    return run.participantId;
  },
  async run(cx): Promise<ImportRun> {
    const { tx, input, now } = cx;
    const progress = input.progress;
    const [run] = await tx.select().from(importRuns).where(eq(importRuns.id, input.runId)).for("update");
    if (!run || run.appliedAt) throw new AppError(409, "import.error.alreadyApplied");
    const plan = await checkRows(tx, cx.actor, run.participantId, parseImportFile(run.source), now, progress);
    const errorCount = plan.rows.filter((r) => r.errors.length).length;
    if (errorCount > 0) {
      throw new AppError(400, "import.error.invalidNow", { file: "import.error.invalidNow" }, { errors: errorCount });
    }
    const total = plan.rows.length;
    const newUsers = plan.rows.map((row) => ({
      id: randomUUID(),
      email: row.email,
      displayName: row.displayName,
      participantId: run.participantId,
      status: "invited" as const,
      // The file has no language column: mail goes in English until the user or an administrator chooses.
      locale: "en" as const,
    }));
    for (let i = 0; i < newUsers.length; i += 1000) {
      await tx.insert(users).values(newUsers.slice(i, i + 1000));
      progress?.("writing", Math.min(i + 1000, total) / 2, total);
    }
    plan.rows.forEach((row, i) => {
      const user = newUsers[i]!;
      cx.audit({
        action: "user.created",
        entityType: "user",
        entityId: user.id,
        participantId: run.participantId,
        changes: { email: { before: null, after: user.email }, displayName: { before: null, after: user.displayName }, status: { before: null, after: "invited" } },
        metadata: { importRunId: run.id, line: row.line },
      });
    });
    await issueLinks(cx, newUsers, "invitation");
    const assignments = plan.rows.flatMap((row, i) =>
      row.roles.map((roleCode) => ({ userId: newUsers[i]!.id, roleCode, participantId: run.participantId, validFrom: row.validFrom, validTo: row.validTo, justification: row.justification })),
    );
    const written = plan.directGrants
      ? await grantRoles(cx, assignments, { source: "import", requestedBy: cx.actor.userId, approvedBy: cx.actor.userId, importRunId: run.id, firstAdministrator: true })
      : await requestRoles(cx, assignments, { source: "import", importRunId: run.id });
    const report: ImportReportRow[] = plan.rows.map((row, i) => ({
      line: row.line,
      email: row.email,
      outcome: row.roles.length ? (plan.directGrants ? "granted" : "requested") : "created",
      userId: newUsers[i]!.id,
      roles: row.roles,
    }));
    cx.audit({
      action: "user.import.applied",
      entityType: "import_run",
      entityId: run.id,
      participantId: run.participantId,
      metadata: { rows: total, requests: plan.directGrants ? 0 : written.length, grants: plan.directGrants ? written.length : 0 },
    });
    progress?.("writing", total, total);
    const [after] = await tx
      .update(importRuns)
      .set({ mode: "apply", outcome: "applied", report, appliedAt: now, errorCount: 0 })
      .where(eq(importRuns.id, run.id))
      .returning();
    progress?.("done", total, total);
    return after!;
  },
});

export async function getImportRun(ctx: ServiceContext, runId: string): Promise<ImportRun> {
  const [run] = await ctx.db.select().from(importRuns).where(eq(importRuns.id, runId));
  if (!run) throw notFound();
  assertTenant(ctx.actor, "user:read", run.participantId);
  return run;
}

/** A page of the import runs in the actor's scope, newest first, with the total (nothing silently left out). */
export async function pageImportRuns(ctx: ServiceContext, paging: Pick<Paging<string>, "page" | "size">): Promise<{ rows: ImportRunSummary[]; info: PageInfo }> {
  const where = whereTenant(ctx.actor, "user:import", importRuns.participantId);
  const [{ total } = { total: 0 }] = await ctx.db.select({ total: count() }).from(importRuns).where(where);
  const rows = await ctx.db
    .select({ id: importRuns.id, participantId: importRuns.participantId, fileName: importRuns.fileName, outcome: importRuns.outcome, rowCount: importRuns.rowCount, errorCount: importRuns.errorCount, createdAt: importRuns.createdAt, appliedAt: importRuns.appliedAt })
    .from(importRuns)
    .where(where)
    .orderBy(desc(importRuns.createdAt), desc(importRuns.id))
    .limit(paging.size)
    .offset(offsetOf(paging));
  return { rows, info: { total: Number(total), page: paging.page, size: paging.size } };
}
export type ImportRunSummary = Pick<ImportRun, "id" | "participantId" | "fileName" | "outcome" | "rowCount" | "errorCount" | "createdAt" | "appliedAt">;

/** The downloadable report: one line per row of the file, what happened to it, and why not if it failed. */
export function importReportCsv(run: ImportRun): string {
  return stringify(
    run.report.map((r) => [r.line, r.email, r.outcome, (r.roles ?? []).join(";"), r.userId ?? "", (r.errors ?? []).map((e) => `${e.column}: ${e.message}`).join(" | ")]),
    { header: true, columns: ["line", "email", "outcome", "roles", "user_id", "errors"], cast: { string: (v) => (/^[=+\-@\t\r]/.test(v) ? `'${v}` : v) } },
  );
}
export type { ImportRowError };
