import { and, eq, inArray, max } from "drizzle-orm";
import { decodeJwt } from "jose";
import { z } from "zod";
import type { Database, DbOrTx } from "../../../db/client.server";
import { apiClients, apiKeys, certificationResults, certificationRunCases, certificationRuns, participants, type ApiClient } from "../../../db/schema";
import { ANONYMOUS_ACTOR, type ServiceContext } from "../context.server";
import { defineCommand } from "../command.server";
import { checkJwt, type JwtCheckResult } from "../credentials/keys.server";
import { hongKongDay } from "~/lib/hong-kong-time";
import { ncpGcpMapping } from "../participants/clearing.server";
import { decideRun } from "./rules";

/**
 * The simulator environment's API surface the automatable cases need (the circular's "offline simulator tools and
 * test services"): sample reference data and a paged, replayable feed of SI status events. JWT-authenticated with
 * the participant's registered *simulator* keys, checked exactly as the connection check does (RFC 8725); a test
 * or production client is never accepted here. Each accepted call made while the client's participant has an open
 * run with that client is recorded against the matching cases as machine evidence.
 */

export const SIMULATOR_RESOURCES = ["participants", "stocks", "calendar", "ncp-gcp", "si-events"] as const;
export type SimulatorResource = (typeof SIMULATOR_RESOURCES)[number];

/** Which catalogue cases a call proves (data, like the catalogue): the connection case and the resource's own. */
export const CASES_PROVED: Record<SimulatorResource, readonly string[]> = {
  participants: ["REF-01", "REF-02"],
  stocks: ["REF-01", "REF-03"],
  calendar: ["REF-01", "REF-04"],
  "ncp-gcp": ["REF-01", "REF-05"],
  "si-events": ["SIS-01", "SIS-03"],
};

const SAMPLE = {
  participants: [
    { id: "B01234", nameEn: "Harbour View Securities Clearing Limited", type: "GCP" },
    { id: "C00123", nameEn: "Lion Rock Custodian Services Limited", type: "CUSTODIAN" },
    { id: "D00456", nameEn: "Kowloon Bay Securities Limited", type: "DCP" },
  ],
  stocks: [
    { code: "00005", nameEn: "HSBC Holdings", boardLot: 400, currency: "HKD" },
    { code: "00700", nameEn: "Tencent Holdings", boardLot: 100, currency: "HKD" },
    { code: "02800", nameEn: "Tracker Fund of Hong Kong", boardLot: 500, currency: "HKD" },
  ],
  calendar: [
    { date: "2026-12-24", trading: "half-day", settlement: true },
    { date: "2026-12-25", trading: "closed", settlement: false },
    { date: "2026-12-28", trading: "full-day", settlement: true },
  ],
};

/** A sample SI status event stream: replayable from any event id, paged. */
const SI_EVENTS = Array.from({ length: 120 }, (_, i) => ({
  id: i + 1,
  instruction: `SI${String(700000 + Math.floor(i / 3)).padStart(8, "0")}`,
  status: (["input", "matched", "settled"] as const)[i % 3],
  at: new Date(Date.UTC(2026, 11, 1, 1, 30, 0) + i * 60_000).toISOString(),
}));

/** Calls per client per minute before 429. */
export const SIMULATOR_RATE_LIMIT = 60;
const windows = new Map<string, { start: number; count: number }>();

function rateLimited(clientId: string, now: number): number | null {
  const w = windows.get(clientId);
  if (!w || now - w.start >= 60_000) {
    windows.set(clientId, { start: now, count: 1 });
    return null;
  }
  w.count++;
  return w.count > SIMULATOR_RATE_LIMIT ? Math.ceil((w.start + 60_000 - now) / 1000) : null;
}

/** Test hook: forget the rate windows. */
export function resetSimulatorRateLimits(): void {
  windows.clear();
}

/** The simulator client a token names (by its `sub`), with its keys; null for anything else. */
async function simulatorClientOf(db: DbOrTx, token: string): Promise<{ client: ApiClient; check: JwtCheckResult } | null> {
  let subject: unknown;
  try {
    subject = decodeJwt(token).sub;
  } catch {
    return null;
  }
  if (typeof subject !== "string" || subject.length > 200) return null;
  const [row] = await db
    .select({ client: apiClients, suspendedAt: participants.suspendedAt })
    .from(apiClients)
    .innerJoin(participants, eq(participants.id, apiClients.participantId))
    .where(eq(apiClients.clientId, subject));
  // Never reachable with test or production keys, nor for a suspended participant or an inactive client.
  if (!row || row.client.environment !== "simulator" || row.client.status !== "active" || row.suspendedAt) return null;
  const keys = await db.select().from(apiKeys).where(eq(apiKeys.apiClientId, row.client.id));
  const check = await checkJwt(token, row.client.clientId, "simulator", keys.map((k) => ({ ...k, jwk: k.publicJwk })), new Date());
  return { client: row.client, check };
}

/**
 * Records a simulator call as machine evidence. Public: it authorizes by the token it is given, verified again here
 * inside the transaction, and records nothing for a token that fails.
 */
