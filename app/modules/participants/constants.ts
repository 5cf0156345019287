/** Participant types and statuses for pages and forms (the table definitions stay in db/schema). */
export { PARTICIPANT_STATUSES, PARTICIPANT_TYPES, type ParticipantStatus, type ParticipantType } from "../../../db/schema/participants";
