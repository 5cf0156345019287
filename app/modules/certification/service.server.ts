import { randomUUID } from "node:crypto";
import { and, asc, desc, eq, gt, inArray, isNull, lte, max } from "drizzle-orm";
import { z } from "zod";
import type { DbOrTx } from "../../../db/client.server";
import {
  CASE_OUTCOMES,
  CERTIFICATION_ENVIRONMENTS,
  apiClients,
  apiKeys,
  certificationCases,
  certificationResults,
  certificationRunCases,
  certificationRuns,
  ocpServices,
  participantServices,
  participants,
  roleGrants,
  users,
  type CertificationRun,
  type CertificationRunStatus,
} from "../../../db/schema";
import { translator, type MessageKey } from "~/i18n/messages";
import { AppError, notFound } from "~/lib/errors";
import { diffFields } from "../audit/service.server";
import { defineCommand, type CommandContext } from "../command.server";
import type { ServiceContext } from "../context.server";
import { composeMail, queueMail } from "../mail/service.server";
import { grantCountsNow } from "../roles/facts.server";
import { optionalText, participantIdSchema, requiredText } from "../participants/schemas";
import { assertPlatformCapability, mayOn, whereTenant } from "../tenancy.server";
import { OPEN_STATUSES, decideRun, isCurrent, missingMandatory, type RunAction, type RunFacts } from "./rules";

/**
 * API certification, the Developer Corner's part of onboarding (SPEC §6): runs of the catalogue's test cases for
 * a participant's subscribed services, results with evidence, the participant's maker and checker, an officer's
 * sign-off. Every change is a command; the rules are `rules.ts`.
 */

const runRef = z.string({ error: "validation.required" }).min(1, { error: "validation.required" }).max(100, { error: "validation.invalid" });

async function participantOfRun(tx: DbOrTx, runId: string): Promise<string> {
  const [run] = await tx.select({ participantId: certificationRuns.participantId }).from(certificationRuns).where(eq(certificationRuns.id, runId));
  if (!run) throw notFound();
  return run.participantId;
}

/** The run a command is about, locked, with the facts its rules decide on. */
async function lockedRun(cx: CommandContext, runId: string): Promise<{ run: CertificationRun; facts: RunFacts }> {
  const [run] = await cx.tx.select().from(certificationRuns).where(eq(certificationRuns.id, runId)).for("update");
  if (!run) throw notFound();
  return { run, facts: await factsOf(cx.tx, run) };
}

async function factsOf(db: DbOrTx, run: CertificationRun): Promise<RunFacts> {
  const cases = await db.select().from(certificationRunCases).where(eq(certificationRunCases.runId, run.id));
  const results = await db
    .select({ caseCode: certificationResults.caseCode, attempt: certificationResults.attempt, outcome: certificationResults.outcome, recordedBy: certificationResults.recordedBy })
    .from(certificationResults)
    .where(eq(certificationResults.runId, run.id))
    .orderBy(asc(certificationResults.attempt));
  const latest = new Map<string, (typeof results)[number]["outcome"]>();
  for (const r of results) latest.set(r.caseCode, r.outcome);
  return {
    status: run.status,
    submittedBy: run.submittedBy,
    confirmedBy: run.confirmedBy,
    recorders: [...new Set(results.map((r) => r.recordedBy).filter((u): u is string => u !== null))],
    cases: cases.map((c) => ({ code: c.caseCode, mandatory: c.mandatory, latest: latest.get(c.caseCode) ?? null })),
  };
}

/** Refusals about what was sent are 400, about who is asking 403, about the run's state (someone was first) 409. */
const REFUSAL_STATUS: Partial<Record<string, 400 | 403>> = {
  "cert.refused.mandatoryApplies": 400,
  "cert.refused.unknownCase": 400,
  "cert.refused.mandatoryMissing": 400,
  "cert.refused.fourEyes": 403,
  "cert.refused.ownWork": 403,
};

function decided(facts: RunFacts, action: RunAction): CertificationRunStatus {
  const decision = decideRun(facts, action);
  if (!decision.ok) throw new AppError(REFUSAL_STATUS[decision.messageKey] ?? 409, decision.messageKey);
  return decision.status;
}

async function updateRun(cx: CommandContext, run: CertificationRun, set: Partial<CertificationRun>): Promise<CertificationRun> {
  const [after] = await cx.tx
    .update(certificationRuns)
    .set({ ...set, version: run.version + 1 })
    .where(eq(certificationRuns.id, run.id))
    .returning();
  return after!;
}

