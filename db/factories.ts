import { generateKeyPairSync, randomUUID } from "node:crypto";
import { and, asc, eq, inArray } from "drizzle-orm";
import { SignJWT } from "jose";
import type { Database } from "./client.server";
import { apiClients, certificationRunCases, certificationRuns, onboardingSteps, roleGrants, users, type ApiClient, type CertificationRun, type Participant, type User } from "./schema";
import { POP_AUDIENCE } from "../app/modules/credentials/claim-rules";
import { createClient, decideClient, issueChallenge, registerKey } from "../app/modules/credentials/service.server";
import { mayOn } from "../app/modules/tenancy.server";
import { OPEN_STATUSES } from "../app/modules/certification/rules";
import { certificationStatusOf, clientsForRun, confirmRun, decideCertification, recordResult, runFacts, startRun, submitRun } from "../app/modules/certification/service.server";
import { actorOf } from "../app/auth/session.server";
import { systemContext, type ServiceContext } from "../app/modules/context.server";
import { createParticipant } from "../app/modules/participants/service.server";
import type { CreateParticipantInput } from "../app/modules/participants/schemas";
import { addStepEntry, runAutomaticSteps, transitionStep } from "../app/modules/onboarding/service.server";
import { WORKFLOW } from "../app/modules/onboarding/workflow";
import { provisionUser, type ProvisionUserInput } from "../app/modules/users/service.server";

/**
 * Factories for the demo seed and the tests (test/factories.ts re-exports them). They go through the real
 * commands, so everything they build carries its audit events, exactly as data entered through the console would.
 */
let counter = 0;
function nextNumber(): number {
  counter = (counter + 1) % 100000;
  return counter;
}

export function participantInput(overrides: Partial<CreateParticipantInput> = {}): CreateParticipantInput {
  const n = nextNumber();
  return {
    id: `Z${String(n).padStart(5, "0")}`,
    nameEn: `Test Participant ${n} Limited`,
    nameZh: `測試參與者${n}有限公司`,
    type: "GCP",
    services: ["trade_info", "reference_data"],
    contacts: [{ name: `Contact ${n}`, email: `contact${n}@example.test`, phone: "+852 2840 3000", title: "Operations manager" }],
    ...overrides,
  };
}

export function registerParticipant(
  db: Database,
  overrides: Partial<CreateParticipantInput> = {},
  ctx: ServiceContext = systemContext(db),
): Promise<Participant> {
  return createParticipant(ctx, participantInput(overrides));
}

/**
 * An active user with roles, already approved (the console's own `user:provision`). `totpSecret` enrols them with
 * that authenticator key; the tests pass their own, the demo its published one.
 */
export function createConsoleUser(
  db: Database,
  input: Partial<ProvisionUserInput> & Pick<ProvisionUserInput, "roleCodes">,
): Promise<User> {
  return provisionUser(systemContext(db), {
    email: `user-${randomUUID().slice(0, 8)}@example.test`,
    displayName: "Test User",
    participantId: null,
    password: null,
    ...input,
  });
}

/** A service context acting as the user with this email, with the personas their roles give them now. */
export async function contextFor(db: Database, email: string): Promise<ServiceContext> {
  const [user] = await db.select().from(users).where(eq(users.email, email.toLowerCase()));
  if (!user) throw new Error(`no user ${email}`);
  return { db, actor: await actorOf(db, user, new Date(), null), requestId: `factory-${randomUUID()}`, ip: null, userAgent: null };
}

export interface CaseActors {
  /** Works on and submits the officer's steps. */
  officer: ServiceContext;
  /** Approves: never the person who submitted. */
  approver: ServiceContext;
  /** Works on and submits the participant's steps. */
  participant: ServiceContext;
}

async function stepRow(db: Database, participantId: string, stepKey: string) {
  const rows = await db.select().from(onboardingSteps).where(eq(onboardingSteps.participantId, participantId));
  const row = rows.find((r) => r.stepKey === stepKey);
  if (!row) throw new Error(`no step ${stepKey}`);
  return row;
}

/**
 * Moves a case forward through the real services until `untilStep` is approved (or, with `leave`, until it is in
 * that state), taking only the steps it depends on, and attaching evidence where a step requires it.
 */
