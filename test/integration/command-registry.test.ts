import { generateKeyPairSync, randomBytes } from "node:crypto";
import { getTableName, sql } from "drizzle-orm";
import { PgTable } from "drizzle-orm/pg-core";
import { SignJWT } from "jose";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../../db/client.server";
import { rowsOf } from "../../db/client.server";
import * as schema from "../../db/schema";
import { DEMO_CHECKPOINT_KEY } from "../../app/env.server";
import { AppError } from "../../app/lib/errors";
import { ALL_AUDIT_ACTIONS } from "../../app/modules/audit/actions";
import { verifyAuditChains } from "../../app/modules/audit/service.server";
import { commandFaults, type Command, type FaultPoint } from "../../app/modules/command.server";
import { COMMANDS } from "../../app/modules/commands.server";
import { ANONYMOUS_ACTOR, systemContext, type ServiceContext } from "../../app/modules/context.server";
import { POP_AUDIENCE } from "../../app/modules/credentials/claim-rules";
import { DEMO_PASSWORD } from "../../app/modules/demo";
import { timeStepAt } from "../../app/auth/totp.server";
import { seedDemo } from "../../db/seed";
import { certifyParticipant, contextFor, createConsoleUser, issueClientWithKey, participantInput, registerParticipant, TEST_TOTP_SECRET } from "../factories";
import { auditEventsSince, lastAuditId } from "../support/audit";
import { clientWithPrivateKey } from "../support/simulator";
import { TestClock } from "../support/clock";
import { databaseKinds, createTestDatabase, type TestDatabase } from "../support/databases";
import { codeAt } from "../support/totp";

/**
 * The command registry, command by command (decision 012). Every command that exists has a fixture here (a new one
 * without a fixture fails the first test), and each is run:
 * - with a fault injected at each of its three points (before the change, after it, after its events): it changes
 *   nothing at all, not a row of any table;
 * - then for real: everything it changed is accompanied by audit events, each of an action the command declares,
 *   and every chain still verifies;
 * - as an administrator of another participant: 404 (403 for an HKEX-wide operation), and nothing changes.
 */

interface Invocation {
  ctx: ServiceContext;
  input: Record<string, unknown>;
}
type Fixture = (w: World) => Promise<Invocation>;

interface World {
  db: Database;
  as(email: string): Promise<ServiceContext>;
  system: ServiceContext;
  unique(): string;
}

const B = "B01234";
const C = "C00123";

async function userId(w: World, email: string): Promise<string> {
  return (await w.as(email)).actor.userId!;
}

async function version(db: Database, table: "users" | "participants", id: string): Promise<number> {
  const t = table === "users" ? schema.users : schema.participants;
  const [row] = await db.select({ version: t.version }).from(t).where(sql`${t.id} = ${id}`);
  return row!.version;
}

async function stepVersion(db: Database, participantId: string, stepKey: string): Promise<number> {
  const [row] = await db
    .select({ version: schema.onboardingSteps.version })
    .from(schema.onboardingSteps)
    .where(sql`${schema.onboardingSteps.participantId} = ${participantId} and ${schema.onboardingSteps.stepKey} = ${stepKey}`);
  return row!.version;
}

/** A B01234 user with one granted operational role (made through the maker-checker path). */
async function bUserWithGrant(w: World): Promise<{ userId: string; grantId: string }> {
  const maker = await w.as("maker@b01234.demo");
  const checker = await w.as("checker@b01234.demo");
  const created = await run("users.create", maker, { participantId: B, email: `u-${w.unique()}@b.example`, displayName: "Registry User", roles: ["trade_info_viewer"] });
  const { user, requests } = created as { user: { id: string }; requests: string[] };
  const decided = (await run("roles.decideRequest", checker, { requestId: requests[0], decision: "approve" })) as { grantId: string };
  return { userId: user.id, grantId: decided.grantId };
}

async function pendingRequest(w: World): Promise<string> {
  const maker = await w.as("maker@b01234.demo");
  const { requests } = (await run("users.create", maker, { participantId: B, email: `r-${w.unique()}@b.example`, displayName: "Pending Request", roles: ["ref_data_viewer"] })) as { requests: string[] };
  return requests[0]!;
}

async function simulatorClient(w: World): Promise<{ id: string; clientId: string }> {
  const maker = await w.as("maker@b01234.demo");
  return (await run("credentials.createClient", maker, { participantId: B, environment: "simulator", name: `Registry ${w.unique()}`, ownerUserId: maker.actor.userId })) as { id: string; clientId: string };
}

async function keyInput(w: World, client: { id: string; clientId: string }, days = 300) {
  const maker = await w.as("maker@b01234.demo");
  const { nonce } = (await run("credentials.issueChallenge", maker, { clientId: client.id })) as { nonce: string };
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const proof = await new SignJWT({ nonce }).setProtectedHeader({ alg: "ES256" }).setAudience(POP_AUDIENCE).setSubject(client.clientId).setIssuedAt().setExpirationTime("10m").sign(privateKey);
  const expiresOn = new Date(Date.now() + days * 24 * 3600 * 1000 + 8 * 3600 * 1000).toISOString().slice(0, 10);
  return { clientId: client.id, publicKey: publicKey.export({ type: "spki", format: "pem" }).toString(), proof, nonce, expiresOn };
}

