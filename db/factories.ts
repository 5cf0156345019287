import { randomUUID } from "node:crypto";
import { eq } from "drizzle-orm";
import type { Database } from "./client.server";
import { onboardingSteps, users, type Participant, type User } from "./schema";
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