/** The catalogue's current (not retired) cases of these services. */
async function currentCases(db: DbOrTx, services: readonly string[]) {
  if (services.length === 0) return [];
  return db
    .select()
    .from(certificationCases)
    .where(and(inArray(certificationCases.serviceCode, [...services]), isNull(certificationCases.retiredAt)))
    .orderBy(asc(certificationCases.sortOrder), asc(certificationCases.code));
}

export async function catalogueVersion(db: DbOrTx): Promise<number> {
  const [row] = await db.select({ v: max(certificationCases.catalogueVersion) }).from(certificationCases);
  return Number(row?.v ?? 0);
}

const startSchema = z.object({
  participantId: participantIdSchema,
  environment: z.enum(CERTIFICATION_ENVIRONMENTS, { error: "validation.invalid" }),
  apiClientId: z.string({ error: "validation.required" }).min(1, { error: "validation.required" }).max(100, { error: "validation.invalid" }),
  programName: requiredText(100),
  programVersion: requiredText(40),
  vendor: optionalText(100),
});

/** The participant's maker starts a run: its environment and API client, its program, the cases its services need. */
export const startRun = defineCommand({
  name: "certification.startRun",
  permission: "certification:create",
  input: startSchema,
  events: ["certification.run.started"],
  tenant: (_tx, input) => input.participantId,
  async run(cx): Promise<CertificationRun> {
    const { tx, input } = cx;
    const [client] = await tx.select().from(apiClients).where(eq(apiClients.id, input.apiClientId));
    if (!client || client.participantId !== input.participantId || client.environment !== input.environment || client.status !== "active") {
      throw new AppError(400, "cert.refused.client", { apiClientId: "cert.refused.client" });
    }
    const [open] = await tx
      .select({ id: certificationRuns.id })
      .from(certificationRuns)
      .where(and(eq(certificationRuns.participantId, input.participantId), inArray(certificationRuns.status, [...OPEN_STATUSES])));
    if (open) throw new AppError(409, "cert.refused.openRun");
    const subscribed = await tx.select({ code: participantServices.serviceCode }).from(participantServices).where(eq(participantServices.participantId, input.participantId));
    const cases = await currentCases(tx, subscribed.map((s) => s.code));
    if (cases.length === 0) throw new AppError(400, "cert.refused.noServices");
    const [run] = await tx
      .insert(certificationRuns)
      .values({
        id: randomUUID(),
        participantId: input.participantId,
        environment: input.environment,
        apiClientId: client.id,
        programName: input.programName,
        programVersion: input.programVersion,
        vendor: input.vendor,
        catalogueVersion: await catalogueVersion(tx),
        status: "recording",
        startedBy: cx.actor.userId,
        startedAt: cx.now,
      })
      .returning();
    // The run keeps the text of its cases: retiring or changing a case later never rewrites it.
    await tx.insert(certificationRunCases).values(
      cases.map((c) => ({
        runId: run!.id,
        caseCode: c.code,
        serviceCode: c.serviceCode,
        titleEn: c.titleEn,
        titleZh: c.titleZh,
        steps: c.steps,
        expectedResult: c.expectedResult,
        mandatory: c.mandatory,
        sortOrder: c.sortOrder,
      })),
    );
    cx.audit({
      action: "certification.run.started",
      entityType: "certification_run",
      entityId: run!.id,
      participantId: input.participantId,
      changes: diffFields(null, run!, ["environment", "apiClientId", "programName", "programVersion", "vendor", "catalogueVersion", "status"]),
      metadata: { cases: cases.map((c) => c.code) },
    });
    return run!;
  },
});

const recordSchema = z.object({
  runId: runRef,
  caseCode: requiredText(40),
  outcome: z.enum(CASE_OUTCOMES, { error: "validation.invalid" }),
  evidence: requiredText(4000),
  jwtCheck: optionalText(4000),
});