async function signedInPassword(w: World): Promise<{ email: string; sessionId: string; userId: string }> {
  const email = `signin-${w.unique()}@hkex.example`;
  await createConsoleUser(w.db, { email, password: DEMO_PASSWORD, roleCodes: ["helpdesk"] });
  const result = (await run("auth.signIn", { ...w.system, actor: ANONYMOUS_ACTOR }, { email, password: DEMO_PASSWORD, demoMode: true, secureCookie: false })) as {
    ok: true;
    actor: { sessionId: string; userId: string };
  };
  return { email, sessionId: result.actor.sessionId, userId: result.actor.userId };
}

/** A new participant with a maker, a checker and a simulator client, and (unless `until` is "none") a run that far. */
async function certificationWorld(w: World, until: "none" | "recording" | "submitted" | "confirmed") {
  const p = await registerParticipant(w.db, { id: nextParticipantId(), services: ["reference_data"] });
  const makerUser = await createConsoleUser(w.db, { email: `cm-${w.unique()}@p.example`, participantId: p.id, password: DEMO_PASSWORD, roleCodes: ["da_maker"] });
  const checkerUser = await createConsoleUser(w.db, { email: `cc-${w.unique()}@p.example`, participantId: p.id, password: DEMO_PASSWORD, roleCodes: ["da_checker"] });
  const maker = await contextFor(w.db, makerUser.email);
  const checker = await contextFor(w.db, checkerUser.email);
  const client = await issueClientWithKey(w.db, p.id, "simulator", maker);
  if (until === "none") return { participantId: p.id, maker, checker, client, runId: "" };
  const run = await certifyParticipant(w.db, p.id, { maker, checker, officer: await w.as("officer@hkex.demo") }, { until });
  return { participantId: p.id, maker, checker, client, runId: run.id };
}

let caseCounter = 100;

function csvOf(rows: string[][]): string {
  return rows.map((r) => r.join(",")).join("\n");
}

/** A Hong Kong day `days` from now, as YYYY-MM-DD. */
function hkDay(days: number): string {
  return new Date(Date.now() + days * 24 * 3600 * 1000 + 8 * 3600 * 1000).toISOString().slice(0, 10);
}

/** A rollout of B01234, in its verification session now, or in stabilisation (launched two days ago). */
async function rolloutOfB(w: World, phase: "verification" | "stabilisation" = "verification"): Promise<string> {
  const officer = await w.as("officer@hkex.demo");
  const at = (hours: number) => new Date(Date.now() + hours * 3600 * 1000).toISOString();
  const milestones =
    phase === "verification"
      ? { cutoffDay: hkDay(-3), conversionDay: hkDay(-2), verificationStart: at(-1), verificationEnd: at(48), launchDay: hkDay(4) }
      : { cutoffDay: hkDay(-7), conversionDay: hkDay(-6), verificationStart: at(-5 * 24), verificationEnd: at(-5 * 24 + 3), launchDay: hkDay(-2) };
  const rollout = (await run("rollouts.create", officer, { name: `Rollout ${w.unique()}`, serviceCodes: ["trade_info"], participantIds: [B], ...milestones })) as { id: string };
  return rollout.id;
}

/** One integrity walk runs at a time: a fixture that starts one first finishes any still running. */
async function noWalkRunning(w: World): Promise<void> {
  for (const r of rowsOf<{ id: string }>(await w.db.execute(sql`select id from audit_integrity_walks where finished_at is null`))) {
    await run("audit.finishIntegrityWalk", w.system, { walkId: r.id, chains: null, checkpoint: null, failure: "closed by the test" });
  }
}