export const recordMachineEvidence = defineCommand({
  name: "certification.recordMachineEvidence",
  permission: "public",
  input: z.object({ token: z.string().min(1).max(20_000), resource: z.enum(SIMULATOR_RESOURCES), requestId: z.string().max(200), status: z.number().int() }),
  events: ["certification.result.recorded"],
  async tenant(tx, input) {
    const found = await simulatorClientOf(tx, input.token);
    return found?.check.ok ? found.client.participantId : null;
  },
  lockParticipant: true,
  async run(cx): Promise<{ recorded: string[] }> {
    const found = await simulatorClientOf(cx.tx, cx.input.token);
    if (!found?.check.ok) return { recorded: [] };
    const [run] = await cx.tx
      .select()
      .from(certificationRuns)
      .where(and(eq(certificationRuns.participantId, found.client.participantId), eq(certificationRuns.apiClientId, found.client.id), inArray(certificationRuns.status, ["recording", "returned"])))
      .for("update");
    if (!run) return { recorded: [] };
    const codes = CASES_PROVED[cx.input.resource];
    const cases = await cx.tx.select().from(certificationRunCases).where(and(eq(certificationRunCases.runId, run.id), inArray(certificationRunCases.caseCode, [...codes])));
    const recorded: string[] = [];
    const outcome = cx.input.status >= 200 && cx.input.status < 300 ? "passed" : "failed";
    for (const c of cases) {
      const decision = decideRun({ status: run.status, submittedBy: run.submittedBy, confirmedBy: run.confirmedBy, recorders: [], cases: [{ code: c.caseCode, mandatory: c.mandatory, latest: null }] }, { kind: "record", userId: null, caseCode: c.caseCode, outcome });
      if (!decision.ok) continue;
      const [last] = await cx.tx
        .select({ n: max(certificationResults.attempt) })
        .from(certificationResults)
        .where(and(eq(certificationResults.runId, run.id), eq(certificationResults.caseCode, c.caseCode)));
      const attempt = Number(last?.n ?? 0) + 1;
      const evidence = `Machine evidence: simulator call ${cx.input.resource}, request ${cx.input.requestId}, ${cx.now.toISOString()}, token check passed, HTTP ${cx.input.status}.`;
      await cx.tx.insert(certificationResults).values({ runId: run.id, caseCode: c.caseCode, attempt, outcome, evidence, jwtCheck: "passed (simulator gateway)", recordedBy: null, recordedAt: cx.now });
      cx.audit({
        action: "certification.result.recorded",
        entityType: "certification_run",
        entityId: run.id,
        participantId: run.participantId,
        actorName: `simulator client ${found.client.clientId}`,
        changes: { [`case.${c.caseCode}`]: { before: null, after: outcome } },
        metadata: { caseCode: c.caseCode, attempt, machine: true, requestId: cx.input.requestId },
      });
      recorded.push(c.caseCode);
    }
    if (recorded.length && run.status === "returned") {
      await cx.tx.update(certificationRuns).set({ status: "recording", returnReason: null, version: run.version + 1 }).where(eq(certificationRuns.id, run.id));
    }
    return { recorded };
  },
});

export type SimulatorAnswer = { status: number; body: unknown; headers?: Record<string, string> };

/** Serves one simulator call: 401 with the check's findings for a bad token, 429 over the rate, else the sample data. */
export async function serveSimulator(db: Database, input: { resource: string; authorization: string | null; requestId: string; after?: string | null; limit?: string | null; ncp?: string | null }): Promise<SimulatorAnswer> {
  const resource = (SIMULATOR_RESOURCES as readonly string[]).includes(input.resource) ? (input.resource as SimulatorResource) : null;
  if (!resource) return { status: 404, body: { error: "not_found" } };
  const token = /^Bearer ([A-Za-z0-9_\-.]+)$/.exec(input.authorization ?? "")?.[1] ?? null;
  if (!token || token.length > 20_000) return { status: 401, body: { error: "invalid_token", detail: "Bearer JWT required" }, headers: { "WWW-Authenticate": 'Bearer error="invalid_token"' } };
  const found = await simulatorClientOf(db, token);
  if (!found) return { status: 401, body: { error: "invalid_token", detail: "not a registered simulator client" }, headers: { "WWW-Authenticate": 'Bearer error="invalid_token"' } };
  if (!found.check.ok) {
    return { status: 401, body: { error: "invalid_token", findings: found.check.findings.filter((f) => !f.ok).map((f) => f.messageKey) }, headers: { "WWW-Authenticate": 'Bearer error="invalid_token"' } };
  }
  const retryAfter = rateLimited(found.client.clientId, Date.now());
  if (retryAfter !== null) return { status: 429, body: { error: "rate_limited" }, headers: { "Retry-After": String(retryAfter) } };
  let body: unknown;
  if (resource === "si-events") {
    const after = Math.max(0, Number.parseInt(input.after ?? "0", 10) || 0);
    const limit = Math.min(100, Math.max(1, Number.parseInt(input.limit ?? "50", 10) || 50));
    const page = SI_EVENTS.filter((e) => e.id > after).slice(0, limit);
    const last = page.at(-1);
    body = { events: page, next: last && last.id < SI_EVENTS.length ? `?after=${last.id}&limit=${limit}` : null };
  } else if (resource === "ncp-gcp") {
    // The mapping as the reference-data service publishes it: the GCPs' clearing agreements in force today.
    // `?ncp=` looks one NCP up: its GCP today, or 404 for an ID no agreement in force names (REF-05).
    const day = hongKongDay(new Date());
    const mapping = await ncpGcpMapping(db, day);
    if (input.ncp) {
      const found = mapping.filter((m) => m.ncpId === input.ncp!.trim().toUpperCase());
      if (found.length === 0) return { status: 404, body: { error: "not_found", detail: "no clearing agreement in force names this NCP" }, headers: { "Cache-Control": "no-store" } };
      body = { asOf: day, data: found };
    } else {
      body = { asOf: day, data: mapping };
    }
  } else {
    body = { data: SAMPLE[resource] };
  }
  const ctx: ServiceContext = { db, actor: ANONYMOUS_ACTOR, requestId: input.requestId, ip: null, userAgent: null };
  await recordMachineEvidence(ctx, { token, resource, requestId: input.requestId, status: 200 });
  return { status: 200, body, headers: { "Cache-Control": "no-store" } };
}
