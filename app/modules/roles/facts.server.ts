import { and, eq, gt, inArray, isNull, lte, ne, or } from "drizzle-orm";
import type { DbOrTx } from "../../../db/client.server";
import { roleGrants, sodRules, sodWaivers, users } from "../../../db/schema";
import { ADMINISTRATOR_ROLES, type AdministratorFact, type SodRuleFact } from "./rules";

/** Grants that count at `now`: active, not revoked, inside their validity window. */
export function grantCountsNow(now: Date) {
  return and(
    eq(roleGrants.status, "active"),
    lte(roleGrants.validFrom, now),
    or(isNull(roleGrants.validTo), gt(roleGrants.validTo, now)),
  );
}

export async function heldRoleCodes(db: DbOrTx, userId: string, now: Date): Promise<string[]> {
  const rows = await db
    .select({ roleCode: roleGrants.roleCode })
    .from(roleGrants)
    .where(and(eq(roleGrants.userId, userId), grantCountsNow(now)));
  return [...new Set(rows.map((r) => r.roleCode))];
}

export async function loadSodRules(db: DbOrTx): Promise<SodRuleFact[]> {
  return db.select({ id: sodRules.id, roleA: sodRules.roleA, roleB: sodRules.roleB, kind: sodRules.kind }).from(sodRules);
}

export async function approvedWaiverRuleIds(db: DbOrTx, userId: string): Promise<string[]> {
  const rows = await db
    .select({ ruleId: sodWaivers.ruleId })
    .from(sodWaivers)
    .where(and(eq(sodWaivers.userId, userId), eq(sodWaivers.status, "approved")));
  return rows.map((r) => r.ruleId);
}

/** The participant's active administrators now: active users holding a DA role that counts. */
export async function activeAdministrators(db: DbOrTx, participantId: string, now: Date): Promise<AdministratorFact[]> {
  return db
    .select({ userId: roleGrants.userId, roleCode: roleGrants.roleCode })
    .from(roleGrants)
    .innerJoin(users, eq(users.id, roleGrants.userId))
    .where(
      and(
        eq(roleGrants.participantId, participantId),
        inArray(roleGrants.roleCode, [...ADMINISTRATOR_ROLES]),
        eq(users.status, "active"),
        grantCountsNow(now),
      ),
    );
}

/**
 * Administrators appointed, whether or not they have activated their accounts yet (not deactivated). A participant
 * has its "first administrators" once it has a maker and a checker appointed: officers grant no more after that.
 */
export async function appointedAdministrators(db: DbOrTx, participantId: string, now: Date): Promise<AdministratorFact[]> {
  return db
    .select({ userId: roleGrants.userId, roleCode: roleGrants.roleCode })
    .from(roleGrants)
    .innerJoin(users, eq(users.id, roleGrants.userId))
    .where(
      and(
        eq(roleGrants.participantId, participantId),
        inArray(roleGrants.roleCode, [...ADMINISTRATOR_ROLES]),
        ne(users.status, "deactivated"),
        grantCountsNow(now),
      ),
    );
}