/** A tester (a DA) records a case's result; recording it again adds an attempt and keeps the earlier ones. */
export const recordResult = defineCommand({
  name: "certification.recordResult",
  permission: "certification:complete",
  input: recordSchema,
  events: ["certification.result.recorded"],
  tenant: (tx, input) => participantOfRun(tx, input.runId),
  async run(cx): Promise<{ attempt: number }> {
    const { input } = cx;
    const { run, facts } = await lockedRun(cx, input.runId);
    const status = decided(facts, { kind: "record", userId: cx.actor.userId, caseCode: input.caseCode, outcome: input.outcome });
    const [last] = await cx.tx
      .select({ n: max(certificationResults.attempt) })
      .from(certificationResults)
      .where(and(eq(certificationResults.runId, run.id), eq(certificationResults.caseCode, input.caseCode)));
    const attempt = Number(last?.n ?? 0) + 1;
    await cx.tx.insert(certificationResults).values({
      runId: run.id,
      caseCode: input.caseCode,
      attempt,
      outcome: input.outcome,
      evidence: input.evidence,
      jwtCheck: input.jwtCheck,
      recordedBy: cx.actor.userId,
      recordedAt: cx.now,
    });
    if (status !== run.status) await updateRun(cx, run, { status, returnReason: null });
    else await updateRun(cx, run, {});
    cx.audit({
      action: "certification.result.recorded",
      entityType: "certification_run",
      entityId: run.id,
      participantId: run.participantId,
      changes: { [`case.${input.caseCode}`]: { before: facts.cases.find((c) => c.code === input.caseCode)?.latest ?? null, after: input.outcome } },
      metadata: { caseCode: input.caseCode, attempt },
    });
    return { attempt };
  },
});

/** The participant's maker submits a run whose mandatory cases have all passed. */
export const submitRun = defineCommand({
  name: "certification.submitRun",
  permission: "certification:create",
  input: z.object({ runId: runRef }),
  events: ["certification.run.submitted"],
  tenant: (tx, input) => participantOfRun(tx, input.runId),
  async run(cx): Promise<CertificationRun> {
    const { run, facts } = await lockedRun(cx, cx.input.runId);
    const status = decided(facts, { kind: "submit", userId: cx.actor.userId });
    const after = await updateRun(cx, run, { status, submittedBy: cx.actor.userId, submittedAt: cx.now, confirmedBy: null, confirmedAt: null, returnReason: null });
    cx.audit({ action: "certification.run.submitted", entityType: "certification_run", entityId: run.id, participantId: run.participantId, changes: diffFields(run, after, ["status", "submittedBy"]) });
    return after;
  },
});

/** The participant's checker, not the maker who submitted, confirms the run. */
export const confirmRun = defineCommand({
  name: "certification.confirmRun",
  permission: "certification:approve",
  input: z.object({ runId: runRef }),
  events: ["certification.run.confirmed"],
  tenant: (tx, input) => participantOfRun(tx, input.runId),
  async run(cx): Promise<CertificationRun> {
    const { run, facts } = await lockedRun(cx, cx.input.runId);
    const status = decided(facts, { kind: "confirm", userId: cx.actor.userId });
    const after = await updateRun(cx, run, { status, confirmedBy: cx.actor.userId, confirmedAt: cx.now });
    cx.audit({ action: "certification.run.confirmed", entityType: "certification_run", entityId: run.id, participantId: run.participantId, changes: diffFields(run, after, ["status", "confirmedBy"]) });
    return after;
  },
});

const decideSchema = z.discriminatedUnion(
  "decision",
  [
    z.object({ runId: runRef, decision: z.literal("sign_off"), declaration: requiredText(2000) }),
    z.object({ runId: runRef, decision: z.literal("return"), reason: requiredText(2000) }),
  ],
  { error: "validation.invalid" },
);

/**
 * An officer signs off a confirmed run with a declaration, or returns it with reasons. Two officers at once: the
 * run row is locked, so the second finds it decided (409). Nobody signs off a run they worked on.
 */
export const decideCertification = defineCommand({
  name: "certification.decideRun",
  permission: "certification:decide",
  input: decideSchema,
  events: ["certification.run.signed_off", "certification.run.returned"],
  tenant: (tx, input) => participantOfRun(tx, input.runId),
  async run(cx): Promise<CertificationRun> {
    const { input } = cx;
    const { run, facts } = await lockedRun(cx, input.runId);
    if (input.decision === "sign_off") {
      const status = decided(facts, { kind: "sign_off", userId: cx.actor.userId });
      const after = await updateRun(cx, run, { status, decidedBy: cx.actor.userId, decidedAt: cx.now, declaration: input.declaration });
      cx.audit({
        action: "certification.run.signed_off",
        entityType: "certification_run",
        entityId: run.id,
        participantId: run.participantId,
        changes: diffFields(run, after, ["status", "decidedBy", "declaration"]),
        metadata: { programName: run.programName, programVersion: run.programVersion },
      });
      return after;
    }
    // An officer returns a confirmed run; the participant's checker returns a submitted one (returnSubmittedRun).
    if (run.status === "submitted") throw new AppError(409, "cert.refused.alreadyDecided");
    const status = decided(facts, { kind: "return", userId: cx.actor.userId });
    const after = await updateRun(cx, run, { status, decidedBy: cx.actor.userId, decidedAt: cx.now, returnReason: input.reason });
    cx.audit({ action: "certification.run.returned", entityType: "certification_run", entityId: run.id, participantId: run.participantId, changes: diffFields(run, after, ["status"]), reason: input.reason });
    return after;
  },
});