const FIXTURES: Record<string, Fixture> = {
  "audit.createCheckpoint": async (w) => ({ ctx: await w.as("compliance@hkex.demo"), input: { key: DEMO_CHECKPOINT_KEY } }),
  "audit.startIntegrityWalk": async (w) => {
    await noWalkRunning(w);
    return { ctx: await w.as("compliance@hkex.demo"), input: { via: "person" } };
  },
  "audit.finishIntegrityWalk": async (w) => {
    await noWalkRunning(w);
    const walk = (await run("audit.startIntegrityWalk", w.system, { via: "job" })) as { id: string };
    return { ctx: w.system, input: { walkId: walk.id, chains: [{ chainKey: "platform", events: 1, ok: true }], checkpoint: null, failure: null } };
  },
  "audit.recordExport": async (w) => ({ ctx: await w.as("checker@b01234.demo"), input: { format: "csv", filters: {} } }),
  "auth.endSession": async (w) => {
    const { sessionId, email } = await signedInPassword(w);
    return { ctx: { ...(await w.as(email)), actor: { ...(await w.as(email)).actor, sessionId } }, input: { sessionId, reason: "idle-expired" } };
  },
  "auth.signIn": async (w) => {
    const email = `pw-${w.unique()}@hkex.example`;
    await createConsoleUser(w.db, { email, password: DEMO_PASSWORD, roleCodes: ["helpdesk"] });
    return { ctx: { ...w.system, actor: ANONYMOUS_ACTOR }, input: { email, password: DEMO_PASSWORD, demoMode: true, secureCookie: false } };
  },
  "auth.signOut": async (w) => {
    const { sessionId, email } = await signedInPassword(w);
    const ctx = await w.as(email);
    return { ctx: { ...ctx, actor: { ...ctx.actor, sessionId } }, input: { secureCookie: false } };
  },
  "auth.verifySecondFactor": async (w) => {
    const { sessionId } = await signedInPassword(w);
    return { ctx: { ...w.system, actor: ANONYMOUS_ACTOR }, input: { sessionId, code: codeAt(TEST_TOTP_SECRET, timeStepAt(new Date())), secureCookie: false } };
  },
  "certification.startRun": async (w) => {
    const c = await certificationWorld(w, "none");
    return { ctx: c.maker, input: { participantId: c.participantId, environment: "simulator", apiClientId: c.client.id, programName: "Registry program", programVersion: "1.0" } };
  },
  "certification.recordResult": async (w) => {
    const c = await certificationWorld(w, "recording");
    return { ctx: c.checker, input: { runId: c.runId, caseCode: "REF-02", outcome: "failed", evidence: "Page 3 missing" } };
  },
  "certification.submitRun": async (w) => {
    const c = await certificationWorld(w, "recording");
    return { ctx: c.maker, input: { runId: c.runId } };
  },
  "certification.confirmRun": async (w) => {
    const c = await certificationWorld(w, "submitted");
    return { ctx: c.checker, input: { runId: c.runId } };
  },
  "certification.returnSubmittedRun": async (w) => {
    const c = await certificationWorld(w, "submitted");
    return { ctx: c.checker, input: { runId: c.runId, reason: "Evidence of REF-03 is a screenshot of the wrong day" } };
  },
  "certification.decideRun": async (w) => {
    const c = await certificationWorld(w, "confirmed");
    return { ctx: await w.as("officer2@hkex.demo"), input: { runId: c.runId, decision: "sign_off", declaration: "Reviewed; meets the requirements." } };
  },
  "certification.declareProgramVersion": async (w) => {
    const c = await certificationWorld(w, "recording");
    return { ctx: c.maker, input: { participantId: c.participantId, programVersion: "2.0" } };
  },
  "certification.recordMachineEvidence": async (w) => {
    const c = await certificationWorld(w, "none");
    const signed = await clientWithPrivateKey(c.maker, c.participantId);
    await run("certification.startRun", c.maker, { participantId: c.participantId, environment: "simulator", apiClientId: signed.client.id, programName: "Machine", programVersion: "1.0" });
    return { ctx: { ...w.system, actor: ANONYMOUS_ACTOR }, input: { token: await signed.token(), resource: "participants", requestId: `req-${w.unique()}`, status: 200 } };
  },
  "certification.addCase": async (w) => ({
    ctx: await w.as("platform@hkex.demo"),
    input: { code: `REG-${++caseCounter}`, serviceCode: "reference_data", titleEn: "Registry case", titleZh: "登記案例", steps: "1. Call.", expectedResult: "HTTP 200", mandatory: false },
  }),
  "certification.changeCase": async (w) => {
    const admin = await w.as("platform@hkex.demo");
    const code = `REG-${++caseCounter}`;
    const added = (await run("certification.addCase", admin, { code, serviceCode: "reference_data", titleEn: "Registry case", titleZh: "登記案例", steps: "1. Call.", expectedResult: "HTTP 200", mandatory: false })) as { catalogueVersion: number };
    return { ctx: admin, input: { code, catalogueVersion: added.catalogueVersion, titleEn: "Registry case, reworded", titleZh: "登記案例（修訂）", steps: "1. Call. 2. Check.", expectedResult: "HTTP 200", mandatory: false } };
  },
  "certification.retireCase": async (w) => {
    const admin = await w.as("platform@hkex.demo");
    const code = `REG-${++caseCounter}`;
    const added = (await run("certification.addCase", admin, { code, serviceCode: "reference_data", titleEn: "Registry case", titleZh: "登記案例", steps: "1. Call.", expectedResult: "HTTP 200", mandatory: false })) as { catalogueVersion: number };
    return { ctx: admin, input: { code, catalogueVersion: added.catalogueVersion, reason: "Superseded by a newer case" } };
  },
  "credentials.createClient": async (w) => {
    const maker = await w.as("maker@b01234.demo");
    return { ctx: maker, input: { participantId: B, environment: "test", name: `Client ${w.unique()}`, ownerUserId: maker.actor.userId } };
  },
  "credentials.decideClient": async (w) => {
    const makerC = await w.as("maker@c00123.demo");
    const client = (await run("credentials.createClient", makerC, { participantId: C, environment: "production", name: `Prod ${w.unique()}`, ownerUserId: makerC.actor.userId })) as { id: string };
    return { ctx: await w.as("checker@c00123.demo"), input: { clientId: client.id, decision: "approve" } };
  },
  "credentials.issueChallenge": async (w) => ({ ctx: await w.as("maker@b01234.demo"), input: { clientId: (await simulatorClient(w)).id } }),
  "credentials.registerKey": async (w) => ({ ctx: await w.as("maker@b01234.demo"), input: await keyInput(w, await simulatorClient(w)) }),
  "credentials.revokeKey": async (w) => {
    const maker = await w.as("maker@b01234.demo");
    const key = (await run("credentials.registerKey", maker, await keyInput(w, await simulatorClient(w)))) as { id: string };
    return { ctx: maker, input: { keyId: key.id, reason: "Key material retired" } };
  },
  "credentials.sendExpiryNotice": async (w) => {
    const maker = await w.as("maker@b01234.demo");
    const key = (await run("credentials.registerKey", maker, await keyInput(w, await simulatorClient(w), 20))) as { id: string };
    return { ctx: w.system, input: { keyId: key.id, at: new Date() } };
  },
  "onboarding.addStepEntry": async (w) => ({
    ctx: await w.as("maker@b01234.demo"),
    input: { participantId: B, stepKey: "users_and_roles", kind: "note", body: `Note ${w.unique()}` },
  }),
  "onboarding.planStep": async (w) => ({
    ctx: await w.as("officer@hkex.demo"),
    input: { participantId: B, stepKey: "users_and_roles", version: await stepVersion(w.db, B, "users_and_roles"), ownerUserId: null, dueDate: `2027-0${1 + (Number.parseInt(w.unique().slice(0, 2), 16) % 9)}-15` },
  }),
  "onboarding.runAutomaticSteps": async () => ({ ctx: await worldCtx("maker@b01234.demo"), input: { participantId: B } }),
  "onboarding.transitionStep": async (w) => {
    const p = await registerParticipant(w.db, { id: nextParticipantId() });
    return { ctx: await w.as("officer@hkex.demo"), input: { participantId: p.id, stepKey: "application", action: "start", version: await stepVersion(w.db, p.id, "application") } };
  },
  "participants.create": async (w) => ({ ctx: await w.as("officer@hkex.demo"), input: { ...participantInput({ id: nextParticipantId() }) } }),
  "participants.update": async (w) => {
    const p = await registerParticipant(w.db, { id: nextParticipantId() });
    const input = participantInput({ id: p.id, nameEn: `Renamed ${w.unique()} Limited` });
    return { ctx: await w.as("officer@hkex.demo"), input: { ...input, participantId: p.id, version: await version(w.db, "participants", p.id) } };
  },
  "participants.suspend": async (w) => {
    const p = await registerParticipant(w.db, { id: nextParticipantId() });
    return { ctx: await w.as("officer@hkex.demo"), input: { participantId: p.id, version: await version(w.db, "participants", p.id), reason: "Regulatory hold" } };
  },
  "participants.reinstate": async (w) => {
    const p = await registerParticipant(w.db, { id: nextParticipantId() });
    const officer = await w.as("officer@hkex.demo");
    await run("participants.suspend", officer, { participantId: p.id, version: await version(w.db, "participants", p.id), reason: "Regulatory hold" });
    return { ctx: officer, input: { participantId: p.id, version: await version(w.db, "participants", p.id), reason: "Hold lifted" } };
  },
  "participants.addNcp": async (w) => {
    const p = await registerParticipant(w.db, { id: nextParticipantId(), type: "GCP" });
    return { ctx: await w.as("officer@hkex.demo"), input: { participantId: p.id, ncpId: nextNcpId(), nameEn: "Registry Securities Limited", nameZh: "登記證券有限公司", startsOn: "2026-01-01" } };
  },
  "participants.endNcp": async (w) => {
    const p = await registerParticipant(w.db, { id: nextParticipantId(), type: "GCP" });
    const officer = await w.as("officer@hkex.demo");
    const a = (await run("participants.addNcp", officer, { participantId: p.id, ncpId: nextNcpId(), nameEn: "Registry Securities Limited", nameZh: "登記證券有限公司", startsOn: "2026-01-01" })) as { id: number; version: number };
    return { ctx: officer, input: { participantId: p.id, agreementId: a.id, version: a.version, endsOn: "2026-06-30" } };
  },
  "participants.renameNcp": async (w) => {
    const p = await registerParticipant(w.db, { id: nextParticipantId(), type: "GCP" });
    const officer = await w.as("officer@hkex.demo");
    const a = (await run("participants.addNcp", officer, { participantId: p.id, ncpId: nextNcpId(), nameEn: "Registry Securities Limited", nameZh: "登記證券有限公司", startsOn: "2026-01-01" })) as { id: number; version: number };
    return { ctx: officer, input: { participantId: p.id, agreementId: a.id, version: a.version, nameEn: "Registry Securities (HK) Limited", nameZh: "登記證券（香港）有限公司" } };
  },
  "reviews.openCampaign": async (w) => ({
    ctx: await w.as("compliance@hkex.demo"),
    input: { name: `Campaign ${w.unique()}`, participantIds: [B], deadline: "2099-12-31", deadlinePolicy: "flag" },
  }),
  "reviews.decideItem": async (w) => {
    const compliance = await w.as("compliance@hkex.demo");
    const { userId } = await bUserWithGrant(w);
    const campaign = (await run("reviews.openCampaign", compliance, { name: `Decide ${w.unique()}`, participantIds: [B], roleCodes: ["trade_info_viewer"], deadline: "2099-12-31", deadlinePolicy: "flag" })) as { id: string };
    // The new user's item: the demo's own logins of B01234 may be carried over by a rollout fixture in its freeze.
    const [item] = await w.db.select().from(schema.reviewItems).where(sql`${schema.reviewItems.campaignId} = ${campaign.id} and ${schema.reviewItems.userId} = ${userId}`);
    return { ctx: await w.as("checker@b01234.demo"), input: { itemId: item!.id, decision: "revoke", comment: "No longer on the desk" } };
  },
  "reviews.closeCampaign": async (w) => {
    const compliance = await w.as("compliance@hkex.demo");
    await bUserWithGrant(w);
    const tomorrow = new Date(Date.now() + 24 * 3600 * 1000 + 8 * 3600 * 1000).toISOString().slice(0, 10);
    const campaign = (await run("reviews.openCampaign", compliance, { name: `Close ${w.unique()}`, participantIds: [B], roleCodes: ["trade_info_viewer"], deadline: tomorrow, deadlinePolicy: "revoke" })) as { id: string };
    clock.advance(3 * 24 * 3600 * 1000);
    return { ctx: compliance, input: { campaignId: campaign.id } };
  },
  "roles.cancelRequest": async (w) => ({ ctx: await w.as("maker@b01234.demo"), input: { requestId: await pendingRequest(w) } }),
  "roles.decideRequest": async (w) => ({ ctx: await w.as("checker@b01234.demo"), input: { requestId: await pendingRequest(w), decision: "approve", comment: "Form on file" } }),
  "roles.decideWaiver": async (w) => {
    const maker = await w.as("maker@b01234.demo");
    const { userId: target } = await bUserWithGrant(w);
    const waiver = (await run("roles.requestWaiver", maker, { userId: target, ruleId: "da_maker_checker", reason: "Sole proprietor firm" })) as { id: string };
    return { ctx: await w.as("officer@hkex.demo"), input: { waiverId: waiver.id, decision: "approve", comment: "Sole proprietor confirmed" } };
  },
  "roles.requestGrant": async (w) => ({ ctx: await w.as("maker@b01234.demo"), input: { userId: (await bUserWithGrant(w)).userId, roleCode: "ref_data_viewer" } }),
  "roles.requestWaiver": async (w) => ({ ctx: await w.as("maker@b01234.demo"), input: { userId: (await bUserWithGrant(w)).userId, ruleId: "da_maker_checker", reason: "Sole proprietor firm" } }),
  "roles.resetToBaseline": async (w) => ({ ctx: await w.as("maker@b01234.demo"), input: { userId: (await bUserWithGrant(w)).userId, ticketRef: "INC-1001", reason: "Back to the firm's baseline" } }),
  "roles.revokeGrant": async (w) => ({ ctx: await w.as("checker@b01234.demo"), input: { grantId: (await bUserWithGrant(w)).grantId, reason: "Moved to another desk" } }),
  "roles.saveRole": async (w) => ({ ctx: await w.as("platform@hkex.demo"), input: { code: `role_${w.unique()}`, nameEn: "Registry role", nameZh: "登記角色", population: "participant", service: "", isConsole: false, active: true } }),
  "roles.saveSodRule": async (w) => ({ ctx: await w.as("platform@hkex.demo"), input: { id: `rule_${w.unique()}`, roleA: "si_maker", roleB: "ref_data_viewer", kind: "warn", descriptionEn: "Registry rule" } }),
  "roles.saveTemplate": async (w) => {
    const [template] = await w.db.select().from(schema.roleTemplates).where(sql`${schema.roleTemplates.code} = 'baseline_investor'`);
    return { ctx: await w.as("platform@hkex.demo"), input: { templateCode: "baseline_investor", version: template!.version, roles: template!.version % 2 ? ["ref_data_viewer"] : [] } };
  },
  "rollouts.create": async (w) => ({
    ctx: await w.as("officer@hkex.demo"),
    input: { name: `Wave ${w.unique()}`, serviceCodes: ["trade_info", "si_status"], participantIds: [B], cutoffDay: hkDay(10), conversionDay: hkDay(11), verificationStart: `${hkDay(12)}T09:00`, verificationEnd: `${hkDay(12)}T12:00`, launchDay: hkDay(13) },
  }),
  "rollouts.moveMilestone": async (w) => ({ ctx: await w.as("officer@hkex.demo"), input: { rolloutId: await rolloutOfB(w), milestone: "launchAt", to: hkDay(6), reason: "The vendor needs two more days" } }),
  "rollouts.takeSnapshot": async (w) => ({ ctx: await w.as("officer@hkex.demo"), input: { rolloutId: await rolloutOfB(w), participantId: B } }),
  "rollouts.recordResult": async (w) => ({ ctx: await w.as("maker@b01234.demo"), input: { rolloutId: await rolloutOfB(w), participantId: B, subjectKind: "service", subjectRef: "trade_info", outcome: "verified", evidence: "JWT check passed" } }),
  "rollouts.confirmResult": async (w) => {
    const result = (await run("rollouts.recordResult", await w.as("maker@b01234.demo"), { rolloutId: await rolloutOfB(w), participantId: B, subjectKind: "service", subjectRef: "trade_info", outcome: "verified" })) as { id: string };
    return { ctx: await w.as("officer@hkex.demo"), input: { resultId: result.id } };
  },
  "rollouts.confirmChecklist": async (w) => ({
    ctx: await w.as("checker@b01234.demo"),
    input: { rolloutId: await rolloutOfB(w), participantId: B, items: ["standby_systems", "retained_credentials", "contact_person"], contactPerson: "Mandy Wong" },
  }),
  "rollouts.proposeFallback": async (w) => ({ ctx: await w.as("officer@hkex.demo"), input: { rolloutId: await rolloutOfB(w, "stabilisation"), decision: "continue", reason: "No unrecoverable problem" } }),
  "rollouts.decideFallback": async (w) => {
    const proposal = (await run("rollouts.proposeFallback", await w.as("officer@hkex.demo"), { rolloutId: await rolloutOfB(w, "stabilisation"), decision: "invoke", reason: "Settlement feed unrecoverable" })) as { id: string };
    return { ctx: await w.as("officer2@hkex.demo"), input: { decisionId: proposal.id, approve: "approve" } };
  },
  "rollouts.requestFreezeException": async (w) => ({
    ctx: await w.as("maker@b01234.demo"),
    input: { rolloutId: await rolloutOfB(w), participantId: B, kind: "key_rotation", subjectRef: "Trade feed (simulator)", reason: "Key compromised on a laptop" },
  }),
  "rollouts.decideFreezeException": async (w) => {
    const exception = (await run("rollouts.requestFreezeException", await w.as("maker@b01234.demo"), { rolloutId: await rolloutOfB(w), participantId: B, kind: "role_change", subjectRef: "alice.tam@harbourview.example", reason: "Alice moves desk" })) as { id: string };
    return { ctx: await w.as("officer@hkex.demo"), input: { exceptionId: exception.id, approve: "approve" } };
  },
  "rollouts.endStabilisation": async (w) => ({ ctx: await w.as("officer@hkex.demo"), input: { rolloutId: await rolloutOfB(w, "stabilisation"), reason: "Circular: end of stabilisation" } }),
  "users.applyImport": async (w) => {
    const maker = await w.as("maker@b01234.demo");
    const text = csvOf([["email", "display_name", "roles"], [`imp-${w.unique()}@b.example`, "Imported User", "trade_info_viewer"]]);
    const checked = (await run("users.checkImport", maker, { participantId: B, fileName: "users.csv", text })) as { id: string };
    return { ctx: maker, input: { runId: checked.id } };
  },
  "users.changeStatus": async (w) => {
    const { userId: target } = await bUserWithGrant(w);
    return { ctx: await w.as("maker@b01234.demo"), input: { userId: target, action: "deactivate", version: await version(w.db, "users", target), reason: "Left the firm" } };
  },
  "users.checkImport": async (w) => ({
    ctx: await w.as("maker@b01234.demo"),
    input: { participantId: B, fileName: "users.csv", text: csvOf([["email", "display_name", "roles"], [`chk-${w.unique()}@b.example`, "Checked User", "ref_data_viewer"]]) },
  }),
  "users.create": async (w) => ({ ctx: await w.as("maker@b01234.demo"), input: { participantId: B, email: `new-${w.unique()}@b.example`, displayName: "New User", roles: ["si_status_subscriber"] } }),
  "users.provision": async (w) => ({ ctx: w.system, input: { email: `prov-${w.unique()}@hkex.example`, displayName: "Provisioned", participantId: null, password: null, roleCodes: ["helpdesk"] } }),
  "users.redeemLink": async (w) => {
    const maker = await w.as("maker@b01234.demo");
    const email = `link-${w.unique()}@b.example`;
    await run("users.create", maker, { participantId: B, email, displayName: "Link User" });
    const [mail] = await w.db.select().from(schema.mailOutbox).where(sql`${schema.mailOutbox.toAddress} = ${email}`);
    const token = /\/activate\/([A-Za-z0-9_-]+)/.exec(mail!.body)![1]!;
    return { ctx: { ...w.system, actor: ANONYMOUS_ACTOR }, input: { token, password: "a long and unusual passphrase", confirmation: "a long and unusual passphrase" } };
  },
  "users.resendInvitation": async (w) => {
    const maker = await w.as("maker@b01234.demo");
    const email = `resend-${w.unique()}@b.example`;
    const { user } = (await run("users.create", maker, { participantId: B, email, displayName: "Resend User" })) as { user: { id: string } };
    return { ctx: maker, input: { userId: user.id } };
  },
  "users.support": async (w) => ({
    ctx: await w.as("helpdesk@hkex.demo"),
    input: { userId: await userId(w, "maker@c00123.demo"), action: "revoke_sessions", ticketRef: "INC-2002", reason: "User asked to sign out everywhere" },
  }),
  "users.setOwnLocale": async (w) => {
    const email = `locale-${w.unique()}@b.example`;
    await createConsoleUser(w.db, { email, participantId: B, password: DEMO_PASSWORD, roleCodes: ["trade_info_viewer"] });
    return { ctx: await w.as(email), input: { locale: "zh-HK" } };
  },
  "users.update": async (w) => {
    const { userId: target } = await bUserWithGrant(w);
    return { ctx: await w.as("maker@b01234.demo"), input: { userId: target, version: await version(w.db, "users", target), displayName: `Renamed ${w.unique()}` } };
  },
};

