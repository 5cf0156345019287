import { and, count, eq, gt, inArray, isNotNull, isNull, lte, or } from "drizzle-orm";
import type { DbOrTx } from "../../../db/client.server";
import {
  apiClients,
  apiKeys,
  ocpServices,
  participantContacts,
  participantServices,
  participants,
  roleGrants,
  roles,
  users,
  type ApiEnvironment,
} from "../../../db/schema";
import { verificationAttendedCheck } from "../rollouts/readiness-check.server";
import { certificationStatusOf } from "../certification/service.server";
import type { CheckId, CheckResult } from "./workflow";

/**
 * Automatic checks, one function per check id. A check whose capability is not built yet answers "manual":
 * the reviewer judges from the evidence. The capability's issue replaces that function here, in one place.
 */
export type CheckFunction = (db: DbOrTx, participantId: string, now: Date) => Promise<Omit<CheckResult, "id">>;

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
    .select({
      userId: users.id,
      roleCode: roleGrants.roleCode,
      status: users.status,
      hasPassword: isNotNull(users.passwordHash),
      hasSecondFactor: isNotNull(users.mfaEnrolledAt),
    })
    .from(roleGrants)
    .innerJoin(users, eq(users.id, roleGrants.userId))
    .where(and(activeGrantsOf(participantId, now), inArray(roleGrants.roleCode, ["da_maker", "da_checker"])));
  // Activated: active, a password set and a second factor enrolled.
  const usable = activeOnly ? rows.filter((r) => r.status === "active" && r.hasPassword && r.hasSecondFactor) : rows.filter((r) => r.status !== "deactivated");
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

  async administrators_activated(db, participantId, now) {
    const all = await administratorsByRole(db, participantId, now, false);
    const ready = await administratorsByRole(db, participantId, now, true);
    const ok = ready.makers.size > 0 && ready.checkers.size > 0 && ready.makers.size + ready.checkers.size >= all.makers.size + all.checkers.size;
    return ok ? { outcome: "pass", messageKey: "cert.check.admins.pass" } : { outcome: "fail", messageKey: "cert.check.admins.fail" };
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
    if (missing.length === 0) return { outcome: "pass", messageKey: "check.services_covered.pass" };
    // The services by name, in each language ("{services}" reads "servicesZh" on a Chinese page).
    const named = await db.select({ code: ocpServices.code, en: ocpServices.nameEn, zh: ocpServices.nameZh }).from(ocpServices).where(inArray(ocpServices.code, missing));
    const nameOf = (code: string) => named.find((s) => s.code === code);
    return {
      outcome: "fail",
      messageKey: "check.services_covered.fail",
      params: { services: missing.map((c) => nameOf(c)?.en ?? c).join(", "), servicesZh: missing.map((c) => nameOf(c)?.zh ?? c).join("、") },
    };
  },

  async test_credentials_issued(db, participantId, now) {
    return (await hasUsableClient(db, participantId, ["simulator", "test"], now))
      ? { outcome: "pass", messageKey: "cert.check.testCredentials.pass" }
      : { outcome: "fail", messageKey: "cert.check.testCredentials.fail" };
  },

  async certification_signed_off(db, participantId) {
    const status = await certificationStatusOf(db, participantId);
    return status.current
      ? { outcome: "pass", messageKey: "cert.check.certification.pass", params: { version: status.programVersion ?? "" } }
      : { outcome: "fail", messageKey: "cert.check.certification.fail" };
  },

  verification_attended: (db, participantId, now) => readinessVerified(db, participantId, now),

  async production_credentials_issued(db, participantId, now) {
    return (await hasUsableClient(db, participantId, ["production"], now))
      ? { outcome: "pass", messageKey: "cert.check.production.pass" }
      : { outcome: "fail", messageKey: "cert.check.production.fail" };
  },
};

/** An active (for production: approved) API client of these environments with a key valid now. */
async function hasUsableClient(db: DbOrTx, participantId: string, environments: ApiEnvironment[], now: Date): Promise<boolean> {
  const [row] = await db
    .select({ id: apiClients.id })
    .from(apiClients)
    .innerJoin(apiKeys, eq(apiKeys.apiClientId, apiClients.id))
    .where(
      and(
        eq(apiClients.participantId, participantId),
        inArray(apiClients.environment, environments),
        eq(apiClients.status, "active"),
        eq(apiKeys.status, "active"),
        lte(apiKeys.validFrom, now),
        gt(apiKeys.expiresAt, now),
      ),
    )
    .limit(1);
  return Boolean(row);
}

/**
 * Whether the participant attended its readiness verification (SPEC §7): read from its current rollout by the
 * rollout module (a participant in no rollout stays the reviewer's judgement from the evidence).
 */
export const readinessVerified: CheckFunction = (db, participantId) => verificationAttendedCheck(db, participantId);

export async function runChecks(db: DbOrTx, participantId: string, ids: readonly CheckId[], now: Date): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const id of ids) results.push({ id, ...(await CHECKS[id](db, participantId, now)) });
  return results;
}