/** The participant's checker returns a submitted run to the maker with reasons (instead of confirming it). */
export const returnSubmittedRun = defineCommand({
  name: "certification.returnSubmittedRun",
  permission: "certification:approve",
  input: z.object({ runId: runRef, reason: requiredText(2000) }),
  events: ["certification.run.returned"],
  tenant: (tx, input) => participantOfRun(tx, input.runId),
  async run(cx): Promise<CertificationRun> {
    const { run, facts } = await lockedRun(cx, cx.input.runId);
    if (run.status !== "submitted") throw new AppError(409, "cert.refused.alreadyDecided");
    const status = decided(facts, { kind: "return", userId: cx.actor.userId });
    const after = await updateRun(cx, run, { status, returnReason: cx.input.reason });
    cx.audit({ action: "certification.run.returned", entityType: "certification_run", entityId: run.id, participantId: run.participantId, changes: diffFields(run, after, ["status"]), reason: cx.input.reason });
    return after;
  },
});

/** Marks runs stale inside a command, with the reason (a message key's parameters are kept in the audit event). */
async function makeStale(cx: CommandContext, runs: CertificationRun[], reason: string, why: { key: MessageKey; params: Record<string, string> }): Promise<void> {
  for (const run of runs) {
    const facts = await factsOf(cx.tx, run);
    const status = decided(facts, { kind: "stale" });
    const after = await updateRun(cx, run, { status, staleAt: cx.now, staleReason: reason });
    cx.audit({ action: "certification.run.stale", entityType: "certification_run", entityId: run.id, participantId: run.participantId, changes: diffFields(run, after, ["status"]), reason });
    // The participant is told: its administrators learn that production for the new version needs a new sign-off.
    if (run.status === "signed_off") {
      const admins = await cx.tx
        .selectDistinct({ email: users.email, locale: users.locale })
        .from(roleGrants)
        .innerJoin(users, eq(users.id, roleGrants.userId))
        .where(and(eq(roleGrants.participantId, run.participantId), inArray(roleGrants.roleCode, ["da_maker", "da_checker"]), eq(users.status, "active"), grantCountsNow(cx.now)));
      await queueMail(
        cx.tx,
        admins.map((admin) => {
          // Each administrator reads it in their own language, the reason too.
          const mail = composeMail(admin.locale, "mail.certificationStale.subject", "mail.certificationStale.body", {
            program: run.programName,
            version: run.programVersion,
            participant: run.participantId,
            reason: translator(admin.locale)(why.key, why.params),
          });
          return {
            toAddress: admin.email,
            subject: mail.subject,
            body: mail.body,
            kind: "certification_stale",
            participantId: run.participantId,
            createdAt: cx.now,
            metadata: { runId: run.id, programVersion: run.programVersion, locale: mail.locale },
          };
        }),
      );
    }
  }
}

/**
 * The participant declares a new version of its program: its sign-off, and any open run of another version, go
 * stale, and production credentials for the new version wait for a new sign-off.
 */
export const declareProgramVersion = defineCommand({
  name: "certification.declareProgramVersion",
  permission: "certification:create",
  input: z.object({ participantId: participantIdSchema, programVersion: requiredText(40) }),
  events: ["certification.run.stale"],
  tenant: (_tx, input) => input.participantId,
  async run(cx): Promise<{ stale: number }> {
    const { input } = cx;
    const runs = await cx.tx
      .select()
      .from(certificationRuns)
      .where(and(eq(certificationRuns.participantId, input.participantId), inArray(certificationRuns.status, ["signed_off", ...OPEN_STATUSES])))
      .for("update");
    const affected = runs.filter((r) => r.programVersion !== input.programVersion);
    await makeStale(cx, affected, `program version ${input.programVersion} declared`, { key: "mail.certificationStale.reason.version", params: { version: input.programVersion } });
    return { stale: affected.length };
  },
});

const caseSchema = z.object({
  code: z.string({ error: "validation.required" }).trim().regex(/^[A-Z]{2,5}-[0-9]{2,3}$/, { error: "validation.invalid" }),
  serviceCode: requiredText(40),
  titleEn: requiredText(200),
  titleZh: requiredText(200),
  steps: requiredText(4000),
  expectedResult: requiredText(2000),
  mandatory: z.preprocess((v) => v === true || v === "true" || v === "on" || v === "yes", z.boolean()),
});

