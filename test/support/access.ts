import { randomUUID } from "node:crypto";
import { expect } from "vitest";
import type { Database } from "../../db/client.server";
import type { Participant } from "../../db/schema";
import { AppError } from "../../app/lib/errors";
import type { ServiceContext } from "../../app/modules/context.server";
import type { CreateParticipantInput } from "../../app/modules/participants/schemas";
import { contextFor, createConsoleUser, registerParticipant } from "../factories";

/** What a service call came to: its value, or the AppError it was refused with. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: AppError };

export async function outcome<T>(promise: Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await promise };
  } catch (error) {
    if (error instanceof AppError) return { ok: false, error };
    throw error;
  }
}

/** Awaits a service call that must be refused, and answers the AppError for closer checks. */
export async function refusal(promise: Promise<unknown>, status: AppError["status"], messageKey?: AppError["messageKey"]): Promise<AppError> {
  const result = await outcome(promise);
  if (result.ok) throw new Error(`expected a refusal (${status} ${messageKey ?? ""}), but the call succeeded`);
  expect({ status: result.error.status, messageKey: result.error.messageKey }).toEqual({
    status,
    messageKey: messageKey ?? result.error.messageKey,
  });
  return result.error;
}

export interface Firm {
  participant: Participant;
  maker: ServiceContext;
  checker: ServiceContext;
  /** Emails of the firm's administrators, to sign in with (password `password`). */
  makerEmail: string;
  checkerEmail: string;
  password: string;
  /** A plain user of the firm, holding the given roles from the start. */
  addUser(roleCodes?: string[], name?: string): Promise<string>;
  /** A user of the firm with no role yet who can sign in once given a console role (password `password`). */
  addSignInUser(name?: string): Promise<{ id: string; email: string }>;
  /** Another DA of the firm (e.g. a second checker), as a service context. */
  addAdministrator(roleCode: "da_maker" | "da_checker", name?: string): Promise<ServiceContext>;
}

/**
 * A participant of its own with one DA maker and one DA checker who can sign in, so that a test can count on who
 * the firm's administrators are (the last-administrator rule) without disturbing the demo data.
 */
export async function createFirm(db: Database, overrides: Partial<CreateParticipantInput> = {}): Promise<Firm> {
  const participant = await registerParticipant(db, overrides);
  const tag = `${participant.id.toLowerCase()}-${randomUUID().slice(0, 6)}`;
  const password = "correct horse battery staple 2026";
  const makerEmail = `maker-${tag}@firm.test`;
  const checkerEmail = `checker-${tag}@firm.test`;
  await createConsoleUser(db, { email: makerEmail, displayName: `Maker ${participant.id}`, participantId: participant.id, password, roleCodes: ["da_maker"] });
  await createConsoleUser(db, { email: checkerEmail, displayName: `Checker ${participant.id}`, participantId: participant.id, password, roleCodes: ["da_checker"] });
  let n = 0;
  return {
    participant,
    maker: await contextFor(db, makerEmail),
    checker: await contextFor(db, checkerEmail),
    makerEmail,
    checkerEmail,
    password,
    async addUser(roleCodes = [], name) {
      n++;
      const user = await createConsoleUser(db, {
        email: `user${n}-${tag}@firm.test`,
        displayName: name ?? `User ${n} of ${participant.id}`,
        participantId: participant.id,
        roleCodes,
      });
      return user.id;
    },
    async addSignInUser(name) {
      n++;
      const email = `person${n}-${tag}@firm.test`;
      const user = await createConsoleUser(db, { email, displayName: name ?? `Person ${n} of ${participant.id}`, participantId: participant.id, password, roleCodes: [] });
      return { id: user.id, email };
    },
    async addAdministrator(roleCode, name) {
      n++;
      const email = `admin${n}-${tag}@firm.test`;
      await createConsoleUser(db, { email, displayName: name ?? `${roleCode} ${n} of ${participant.id}`, participantId: participant.id, password, roleCodes: [roleCode] });
      return contextFor(db, email);
    },
  };
}
