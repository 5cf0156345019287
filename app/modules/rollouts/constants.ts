/** The rollouts' choices for pages and forms (the table definitions stay in db/schema). */
export { FALLBACK_DECISIONS, FREEZE_EXCEPTION_KINDS, VERIFICATION_OUTCOMES, type VerificationOutcome } from "../../../db/schema/rollouts";
export { MILESTONES, NOT_READY_REASONS, type Milestone, type NotReadyReason } from "./rules";