/**
 * The platform administrator adds a case to the catalogue as a new catalogue version. A new mandatory case makes
 * the sign-offs (and open runs) of every participant subscribed to its service stale.
 */
export const addCatalogueCase = defineCommand({
  name: "certification.addCase",
  permission: "certification:manage",
  input: caseSchema,
  events: ["certification.case.added", "certification.run.stale"],
  tenant: "platform",
  async run(cx): Promise<{ catalogueVersion: number }> {
    const { tx, input } = cx;
    const [service] = await tx.select().from(ocpServices).where(eq(ocpServices.code, input.serviceCode));
    if (!service) throw new AppError(400, "error.badRequest", { serviceCode: "validation.invalid" });
    const [exists] = await tx.select({ code: certificationCases.code }).from(certificationCases).where(eq(certificationCases.code, input.code));
    if (exists) throw new AppError(400, "error.badRequest", { code: "validation.invalid" });
    const version = (await catalogueVersion(tx)) + 1;
    const [{ n } = { n: 0 }] = await tx.select({ n: max(certificationCases.sortOrder) }).from(certificationCases).where(eq(certificationCases.serviceCode, input.serviceCode));
    const [added] = await tx.insert(certificationCases).values({ ...input, catalogueVersion: version, sortOrder: Number(n ?? 0) + 10 }).returning();
    cx.audit({
      action: "certification.case.added",
      entityType: "certification_case",
      entityId: input.code,
      participantId: null,
      changes: diffFields(null, added!, ["serviceCode", "titleEn", "titleZh", "mandatory", "catalogueVersion"]),
    });
    if (input.mandatory) {
      await makeStale(cx, await runsOfSubscribers(cx, input.serviceCode), `catalogue version ${version} adds mandatory case ${input.code}`, { key: "mail.certificationStale.reason.catalogue", params: { version: String(version), code: input.code } });
    }
    return { catalogueVersion: version };
  },
});

/** The cases' subscribers' sign-offs and open runs, locked, for a catalogue change that asks them for more. */
async function runsOfSubscribers(cx: CommandContext, serviceCode: string): Promise<CertificationRun[]> {
  const subscribers = cx.tx.select({ id: participantServices.participantId }).from(participantServices).where(eq(participantServices.serviceCode, serviceCode));
  return cx.tx
    .select()
    .from(certificationRuns)
    .where(and(inArray(certificationRuns.participantId, subscribers), inArray(certificationRuns.status, ["signed_off", ...OPEN_STATUSES])))
    .orderBy(asc(certificationRuns.participantId))
    .for("update");
}

/**
 * The case a catalogue change is about, locked, as the administrator saw it (its catalogue version): 404 when there
 * is no such case, 409 when someone changed it since or it is retired.
 */
async function lockedCase(cx: CommandContext, code: string, seenVersion: number) {
  const [row] = await cx.tx.select().from(certificationCases).where(eq(certificationCases.code, code)).for("update");
  return changeableCase(row, seenVersion);
}

function changeableCase<T extends { retiredAt: Date | null; catalogueVersion: number }>(row: T | undefined, seenVersion: number): T {
  if (!row) throw notFound();
  if (row.retiredAt) throw new AppError(409, "cert.refused.caseRetired");
  if (row.catalogueVersion !== seenVersion) throw new AppError(409, "error.conflict");
  return row;
}

const caseRef = {
  code: z.string({ error: "validation.required" }).trim().max(10, { error: "validation.invalid" }),
  catalogueVersion: z.coerce.number({ error: "validation.invalid" }).int({ error: "validation.invalid" }).positive({ error: "validation.invalid" }),
};

/**
 * The platform administrator changes a case's text (titles, steps, expected result) or whether it is mandatory:
 * a new catalogue version of the case. Runs keep the text they started with. A case that becomes mandatory asks
 * more of every subscriber, so their sign-offs (and open runs) go stale, as for a new mandatory case.
 */
