/**
 * Pure Login Management rules (SPEC §4): separation of duties, maker-checker eligibility, when a grant counts,
 * the last-administrator rule, and reset to baseline. No I/O: services load the facts and ask here.
 */
import type { MessageKey } from "~/i18n/messages";

export type SodKind = "block" | "block_unless_waiver" | "warn";

export interface SodRuleFact {
  id: string;
  roleA: string;
  roleB: string;
  kind: SodKind;
}

export interface SodVerdict {
  /** Refused outright. */
  blocking: SodRuleFact[];
  /** Refused unless the user holds an approved waiver of that rule. */
  waiverMissing: SodRuleFact[];
  /** Allowed with a written justification, which is recorded. */
  warnings: SodRuleFact[];
  /** Allowed because of an approved waiver (shown wherever the user appears). */
  waived: SodRuleFact[];
}

/** The rules that adding `newRole` to a user holding `heldRoles` would touch. */
export function sodVerdict(
  heldRoles: readonly string[],
  newRole: string,
  rules: readonly SodRuleFact[],
  approvedWaiverRuleIds: readonly string[],
): SodVerdict {
  const verdict: SodVerdict = { blocking: [], waiverMissing: [], warnings: [], waived: [] };
  for (const rule of rules) {
    const other = rule.roleA === newRole ? rule.roleB : rule.roleB === newRole ? rule.roleA : null;
    if (!other || !heldRoles.includes(other)) continue;
    if (rule.kind === "block") verdict.blocking.push(rule);
    else if (rule.kind === "warn") verdict.warnings.push(rule);
    else if (approvedWaiverRuleIds.includes(rule.id)) verdict.waived.push(rule);
    else verdict.waiverMissing.push(rule);
  }
  return verdict;
}

/** Every rule a set of roles held together breaks, for reports and user pages. */
export function sodConflictsAmong(roles: readonly string[], rules: readonly SodRuleFact[]): SodRuleFact[] {
  return rules.filter((r) => roles.includes(r.roleA) && roles.includes(r.roleB));
}

export interface DecisionFacts {
  requestStatus: "pending" | "approved" | "rejected" | "cancelled";
  requestParticipantId: string;
  requestedBy: string | null;
  targetUserId: string;
  deciderId: string;
  deciderParticipantId: string | null;
}

/** Whether a checker may decide a request: pending, same participant, not their own request, not a grant to them. */
export function decisionRefusal(f: DecisionFacts): MessageKey | null {
  if (f.deciderParticipantId !== f.requestParticipantId) return "error.notFound";
  if (f.requestStatus !== "pending") return "access.refused.alreadyDecided";
  if (f.requestedBy === f.deciderId) return "access.refused.ownRequest";
  if (f.targetUserId === f.deciderId) return "access.refused.grantToSelf";
  return null;
}

export interface GrantWindow {
  status: "active" | "revoked";
  validFrom: Date;
  validTo: Date | null;
  revokedAt: Date | null;
}

/** A grant counts at an instant when it is inside its validity window and not yet revoked. */
export function grantCountsAt(g: GrantWindow, at: Date): boolean {
  const t = at.getTime();
  if (g.validFrom.getTime() > t) return false;
  if (g.validTo && g.validTo.getTime() <= t) return false;
  if (g.revokedAt && g.revokedAt.getTime() <= t) return false;
  if (g.status === "revoked" && !g.revokedAt) return false;
  return true;
}

export type GrantState = "active" | "scheduled" | "expired" | "revoked";

export function grantState(g: GrantWindow, at: Date): GrantState {
  if (g.status === "revoked" || (g.revokedAt && g.revokedAt.getTime() <= at.getTime())) return "revoked";
  if (g.validTo && g.validTo.getTime() <= at.getTime()) return "expired";
  if (g.validFrom.getTime() > at.getTime()) return "scheduled";
  return "active";
}

export const ADMINISTRATOR_ROLES = ["da_maker", "da_checker"] as const;

export interface AdministratorFact {
  userId: string;
  roleCode: string;
}

/**
 * The administrator role that would be left with nobody if `userId` lost `losingRoles` (or, with "all", every
 * role, as when suspended or deactivated); null when the participant keeps at least one of each.
 */
export function lastAdministratorLost(
  activeAdministrators: readonly AdministratorFact[],
  userId: string,
  losingRoles: readonly string[] | "all",
): string | null {
  for (const role of ADMINISTRATOR_ROLES) {
    const holders = new Set(activeAdministrators.filter((a) => a.roleCode === role).map((a) => a.userId));
    if (!holders.has(userId)) continue;
    const loses = losingRoles === "all" || losingRoles.includes(role);
    if (loses && holders.size === 1) return role;
  }
  return null;
}

/** Reset to baseline removes every role outside the template and never adds one (SPEC §4, helpdesk). */
export function baselineRemovals(heldRoles: readonly string[], baselineRoles: readonly string[]): string[] {
  return heldRoles.filter((r) => !baselineRoles.includes(r));
}

export type UserStatus = "invited" | "active" | "locked" | "suspended" | "deactivated";
export type LifecycleAction = "suspend" | "reinstate" | "deactivate" | "unlock" | "lock";

/** The user lifecycle of SPEC §4: deactivated is final. */
export function lifecycleTarget(current: UserStatus, action: LifecycleAction): UserStatus | null {
  if (current === "deactivated") return null;
  switch (action) {
    case "suspend":
      return current === "suspended" ? null : "suspended";
    case "reinstate":
      return current === "suspended" ? "active" : null;
    case "deactivate":
      return "deactivated";
    case "unlock":
      return current === "locked" ? "active" : null;
    case "lock":
      return current === "active" ? "locked" : null;
  }
}

/** Dormant: active, and no sign-in (or, never signed in, no creation) within the last 90 days. A report, not a state. */
export const DORMANT_AFTER_DAYS = 90;
export function isDormant(status: UserStatus, lastSignInAt: Date | null, createdAt: Date, now: Date): boolean {
  if (status !== "active") return false;
  const since = (lastSignInAt ?? createdAt).getTime();
  return now.getTime() - since > DORMANT_AFTER_DAYS * 24 * 3600 * 1000;
}
