/**
 * Every action the audit trail records, by area (SPEC §8: `role.grant.approved` style). The union is closed: an
 * event with any other name does not compile, and the explorer lists these by area. A new change of state adds
 * its action here, to the command that appends it, and a label in both catalogues.
 */
export const AUDIT_ACTIONS = {
  auth: [
    "auth.sign_in.password_accepted",
    "auth.sign_in.succeeded",
    "auth.sign_in.failed",
    "auth.mfa.enrolled",
    "auth.mfa.failed",
    "auth.sign_out",
    "auth.session.ended",
    "auth.sessions.revoked",
  ],
  user: [
    "user.created",
    "user.updated",
    "user.suspended",
    "user.reinstated",
    "user.deactivated",
    "user.locked",
    "user.unlocked",
    "user.activated",
    "user.invitation.issued",
    "user.password_reset.requested",
    "user.password_reset.issued",
    "user.password_reset.completed",
    "user.mfa.reset",
    "user.roles.reset_to_baseline",
    "user.import.checked",
    "user.import.applied",
  ],
  role: [
    "role.grant.requested",
    "role.grant.cancelled",
    "role.grant.approved",
    "role.grant.rejected",
    "role.grant.created",
    "role.grant.revoked",
    "sod.waiver.requested",
    "sod.waiver.approved",
    "sod.waiver.rejected",
  ],
  catalogue: [
    "catalogue.role.created",
    "catalogue.role.updated",
    "catalogue.template.updated",
    "catalogue.sod_rule.created",
    "catalogue.sod_rule.updated",
  ],
  participant: [
    "participant.created",
    "participant.updated",
    "participant.suspended",
    "participant.reinstated",
    "participant.status.changed",
    "participant.ncp.added",
    "participant.ncp.ended",
    "participant.ncp.renamed",
  ],
  case: [
    "case.opened",
    "case.step.started",
    "case.step.submitted",
    "case.step.approved",
    "case.step.returned",
    "case.step.auto_completed",
    "case.step.unlocked",
    "case.step.planned",
    "case.step.evidence_added",
    "case.step.note_added",
  ],
  credential: [
    "credential.client.created",
    "credential.client.approved",
    "credential.client.rejected",
    "credential.client.revoked",
    "credential.key.registered",
    "credential.key.rotated",
    "credential.key.revoked",
    "credential.key.expiry_notice",
  ],
  review: [
    "review.campaign.opened",
    "review.campaign.closed",
    "review.item.kept",
    "review.item.revoked",
    "review.item.auto_revoked",
    "review.item.flagged",
    "review.item.already_ended",
  ],
  audit: ["audit.exported", "audit.checkpoint.created", "audit.integrity.walk.started", "audit.integrity.walk.finished", "audit.integrity.walk.abandoned"],
  rollout: [
    "rollout.created",
    "rollout.milestone.moved",
    "rollout.snapshot.taken",
    "rollout.result.recorded",
    "rollout.result.confirmed",
    "rollout.checklist.confirmed",
    "rollout.fallback.proposed",
    "rollout.fallback.approved",
    "rollout.fallback.rejected",
    "rollout.freeze_exception.requested",
    "rollout.freeze_exception.approved",
    "rollout.freeze_exception.rejected",
    "rollout.freeze_exception.used",
    "rollout.stabilisation.ended",
  ],
  certification: [
    "certification.run.started",
    "certification.result.recorded",
    "certification.run.submitted",
    "certification.run.confirmed",
    "certification.run.signed_off",
    "certification.run.returned",
    "certification.run.stale",
    "certification.case.added",
    "certification.case.changed",
    "certification.case.retired",
  ],
} as const;

export type AuditArea = keyof typeof AUDIT_ACTIONS;
export type AuditAction = (typeof AUDIT_ACTIONS)[AuditArea][number];

export const ALL_AUDIT_ACTIONS: readonly AuditAction[] = Object.values(AUDIT_ACTIONS).flat();

export function isAuditAction(value: unknown): value is AuditAction {
  return typeof value === "string" && (ALL_AUDIT_ACTIONS as readonly string[]).includes(value);
}