export const changeCatalogueCase = defineCommand({
  name: "certification.changeCase",
  permission: "certification:manage",
  input: caseSchema.omit({ code: true, serviceCode: true }).extend(caseRef),
  events: ["certification.case.changed", "certification.run.stale"],
  tenant: "platform",
  async run(cx): Promise<{ catalogueVersion: number }> {
    const { tx, input } = cx;
    const before = await lockedCase(cx, input.code, input.catalogueVersion);
    const fields = ["titleEn", "titleZh", "steps", "expectedResult", "mandatory"] as const;
    const changes = diffFields(before, { ...before, ...input, catalogueVersion: before.catalogueVersion }, fields);
    if (Object.keys(changes).length === 0) return { catalogueVersion: await catalogueVersion(tx) };
    const version = (await catalogueVersion(tx)) + 1;
    await tx
      .update(certificationCases)
      .set({ titleEn: input.titleEn, titleZh: input.titleZh, steps: input.steps, expectedResult: input.expectedResult, mandatory: input.mandatory, catalogueVersion: version })
      .where(eq(certificationCases.code, before.code));
    cx.audit({
      action: "certification.case.changed",
      entityType: "certification_case",
      entityId: before.code,
      participantId: null,
      changes: { ...changes, catalogueVersion: { before: before.catalogueVersion, after: version } },
    });
    if (input.mandatory && !before.mandatory) {
      await makeStale(cx, await runsOfSubscribers(cx, before.serviceCode), `catalogue version ${version} makes case ${before.code} mandatory`, { key: "mail.certificationStale.reason.madeMandatory", params: { version: String(version), code: before.code } });
    }
    return { catalogueVersion: version };
  },
});

/**
 * The platform administrator retires a case: a new catalogue version without it. New runs no longer select it;
 * runs that did keep it, with its text and results, and sign-offs stay as they were (retiring asks nothing more).
 */
export const retireCatalogueCase = defineCommand({
  name: "certification.retireCase",
  permission: "certification:manage",
  input: z.object({ ...caseRef, reason: requiredText(1000).refine((v) => v.length >= 5, { error: "validation.reasonTooShort" }) }),
  events: ["certification.case.retired"],
  tenant: "platform",
  async run(cx): Promise<{ catalogueVersion: number }> {
    const { tx, input } = cx;
    const before = await lockedCase(cx, input.code, input.catalogueVersion);
    const version = (await catalogueVersion(tx)) + 1;
    await tx.update(certificationCases).set({ retiredAt: cx.now, catalogueVersion: version }).where(eq(certificationCases.code, before.code));
    cx.audit({
      action: "certification.case.retired",
      entityType: "certification_case",
      entityId: before.code,
      participantId: null,
      reason: input.reason,
      changes: { retired: { before: false, after: true }, catalogueVersion: { before: before.catalogueVersion, after: version } },
    });
    return { catalogueVersion: version };
  },
});

// ——— Reads ———

/**
 * The case the platform administrator is about to retire, named in the question asked first; refused as the
 * command refuses (no such case, retired, changed since), so the question never names a retirement that would fail.
 */
export async function describeCaseToRetire(ctx: ServiceContext, input: { code: string; catalogueVersion: number }) {
  assertPlatformCapability(ctx.actor, "certification:manage");
  const [row] = await ctx.db.select().from(certificationCases).where(eq(certificationCases.code, input.code));
  const current = changeableCase(row, input.catalogueVersion);
  return { code: current.code, titleEn: current.titleEn, titleZh: current.titleZh };
}

/** The catalogue, current and retired cases, by service; open to everyone who reads certification. */
export async function listCatalogue(ctx: ServiceContext) {
  whereTenant(ctx.actor, "certification:read", certificationRuns.participantId);
  const cases = await ctx.db.select().from(certificationCases).orderBy(asc(certificationCases.sortOrder), asc(certificationCases.code));
  const services = await ctx.db.select().from(ocpServices).orderBy(asc(ocpServices.sortOrder));
  return { cases, services, version: await catalogueVersion(ctx.db), canManage: mayOn(ctx.actor, "certification:manage", null) };
}

function runScope(ctx: ServiceContext) {
  return whereTenant(ctx.actor, "certification:read", certificationRuns.participantId);
}

export async function listRuns(ctx: ServiceContext, participantId?: string) {
  const scope = runScope(ctx);
  return ctx.db
    .select({
      id: certificationRuns.id,
      participantId: certificationRuns.participantId,
      participantName: participants.nameEn,
      participantNameZh: participants.nameZh,
      environment: certificationRuns.environment,
      programName: certificationRuns.programName,
      programVersion: certificationRuns.programVersion,
      status: certificationRuns.status,
      startedAt: certificationRuns.startedAt,
      decidedAt: certificationRuns.decidedAt,
    })
    .from(certificationRuns)
    .innerJoin(participants, eq(participants.id, certificationRuns.participantId))
    .where(and(scope, participantId ? eq(certificationRuns.participantId, participantId) : undefined))
    .orderBy(desc(certificationRuns.startedAt));
}