export async function advanceCase(
  db: Database,
  participantId: string,
  actors: CaseActors,
  untilStep: string,
  leave: "approved" | "submitted" | "in_progress" | "ready" = "approved",
): Promise<void> {
  const needed = new Set<string>([untilStep]);
  for (const def of [...WORKFLOW].reverse()) if (needed.has(def.key)) def.dependsOn.forEach((d) => needed.add(d));
  for (const def of WORKFLOW.filter((d) => needed.has(d.key))) {
    const last = def.key === untilStep;
    let row = await stepRow(db, participantId, def.key);
    if (row.state === "approved") {
      if (last) return;
      continue;
    }
    if (last && leave === "ready") return;
    if (def.approval === "automatic") {
      await runAutomaticSteps(systemContext(db), { participantId });
      row = await stepRow(db, participantId, def.key);
      if (row.state !== "approved") throw new Error(`automatic step ${def.key} did not complete`);
      if (last) return;
      continue;
    }
    const worker = def.completedBy === "officer" ? actors.officer : actors.participant;
    if (row.state === "ready" || row.state === "returned") {
      row = await transitionStep(worker, { participantId, stepKey: def.key, action: "start", version: row.version });
    }
    if (last && leave === "in_progress") return;
    if (row.state === "in_progress") {
      // The onboarding checks read the real state: build it, through the commands, before the step is submitted.
      await prepareStep(db, participantId, def.key, actors);
      if (def.requiresEvidence) {
        await addStepEntry(worker, {
          participantId,
          stepKey: def.key,
          kind: "evidence",
          body: `Evidence for ${def.key}`,
          reference: `DOC-${participantId}-${def.key}`,
        });
      }
      row = await transitionStep(worker, { participantId, stepKey: def.key, action: "submit", version: row.version });
    }
    if (last && leave === "submitted") return;
    const approver = worker.actor.userId === actors.approver.actor.userId ? actors.officer : actors.approver;
    await transitionStep(approver, { participantId, stepKey: def.key, action: "approve", version: row.version });
    if (last) return;
  }
}

// ——— Credentials and certification: the real state the onboarding checks read (issue 11) ———

/** What a step's checks read, made real: test credentials, a signed-off certification, production credentials. */
async function prepareStep(db: Database, participantId: string, stepKey: string, actors: CaseActors): Promise<void> {
  const now = new Date();
  const maker = mayOn(actors.participant.actor, "certification:create", participantId) ? actors.participant : await administratorOf(db, participantId, "da_maker");
  if (stepKey === "test_credentials") {
    if ((await clientsForRun(db, participantId, now)).length === 0) await issueClientWithKey(db, participantId, "simulator", maker);
  } else if (stepKey === "api_certification") {
    if (!(await certificationStatusOf(db, participantId)).current) {
      await certifyParticipant(db, participantId, { maker, checker: await administratorOf(db, participantId, "da_checker"), officer: actors.officer });
    }
  } else if (stepKey === "production_enablement") {
    const [production] = await db
      .select({ id: apiClients.id })
      .from(apiClients)
      .where(and(eq(apiClients.participantId, participantId), eq(apiClients.environment, "production"), eq(apiClients.status, "active")));
    if (!production) await issueClientWithKey(db, participantId, "production", maker, await administratorOf(db, participantId, "da_checker"));
  }
}

/** An active API client of the participant with a registered key (valid `keyDays`, a year by default): the key pair's private half is thrown away. */
export async function issueClientWithKey(
  db: Database,
  participantId: string,
  environment: "simulator" | "test" | "production",
  owner: ServiceContext,
  checker?: ServiceContext,
  keyDays = 365,
): Promise<ApiClient> {
  const system = systemContext(db);
  const maker = environment === "production" ? owner : system;
  let client = await createClient(maker, { participantId, environment, name: `${environment === "production" ? "Production" : environment === "test" ? "Test" : "Simulator"} client ${nextNumber()}`, ownerUserId: owner.actor.userId! });
  if (client.status === "pending_approval") {
    client = await decideClient(checker ?? (await administratorOf(db, participantId, "da_checker")), { clientId: client.id, decision: "approve" });
  }
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const { nonce } = await issueChallenge(system, { clientId: client.id });
  const proof = await new SignJWT({ nonce }).setProtectedHeader({ alg: "ES256" }).setAudience(POP_AUDIENCE).setSubject(client.clientId).setIssuedAt().setExpirationTime("10m").sign(privateKey);
  const expiresOn = new Date(Date.now() + keyDays * 24 * 3600 * 1000).toISOString().slice(0, 10);
  await registerKey(system, { clientId: client.id, publicKey: publicKey.export({ type: "spki", format: "pem" }).toString(), proof, nonce, expiresOn });
  return client;
}