let ncpCounter = 0;
/** A fresh exchange participant ID: every agreement a fixture adds names an NCP of its own. */
function nextNcpId(): string {
  ncpCounter++;
  return `Y${String(10000 + ncpCounter).padStart(5, "0")}`;
}

let participantCounter = 0;
function nextParticipantId(): string {
  participantCounter++;
  return `R${String(Date.now() % 1000).padStart(3, "0")}${String(participantCounter).padStart(2, "0")}`.slice(0, 6);
}

let current: TestDatabase & { drop(): Promise<void> };
let clock: TestClock;
const contexts = new Map<string, ServiceContext>();
function worldCtx(email: string): Promise<ServiceContext> {
  return contextFor(current.db, email);
}
function world(): World {
  return {
    db: current.db,
    as: async (email) => contexts.get(email) ?? (await contextFor(current.db, email)),
    system: systemContext(current.db),
    unique: () => randomBytes(4).toString("hex"),
  };
}

function command(name: string): Command {
  const found = COMMANDS.get(name);
  if (!found) throw new Error(`no command ${name}`);
  return found;
}

function run(name: string, ctx: ServiceContext, input: Record<string, unknown>): Promise<unknown> {
  return command(name)(ctx, input as never);
}

const TABLES = (Object.values(schema) as unknown[]).filter((t): t is PgTable => t instanceof PgTable).map((t) => getTableName(t));
const FOOTPRINT = sql.raw(
  TABLES.map((name) => `select '${name}' as name, count(*)::int || ':' || md5(coalesce(string_agg(t::text, '|' order by t::text), '')) as digest from "${name}" t`).join(" union all "),
);

