import { and, asc, count, eq, gt, max } from "drizzle-orm";
import { expect } from "vitest";
import type { Database } from "../../db/client.server";
import {
  auditEvents,
  onboardingSteps,
  clearingAgreements,
  participantContacts,
  participantServices,
  participants,
  type AuditEvent,
  type OnboardingStep,
  type Participant,
} from "../../db/schema";
import type { ServiceContext } from "../../app/modules/context.server";
import type { CreateParticipantInput } from "../../app/modules/participants/schemas";
import { AppError } from "../../app/lib/errors";
import type { MessageKey } from "../../app/i18n/messages";
import { contextFor, createConsoleUser, participantInput, registerParticipant } from "../factories";

/** A password for test users; hashed once per user by the real provisioning service. */
export const TEST_PASSWORD = "correct horse battery staple";

/** An HKEX onboarding officer, as a service context. */
export async function newOfficer(db: Database, email: string, displayName = email): Promise<ServiceContext> {
  await createConsoleUser(db, { email, displayName, participantId: null, password: TEST_PASSWORD, roleCodes: ["onboarding_officer"] });
  return contextFor(db, email);
}

export interface ParticipantWithAdministrators {
  participant: Participant;
  maker: ServiceContext;
  checker: ServiceContext;
}

/**
 * A registered participant with a DA maker and a DA checker. `activated: false` leaves the checker without a
 * password, so the automatic "administrator activation" check fails until they set one.
 */
export async function participantWithAdministrators(
  db: Database,
  registrar: ServiceContext,
  overrides: Partial<CreateParticipantInput> = {},
  { activated = true }: { activated?: boolean } = {},
): Promise<ParticipantWithAdministrators> {
  const participant = await registerParticipant(db, overrides, registrar);
  const slug = participant.id.toLowerCase();
  await createConsoleUser(db, {
    email: `maker@${slug}.test`,
    displayName: `Maker ${participant.id}`,
    participantId: participant.id,
    password: TEST_PASSWORD,
    roleCodes: ["da_maker"],
  });
  await createConsoleUser(db, {
    email: `checker@${slug}.test`,
    displayName: `Checker ${participant.id}`,
    participantId: participant.id,
    password: activated ? TEST_PASSWORD : null,
    roleCodes: ["da_checker"],
  });
  return {
    participant,
    maker: await contextFor(db, `maker@${slug}.test`),
    checker: await contextFor(db, `checker@${slug}.test`),
  };
}

export { participantInput };

export async function stepOf(db: Database, participantId: string, stepKey: string): Promise<OnboardingStep> {
  const [row] = await db
    .select()
    .from(onboardingSteps)
    .where(and(eq(onboardingSteps.participantId, participantId), eq(onboardingSteps.stepKey, stepKey)));
  if (!row) throw new Error(`no step ${participantId}/${stepKey}`);
  return row;
}

export async function statesOf(db: Database, participantId: string): Promise<Record<string, string>> {
  const rows = await db.select().from(onboardingSteps).where(eq(onboardingSteps.participantId, participantId));
  return Object.fromEntries(rows.map((r) => [r.stepKey, r.state]));
}

export async function participantRow(db: Database, id: string): Promise<Participant | undefined> {
  const [row] = await db.select().from(participants).where(eq(participants.id, id));
  return row;
}

/** The id of the newest audit event, to read what a test adds after it. */
export async function lastAuditId(db: Database): Promise<number> {
  const [row] = await db.select({ id: max(auditEvents.id) }).from(auditEvents);
  return Number(row?.id ?? 0);
}

/** The audit events written after `afterId`, oldest first. */
export function auditSince(db: Database, afterId: number): Promise<AuditEvent[]> {
  return db.select().from(auditEvents).where(gt(auditEvents.id, afterId)).orderBy(asc(auditEvents.id));
}

/** Row counts of everything the registry writes, and the newest audit event: a refusal must leave all of it as it was. */
export async function registryFootprint(db: Database) {
  const tally = async (table: typeof participants | typeof participantServices | typeof participantContacts | typeof clearingAgreements | typeof onboardingSteps) => {
    const [row] = await db.select({ n: count() }).from(table);
    return Number(row?.n ?? 0);
  };
  return {
    participants: await tally(participants),
    services: await tally(participantServices),
    contacts: await tally(participantContacts),
    clearing: await tally(clearingAgreements),
    steps: await tally(onboardingSteps),
    lastAuditId: await lastAuditId(db),
  };
}

/** Awaits a service call that must fail with this AppError, and returns the error. */
export async function refusedWith(
  promise: Promise<unknown>,
  status: AppError["status"],
  messageKey?: MessageKey,
): Promise<AppError> {
  const error = await promise.then(
    (value) => {
      throw new Error(`expected AppError ${status}, but the call succeeded with ${JSON.stringify(value)}`);
    },
    (e: unknown) => e,
  );
  expect(error, String(error)).toBeInstanceOf(AppError);
  const appError = error as AppError;
  expect({ status: appError.status, messageKey: appError.messageKey }).toEqual({
    status,
    messageKey: messageKey ?? appError.messageKey,
  });
  return appError;
}

/** A day relative to today in Hong Kong, as YYYY-MM-DD. */
export function hongKongDay(offsetDays: number): string {
  const now = new Date(Date.now() + offsetDays * 24 * 3600 * 1000);
  return new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Hong_Kong" }).format(now);
}
