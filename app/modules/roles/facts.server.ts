import { and, eq, gt, inArray, isNull, lte, ne, or, sql } from "drizzle-orm";
import type { AnyPgColumn } from "drizzle-orm/pg-core";
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

/** The rules each user holds an approved waiver of. */
export async function approvedWaiverRulesOf(db: DbOrTx, userIds: readonly string[]): Promise<Map<string, string[]>> {
  const waived = new Map<string, string[]>();
  for (let i = 0; i < userIds.length; i += 1000) {
    const rows = await db
      .select({ userId: sodWaivers.userId, ruleId: sodWaivers.ruleId })
      .from(sodWaivers)
      .where(and(inArray(sodWaivers.userId, userIds.slice(i, i + 1000)), eq(sodWaivers.status, "approved")));
    for (const r of rows) waived.set(r.userId, [...(waived.get(r.userId) ?? []), r.ruleId]);
  }
  return waived;
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

/** A condition on a user id column: the user holds, at `now`, one of these roles. For pickers of who may own work. */
export function holdsRoleNow(userId: AnyPgColumn, roleCodes: readonly string[], now: Date) {
  return inArray(
    userId,
    sql`(select ${roleGrants.userId} from ${roleGrants} where ${roleGrants.roleCode} in (${sql.join(roleCodes.map((c) => sql`${c}`), sql`, `)}) and ${grantCountsNow(now)})`,
  );
}