/** The simulator and test clients a participant may run with: active, with a valid key. */
export async function clientsForRun(db: DbOrTx, participantId: string, now: Date) {
  const rows = await db
    .selectDistinct({ id: apiClients.id, name: apiClients.name, clientId: apiClients.clientId, environment: apiClients.environment })
    .from(apiClients)
    .innerJoin(apiKeys, eq(apiKeys.apiClientId, apiClients.id))
    .where(
      and(
        eq(apiClients.participantId, participantId),
        eq(apiClients.status, "active"),
        inArray(apiClients.environment, ["simulator", "test"]),
        eq(apiKeys.status, "active"),
        lte(apiKeys.validFrom, now),
        gt(apiKeys.expiresAt, now),
      ),
    );
  return rows.sort((a, b) => a.name.localeCompare(b.name));
}

/** A run in the actor's scope (404 otherwise), its cases with every attempt, and what the actor may do with it. */
export async function getRun(ctx: ServiceContext, runId: string) {
  const [run] = await ctx.db.select().from(certificationRuns).where(and(eq(certificationRuns.id, runId), runScope(ctx)));
  if (!run) throw notFound();
  const [participant] = await ctx.db.select().from(participants).where(eq(participants.id, run.participantId));
  const [client] = await ctx.db.select({ name: apiClients.name, clientId: apiClients.clientId }).from(apiClients).where(eq(apiClients.id, run.apiClientId));
  const cases = await ctx.db.select().from(certificationRunCases).where(eq(certificationRunCases.runId, run.id)).orderBy(asc(certificationRunCases.sortOrder), asc(certificationRunCases.caseCode));
  const results = await ctx.db
    .select({ result: certificationResults, recordedByName: users.displayName })
    .from(certificationResults)
    .leftJoin(users, eq(users.id, certificationResults.recordedBy))
    .where(eq(certificationResults.runId, run.id))
    .orderBy(asc(certificationResults.caseCode), asc(certificationResults.attempt));
  const names = await namesOf(ctx.db, [run.startedBy, run.submittedBy, run.confirmedBy, run.decidedBy]);
  const facts = await factsOf(ctx.db, run);
  const me = ctx.actor.userId;
  const allowed = (action: RunAction) => decideRun(facts, action).ok;
  const can = {
    record: mayOn(ctx.actor, "certification:complete", run.participantId) && (run.status === "recording" || run.status === "returned"),
    submit: mayOn(ctx.actor, "certification:create", run.participantId) && allowed({ kind: "submit", userId: me }),
    /** The maker, while cases are still missing: the page says which. */
    submitLater: mayOn(ctx.actor, "certification:create", run.participantId) && (run.status === "recording" || run.status === "returned") && missingMandatory(facts.cases).length > 0,
    confirm: mayOn(ctx.actor, "certification:approve", run.participantId) && allowed({ kind: "confirm", userId: me }),
    checkerReturn: mayOn(ctx.actor, "certification:approve", run.participantId) && run.status === "submitted" && allowed({ kind: "return", userId: me }),
    decide: mayOn(ctx.actor, "certification:decide", run.participantId) && allowed({ kind: "sign_off", userId: me }),
    officerReturn: mayOn(ctx.actor, "certification:decide", run.participantId) && run.status === "confirmed" && allowed({ kind: "return", userId: me }),
  };
  return {
    run,
    participant: participant!,
    client: client ?? null,
    cases,
    results: results.map((r) => ({ ...r.result, recordedByName: r.recordedByName })),
    names,
    missing: missingMandatory(facts.cases),
    can,
  };
}

async function namesOf(db: DbOrTx, ids: (string | null)[]): Promise<Record<string, string>> {
  const wanted = [...new Set(ids.filter((i): i is string => i !== null))];
  if (wanted.length === 0) return {};
  const rows = await db.select({ id: users.id, name: users.displayName }).from(users).where(inArray(users.id, wanted));
  return Object.fromEntries(rows.map((r) => [r.id, r.name]));
}

export type RunView = Awaited<ReturnType<typeof getRun>>;

const csvCell = (v: unknown) => {
  const s = v === null || v === undefined ? "" : v instanceof Date ? v.toISOString() : String(v);
  // A leading =, +, - or @ would be a formula in a spreadsheet.
  const safe = /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
};

