import { randomUUID } from "node:crypto";
import type { Database } from "../db/client.server";
import type { Participant, User } from "../db/schema";
import { systemContext, type ServiceContext } from "../app/modules/context.server";
import { createParticipant } from "../app/modules/participants/service.server";
import type { CreateParticipantInput } from "../app/modules/participants/schemas";
import { provisionUser, type ProvisionUserInput } from "../app/modules/users/service.server";

/**
 * Factories for tests and the demo seed. They go through the real services, so everything they build carries
 * its audit events, exactly as data entered through the console would.
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
