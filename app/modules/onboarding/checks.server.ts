import { and, count, eq, gt, inArray, isNotNull, isNull, lte, or } from "drizzle-orm";
import type { DbOrTx } from "../../../db/client.server";
import {
  participantContacts,
  participantServices,
  participants,
  roleGrants,
  roles,
  users,
} from "../../../db/schema";
import { verificationAttendedCheck } from "../rollouts/readiness-check.server";
import type { CheckId, CheckResult } from "./workflow";

/**
 * Automatic checks, one function per check id. A check whose capability is not built yet answers "manual":
 * the reviewer judges from the evidence. The capability's issue replaces that function here, in one place.
 */
export type CheckFunction = (db: DbOrTx, participantId: string, now: Date) => Promise<Omit<CheckResult, "id">>;

const manual =
  (messageKey: CheckResult["messageKey"]): CheckFunction =>
  async () => ({ outcome: "manual", messageKey });

/** Grants in a participant that count right now: active and inside their validity window. */
function activeGrantsOf(participantId: string, now: Date) {
  return and(
    eq(roleGrants.participantId, participantId),
    eq(roleGrants.status, "active"),
    lte(roleGrants.validFrom, now),
    or(isNull(roleGrants.validTo), gt(roleGrants.validTo, now)),
  );
}

async function administratorsByRole(db: DbOrTx, participantId: string, now: Date, activeOnly: boolean) {
  const rows = await db
    .select({ userId: users.id, roleCode: roleGrants.roleCode, status: users.status, hasPassword: isNotNull(users.passwordHash) })
    .from(roleGrants)
    .innerJoin(users, eq(users.id, roleGrants.userId))
    .where(and(activeGrantsOf(participantId, now), inArray(roleGrants.roleCode, ["da_maker", "da_checker"])));
  const usable = activeOnly ? rows.filter((r) => r.status === "active" && r.hasPassword) : rows.filter((r) => r.status !== "deactivated");
  const makers = new Set(usable.filter((r) => r.roleCode === "da_maker").map((r) => r.userId));
  const checkers = new Set(usable.filter((r) => r.roleCode === "da_checker").map((r) => r.userId));
  return { makers, checkers };
}

export const CHECKS: Record<CheckId, CheckFunction> = {
  async application_complete(db, participantId) {
    const [services] = await db
      .select({ n: count() })
      .from(participantServices)
      .where(eq(participantServices.participantId, participantId));
    const [contacts] = await db
      .select({ n: count() })
      .from(participantContacts)
      .where(eq(participantContacts.participantId, participantId));
    const [p] = await db.select().from(participants).where(eq(participants.id, participantId));
    const ok = Boolean(p?.nameEn && p?.nameZh) && Number(services?.n) > 0 && Number(contacts?.n) > 0;
    return ok
      ? { outcome: "pass", messageKey: "check.application_complete.pass" }
      : { outcome: "fail", messageKey: "check.application_complete.fail" };
  },

  async administrators_nominated(db, participantId, now) {
    const { makers, checkers } = await administratorsByRole(db, participantId, now, false);
    // Different people, unless a sole-proprietor waiver (Login Management) allows one person to be both.
    const distinct = [...makers].some((m) => [...checkers].some((c) => c !== m));
    return distinct
      ? { outcome: "pass", messageKey: "check.administrators_nominated.pass", params: { makers: makers.size, checkers: checkers.size } }
      : { outcome: "fail", messageKey: "check.administrators_nominated.fail", params: { makers: makers.size, checkers: checkers.size } };
  },

  // Until two-factor enrolment exists (credential issuance), "activated" means active with a password set.
  async administrators_activated(db, participantId, now) {
    const all = await administratorsByRole(db, participantId, now, false);
    const ready = await administratorsByRole(db, participantId, now, true);
    const ok = ready.makers.size > 0 && ready.checkers.size > 0 && ready.makers.size + ready.checkers.size >= all.makers.size + all.checkers.size;
    return ok
      ? { outcome: "pass", messageKey: "check.administrators_activated.pass" }
      : { outcome: "fail", messageKey: "check.administrators_activated.fail" };
  },

  async services_covered(db, participantId, now) {
    const subscribed = await db
      .select({ code: participantServices.serviceCode })
      .from(participantServices)
      .where(eq(participantServices.participantId, participantId));
    const covered = await db
      .selectDistinct({ service: roles.service })
      .from(roleGrants)
      .innerJoin(roles, eq(roles.code, roleGrants.roleCode))
      .innerJoin(users, eq(users.id, roleGrants.userId))
      .where(and(activeGrantsOf(participantId, now), eq(users.status, "active"), isNotNull(roles.service)));
    const coveredSet = new Set(covered.map((c) => c.service));
    const missing = subscribed.map((s) => s.code).filter((c) => !coveredSet.has(c));
    if (subscribed.length === 0) return { outcome: "fail", messageKey: "check.services_covered.none" };
    return missing.length === 0
      ? { outcome: "pass", messageKey: "check.services_covered.pass" }
      : { outcome: "fail", messageKey: "check.services_covered.fail", params: { services: missing.join(", ") } };
  },

  test_credentials_issued: manual("check.manual.credentials"),
  certification_signed_off: manual("check.manual.certification"),
  verification_attended: (db, participantId) => verificationAttendedCheck(db, participantId),
  production_credentials_issued: manual("check.manual.credentials"),
};

export async function runChecks(db: DbOrTx, participantId: string, ids: readonly CheckId[], now: Date): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const id of ids) results.push({ id, ...(await CHECKS[id](db, participantId, now)) });
  return results;
}