/** Every row of every table, as one digest per table (one statement): any insert, update or delete shows. */
async function footprint(db: Database): Promise<Record<string, string>> {
  return Object.fromEntries(rowsOf<{ name: string; digest: string }>(await db.execute(FOOTPRINT)).map((r) => [r.name, r.digest]));
}

/** A command's tenant as the command itself finds it (for choosing whom it is foreign to). */
async function tenantOf(db: Database, name: string, ctx: ServiceContext, input: Record<string, unknown>): Promise<string | null | "platform"> {
  const spec = command(name).spec;
  if (spec.tenant === "platform") return "platform";
  const parsed = spec.input.parse(input);
  const find = spec.tenant as Exclude<typeof spec.tenant, "platform">;
  return db.transaction(async (tx) => find(tx, parsed, ctx.actor));
}

for (const kind of databaseKinds()) {
  describe(`the command registry [${kind}]`, () => {
    beforeAll(async () => {
      current = await createTestDatabase(kind);
      await seedDemo(current.db);
      clock = new TestClock(Date.now()).start();
    });
    afterEach(() => {
      commandFaults.inject = null;
    });
    afterAll(async () => {
      clock?.stop();
      await current?.drop();
    });

    it("has a fixture for every command, and every command's actions are in the audit union", () => {
      expect([...COMMANDS.keys()].sort()).toEqual(Object.keys(FIXTURES).sort());
      for (const [name, c] of COMMANDS) for (const action of c.spec.events) expect(ALL_AUDIT_ACTIONS, name).toContain(action);
    });

    it.each([...Object.keys(FIXTURES)].sort())("%s: a fault at any point leaves nothing; run for real, every change has its declared events", async (name) => {
      const w = world();
      const { ctx, input } = await FIXTURES[name]!(w);
      const untouched = await footprint(w.db);
      for (const point of ["before-run", "after-run", "after-audit"] as FaultPoint[]) {
        commandFaults.inject = (at, where) => {
          if (at === name && where === point) throw new Error(`injected fault ${point}`);
        };
        await expect(run(name, ctx, input), `${name} with a fault ${point}`).rejects.toThrow(`injected fault ${point}`);
        commandFaults.inject = null;
        expect(await footprint(w.db), `${name}: a fault ${point} left a change`).toEqual(untouched);
      }
      const before = untouched;
      const mark = await lastAuditId(w.db);
      await run(name, ctx, input);
      const after = await footprint(w.db);
      const events = await auditEventsSince(w.db, mark);
      const changed = Object.keys(after).filter((t) => after[t] !== before[t] && !["audit_events", "audit_chain_heads"].includes(t));
      // Bookkeeping that is not business state: a proof challenge, sign-in attempts, the sessions of signing in.
      const unaudited = changed.filter((t) => !["key_challenges", "sign_in_attempts", "sessions"].includes(t));
      if (unaudited.length > 0) expect(events.length, `${name} changed ${unaudited.join(", ")} without an audit event`).toBeGreaterThan(0);
      for (const e of events) expect(command(name).spec.events, `${name} appended ${e.action}`).toContain(e.action);
      for (const report of await verifyAuditChains(w.db)) expect(report, report.chainKey).toMatchObject({ ok: true });
    });

    // Public commands authorize by what they are given; an export is recorded on the exporting actor's own tenant.
    const tenantBound = [...Object.keys(FIXTURES)].filter((name) => command(name).spec.permission !== "public" && name !== "audit.recordExport").sort();
    it.each(tenantBound)("%s: another participant's administrator gets 404 (403 for an HKEX-wide operation) and changes nothing", async (name) => {
      const w = world();
      const { ctx, input } = await FIXTURES[name]!(w);
      const tenant = await tenantOf(w.db, name, ctx, input);
      const outsiders = tenant === C ? ["maker@b01234.demo", "checker@b01234.demo"] : ["maker@c00123.demo", "checker@c00123.demo"];
      const before = await footprint(w.db);
      for (const email of outsiders) {
        const error = await run(name, await w.as(email), input).then(
          () => null,
          (e: unknown) => e,
        );
        expect(error, `${name} as ${email}`).toBeInstanceOf(AppError);
        expect((error as AppError).status, `${name} as ${email}`).toBe(tenant === "platform" ? 403 : 404);
        expect(await footprint(w.db), `${name} as ${email} changed something`).toEqual(before);
      }
      // The fixture's own actor still may (nothing was spent by the refusals).
      await run(name, ctx, input);
    });
  });
}