/** The run as CSV, one row per attempt (and one per case never run), for the officer's file. */
export async function runCsv(ctx: ServiceContext, runId: string): Promise<{ filename: string; body: string }> {
  const view = await getRun(ctx, runId);
  const header = ["participant", "program", "version", "environment", "case", "service", "mandatory", "title_en", "title_zh", "attempt", "outcome", "recorded_by", "recorded_at", "evidence", "jwt_check"];
  const lines = [header.join(",")];
  for (const c of view.cases) {
    const attempts = view.results.filter((r) => r.caseCode === c.caseCode);
    const base = [view.run.participantId, view.run.programName, view.run.programVersion, view.run.environment, c.caseCode, c.serviceCode, c.mandatory ? "yes" : "no", c.titleEn, c.titleZh];
    if (attempts.length === 0) lines.push([...base, "", "not_run", "", "", "", ""].map(csvCell).join(","));
    for (const a of attempts) lines.push([...base, a.attempt, a.outcome, a.recordedByName ?? "simulator (machine evidence)", a.recordedAt, a.evidence, a.jwtCheck].map(csvCell).join(","));
  }
  return { filename: `certification-${view.run.participantId}-${view.run.programVersion}-${view.run.id.slice(0, 8)}.csv`, body: lines.join("\r\n") + "\r\n" };
}

export interface CertificationStatus {
  status: CertificationRunStatus | "none";
  current: boolean;
  runId: string | null;
  programVersion: string | null;
}

/**
 * A participant's certification now: its latest run, and whether a signed-off run is current — not stale, of the
 * program version last declared, covering every subscribed service and every mandatory case the catalogue asks now.
 */
export async function certificationStatusOf(db: DbOrTx, participantId: string): Promise<CertificationStatus> {
  return (await certificationStatuses(db, [participantId])).get(participantId)!;
}

/** Certification status of many participants at once (the pipeline): four queries, however many participants. */
export async function certificationStatuses(db: DbOrTx, participantIds: readonly string[]): Promise<Map<string, CertificationStatus>> {
  const out = new Map<string, CertificationStatus>();
  for (const id of participantIds) out.set(id, { status: "none", current: false, runId: null, programVersion: null });
  if (participantIds.length === 0) return out;
  const ids = [...participantIds];
  const runs = await db
    .select({ id: certificationRuns.id, participantId: certificationRuns.participantId, status: certificationRuns.status, programVersion: certificationRuns.programVersion })
    .from(certificationRuns)
    .where(inArray(certificationRuns.participantId, ids))
    .orderBy(desc(certificationRuns.startedAt));
  if (runs.length === 0) return out;
  const signed = new Map<string, (typeof runs)[number]>();
  for (const r of runs) if (r.status === "signed_off" && !signed.has(r.participantId)) signed.set(r.participantId, r);
  const signedIds = [...signed.values()].map((r) => r.id);
  const runCases = signedIds.length
    ? await db.select({ runId: certificationRunCases.runId, code: certificationRunCases.caseCode, service: certificationRunCases.serviceCode }).from(certificationRunCases).where(inArray(certificationRunCases.runId, signedIds))
    : [];
  const subscriptions = await db.select({ participantId: participantServices.participantId, code: participantServices.serviceCode }).from(participantServices).where(inArray(participantServices.participantId, ids));
  const mandatory = await db
    .select({ code: certificationCases.code, serviceCode: certificationCases.serviceCode })
    .from(certificationCases)
    .where(and(eq(certificationCases.mandatory, true), isNull(certificationCases.retiredAt)));
  for (const id of ids) {
    const latest = runs.find((r) => r.participantId === id);
    if (!latest) continue;
    const run = signed.get(id);
    let current = false;
    if (run) {
      const cases = runCases.filter((c) => c.runId === run.id);
      current = isCurrent(
        { status: run.status, programVersion: run.programVersion, caseCodes: cases.map((c) => c.code), services: [...new Set(cases.map((c) => c.service))] },
        { programVersion: null, mandatoryCases: mandatory, subscribed: subscriptions.filter((s) => s.participantId === id).map((s) => s.code) },
      );
    }
    const shown = current && run ? run : latest;
    out.set(id, { status: shown.status, current, runId: shown.id, programVersion: shown.programVersion });
  }
  return out;
}

/** For tests and the seed: the transaction-free facts of a run. */
export async function runFacts(db: DbOrTx, runId: string): Promise<RunFacts> {
  const [run] = await db.select().from(certificationRuns).where(eq(certificationRuns.id, runId));
  if (!run) throw notFound();
  return factsOf(db, run);
}
