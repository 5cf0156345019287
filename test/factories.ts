import type { Database } from "../db/client.server";
import type { User } from "../db/schema";
import { createConsoleUser as createUser } from "../db/factories";
import type { ProvisionUserInput } from "../app/modules/users/service.server";

/** The tests' view of the factories in db/factories.ts (shared with the demo seed), with test-only defaults. */
export { administratorOf, advanceCase, certifyParticipant, contextFor, issueClientWithKey, participantInput, registerParticipant, type CaseActors } from "../db/factories";

/** The authenticator key test users come enrolled with (test/support/totp.ts makes their codes). Tests only. */
export const TEST_TOTP_SECRET = "N5RXALLDN5XHG33MMUWXIZLTOQWWWZLZ";

/** A console user enrolled with the tests' authenticator key unless the test says otherwise. */
export function createConsoleUser(db: Database, input: Partial<ProvisionUserInput> & Pick<ProvisionUserInput, "roleCodes">): Promise<User> {
  return createUser(db, { totpSecret: TEST_TOTP_SECRET, ...input });
}
