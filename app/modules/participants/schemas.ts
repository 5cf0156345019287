import { z } from "zod";
import { PARTICIPANT_TYPES } from "../../../db/schema/participants";

/** HKSCC participant ID: one capital letter and five digits. */
export const participantIdSchema = z.string().regex(/^[A-Z][0-9]{5}$/, { error: "validation.invalid" });

const name = z
  .string({ error: "validation.required" })
  .trim()
  .min(1, { error: "validation.required" })
  .max(200, { error: "validation.tooLong" })
  // eslint-disable-next-line no-control-regex
  .refine((v) => !/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/.test(v), { error: "validation.invalid" });

export const createParticipantSchema = z.object({
  id: participantIdSchema,
  nameEn: name,
  nameZh: name,
  type: z.enum(PARTICIPANT_TYPES, { error: "validation.invalid" }),
  bic: z
    .string()
    .trim()
    .toUpperCase()
    .regex(/^[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$/, { error: "validation.invalid" })
    .optional(),
});
export type CreateParticipantInput = z.input<typeof createParticipantSchema>;