/** A context acting as one of the participant's active administrators with this role. */
export async function administratorOf(db: Database, participantId: string, roleCode: "da_maker" | "da_checker"): Promise<ServiceContext> {
  const [row] = await db
    .select({ email: users.email })
    .from(roleGrants)
    .innerJoin(users, eq(users.id, roleGrants.userId))
    .where(and(eq(roleGrants.participantId, participantId), eq(roleGrants.roleCode, roleCode), eq(roleGrants.status, "active"), eq(users.status, "active")))
    .orderBy(asc(users.createdAt))
    .limit(1);
  if (!row) throw new Error(`${participantId} has no active ${roleCode}`);
  return contextFor(db, row.email);
}

export interface CertificationActors {
  maker: ServiceContext;
  checker: ServiceContext;
  officer: ServiceContext;
  /** Records the results; the maker when not given. */
  tester?: ServiceContext;
}

/**
 * A certification run through the real commands: started by the maker with a simulator client (issued if there is
 * none), every case passed (optional ones too) unless `outcomes` says otherwise, then as far as `until`.
 */
export async function certifyParticipant(
  db: Database,
  participantId: string,
  actors: CertificationActors,
  options: { programName?: string; programVersion?: string; until?: "recording" | "submitted" | "confirmed" | "signed_off"; outcomes?: Record<string, { outcome: "passed" | "failed" | "blocked" | "not_applicable"; evidence: string }[]> } = {},
): Promise<CertificationRun> {
  const tester = actors.tester ?? actors.maker;
  const until = options.until ?? "signed_off";
  const [open] = await db
    .select()
    .from(certificationRuns)
    .where(and(eq(certificationRuns.participantId, participantId), inArray(certificationRuns.status, [...OPEN_STATUSES])));
  let run: CertificationRun;
  if (open) {
    // A run already under way (the demo's B01234): its mandatory cases are retested until they pass.
    run = open;
    const facts = await runFacts(db, run.id);
    if (run.status === "recording" || run.status === "returned") {
      for (const c of facts.cases.filter((x) => x.mandatory && x.latest !== "passed")) {
        await recordResult(tester, { runId: run.id, caseCode: c.code, outcome: "passed", evidence: `Retested ${c.code}: output matches the expected file.` });
      }
    }
  } else {
    const now = new Date();
    let [client] = await clientsForRun(db, participantId, now);
    if (!client) {
      await issueClientWithKey(db, participantId, "simulator", actors.maker);
      [client] = await clientsForRun(db, participantId, now);
    }
    run = await startRun(actors.maker, {
      participantId,
      environment: client!.environment as "simulator" | "test",
      apiClientId: client!.id,
      programName: options.programName ?? "Post-trade gateway",
      programVersion: options.programVersion ?? "1.0",
    });
    const cases = await db.select().from(certificationRunCases).where(eq(certificationRunCases.runId, run.id)).orderBy(asc(certificationRunCases.sortOrder));
    for (const c of cases) {
      const attempts = options.outcomes?.[c.caseCode] ?? [{ outcome: "passed" as const, evidence: `Request ids logged for ${c.caseCode}; output matches the expected file.` }];
      for (const a of attempts) await recordResult(tester, { runId: run.id, caseCode: c.caseCode, outcome: a.outcome, evidence: a.evidence });
    }
  }
  const status = async () => (await runFacts(db, run.id)).status;
  if (until === "recording") return run;
  if ((await status()) === "recording" || (await status()) === "returned") await submitRun(actors.maker, { runId: run.id });
  if (until === "submitted") return run;
  if ((await status()) === "submitted") await confirmRun(actors.checker, { runId: run.id });
  if (until === "confirmed") return run;
  return decideCertification(actors.officer, { runId: run.id, decision: "sign_off", declaration: "Results and evidence reviewed; the program meets the OCP API certification requirements." });
}