describe.each(databaseKinds())("every read, for another participant's administrator [%s]", (kind) => {
  let db: Database;
  let drop: () => Promise<void>;
  const ids: { client: string; run: string; campaign: string; maker: string; certification: string } = { client: "", run: "", campaign: "", maker: "", certification: "" };
  beforeAll(async () => {
    const database = await createTestDatabase(kind);
    db = database.db;
    drop = database.drop;
    await seedDemo(db);
    const makerB = await contextFor(db, "maker@b01234.demo");
    ids.maker = makerB.actor.userId!;
    const [client] = await db.select().from(schema.apiClients).where(sql`${schema.apiClients.participantId} = ${B}`);
    ids.client = client!.id;
    const run = (await COMMANDS.get("users.checkImport")!(makerB, { participantId: B, fileName: "b.csv", text: "email,display_name\nx@b.example,X" } as never)) as { id: string };
    ids.run = run.id;
    const campaign = (await COMMANDS.get("reviews.openCampaign")!(await contextFor(db, "compliance@hkex.demo"), { name: "B only", participantIds: [B], deadline: "2099-12-31", deadlinePolicy: "flag" } as never)) as { id: string };
    ids.campaign = campaign.id;
    // The demo's B01234 is mid-certification.
    const [certification] = await db.select().from(schema.certificationRuns).where(sql`${schema.certificationRuns.participantId} = ${B}`);
    ids.certification = certification!.id;
  });
  afterAll(async () => {
    await drop?.();
  });

  it("answers 404 for each of B01234's objects and lists none of them, as either administrator of C00123", async () => {
    const { getParticipant, getParticipantProfile, listParticipants } = await import("../../app/modules/participants/service.server");
    const { getCase, getStep, caseTimeline, pipelineBoard, myWork } = await import("../../app/modules/onboarding/service.server");
    const { getUserProfile, listUsers } = await import("../../app/modules/users/service.server");
    const { supportHistory } = await import("../../app/modules/users/support.server");
    const { getClient, checkToken, listClients } = await import("../../app/modules/credentials/service.server");
    const { getImportRun, pageImportRuns } = await import("../../app/modules/users/import.server");
    const { getCampaign, listCampaigns } = await import("../../app/modules/reviews/service.server");
    const { listRequests } = await import("../../app/modules/roles/service.server");
    const { exploreAudit } = await import("../../app/modules/audit/explorer.server");
    const { listRecentAuditEvents } = await import("../../app/modules/audit/service.server");
    const reports = await import("../../app/modules/reports/service.server");
    const { getRun, listRuns, runCsv } = await import("../../app/modules/certification/service.server");
    for (const email of ["maker@c00123.demo", "checker@c00123.demo"]) {
      const ctx = await contextFor(db, email);
      const objects: [string, () => Promise<unknown>][] = [
        ["participant", () => getParticipant(ctx, B)],
        ["participant profile", () => getParticipantProfile(ctx, B)],
        ["case", () => getCase(ctx, B)],
        ["step", () => getStep(ctx, B, "application")],
        ["timeline", () => caseTimeline(ctx, B)],
        ["user", () => getUserProfile(ctx, ids.maker)],
        ["support history", () => supportHistory(ctx, ids.maker)],
        ["API client", () => getClient(ctx, ids.client)],
        ["token check", () => checkToken(ctx, ids.client, "a.b.c")],
        ["import run", () => getImportRun(ctx, ids.run)],
        ["campaign", () => getCampaign(ctx, ids.campaign)],
        ["certification run", () => getRun(ctx, ids.certification)],
        ["certification CSV", () => runCsv(ctx, ids.certification)],
      ];
      for (const [what, read] of objects) {
        const error = await read().then(
          () => null,
          (e: unknown) => e,
        );
        expect(error, `${what} as ${email}`).toBeInstanceOf(AppError);
        expect((error as AppError).status, `${what} as ${email}`).toBe(404);
      }
      const now = new Date();
      const lists: [string, () => Promise<{ participantId: string | null }[]>][] = [
        ["participants", () => listParticipants(ctx).then((rows) => rows.map((p) => ({ participantId: p.id })))],
        ["users", () => listUsers(ctx, { participantId: B })],
        ["API clients", () => listClients(ctx)],
        ["requests", () => listRequests(ctx, "all")],
        ["import runs", async () => (await pageImportRuns(ctx, { page: 1, size: 200 })).rows],
        ["explorer", async () => (await exploreAudit(ctx, { participantId: B }, null, 200)).events],
        ["recent activity", async () => (await listRecentAuditEvents(ctx, { limit: 200 })).events],
        ["pipeline", async () => (await pipelineBoard(ctx)).columns.flatMap((c) => c.cards)],
        ["my work", () => myWork(ctx)],
        ["access report", () => reports.accessAt(ctx, now, { participantId: B })],
        ["SoD report", () => reports.sodReport(ctx, B)],
        ["dormant report", () => reports.dormantReport(ctx, B)],
        ["no-2FA report", () => reports.noMfaReport(ctx, B)],
        ["expiring report", () => reports.expiringReport(ctx, B)],
        ["pending report", () => reports.pendingTooLongReport(ctx, B)],
        ["certification runs", () => listRuns(ctx)],
        ["certification runs of B01234", () => listRuns(ctx, B)],
      ];
      for (const [what, list] of lists) {
        // An administrator without the list's capability at all (a checker and imports) is refused outright.
        const rows = await list().catch((e: unknown) => {
          if (e instanceof AppError && e.status === 403) return [];
          throw e;
        });
        expect(rows.filter((r) => r.participantId === B), `${what} as ${email}`).toEqual([]);
      }
      expect((await listCampaigns(ctx)).map((c) => c.id), `campaigns as ${email}`).not.toContain(ids.campaign);
    }
  });
});
