import { z } from "zod";
import { PARTICIPANT_TYPES } from "../../../db/schema/participants";
import { isCalendarDay } from "~/lib/hong-kong-time";
import { isValidBic } from "./bic";

/** HKSCC participant ID: one capital letter and five digits. */
export const participantIdSchema = z
  .string({ error: "validation.required" })
  .trim()
  .regex(/^[A-Z][0-9]{5}$/, { error: "participant.error.idFormat" });

// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

export const requiredText = (max: number) =>
  z
    .string({ error: "validation.required" })
    .trim()
    .min(1, { error: "validation.required" })
    .max(max, { error: "validation.tooLong" })
    .refine((v) => !CONTROL_CHARS.test(v), { error: "validation.invalid" });

export const optionalText = (max: number) =>
  z
    .string()
    .trim()
    .max(max, { error: "validation.tooLong" })
    .refine((v) => !CONTROL_CHARS.test(v), { error: "validation.invalid" })
    .nullish()
    .transform((v) => (v ? v : null));

/** A value that may come once or several times in a form (checkboxes, multi-selects). */
const list = <T extends z.ZodType>(item: T) =>
  z.preprocess((v) => (v === undefined || v === "" ? [] : Array.isArray(v) ? v : [v]), z.array(item));

export const contactSchema = z.object({
  name: requiredText(200),
  email: z.email({ error: "validation.email" }).max(254, { error: "validation.tooLong" }),
  phone: z
    .string()
    .trim()
    .regex(/^[+0-9 ()-]{0,30}$/, { error: "participant.error.phone" })
    .nullish()
    .transform((v) => (v ? v : null)),
  title: optionalText(200),
});
export interface ContactInput {
  name: string;
  email: string;
  phone?: string | null;
  title?: string | null;
}

const participantFields = {
  nameEn: requiredText(200),
  nameZh: requiredText(200),
  type: z.enum(PARTICIPANT_TYPES, { error: "participant.error.type" }),
  bic: z
    .string()
    .trim()
    .toUpperCase()
    .nullish()
    .transform((v) => (v ? v : null))
    .refine((v) => v === null || isValidBic(v), { error: "participant.error.bic" }),
  services: list(z.string().regex(/^[a-z_]{1,40}$/, { error: "validation.invalid" })),
  contacts: z.array(contactSchema).max(10, { error: "validation.tooLong" }).default([]),
};

/** What a caller passes; the schema decides what is valid (strings from a form, or typed values from code). */
export interface ParticipantDetailsInput {
  nameEn: string;
  nameZh: string;
  type: string;
  bic?: string | null;
  services?: string[] | string;
  contacts?: ContactInput[];
}

export const createParticipantSchema = z.object({ id: participantIdSchema, ...participantFields });
export type CreateParticipantInput = ParticipantDetailsInput & { id: string };

export const updateParticipantSchema = z.object({
  version: z.coerce.number({ error: "validation.invalid" }).int().positive({ error: "validation.invalid" }),
  ...participantFields,
});
export type UpdateParticipantInput = ParticipantDetailsInput & { version: number | string };

export const suspensionSchema = z.object({
  version: z.coerce.number({ error: "validation.invalid" }).int().positive({ error: "validation.invalid" }),
  reason: requiredText(1000).refine((v) => v.length >= 5, { error: "validation.reasonTooShort" }),
});
export type SuspensionInput = z.input<typeof suspensionSchema>;

/**
 * An exchange participant's ID, as a GCP's clearing agreement names its NCP: one capital letter and five digits
 * (E01001). NCPs are not clearing participants of this console, so the ID is theirs on the exchange, not one this
 * console issues (docs/decisions/019-non-clearing-participants.md).
 */
export const exchangeParticipantIdSchema = z
  .string({ error: "validation.required" })
  .trim()
  .toUpperCase()
  .regex(/^[A-Z][0-9]{5}$/, { error: "ncp.error.idFormat" });

/** A Hong Kong calendar day typed as YYYY-MM-DD. */
const day = z
  .string({ error: "validation.required" })
  .trim()
  .min(1, { error: "validation.required" })
  .refine((v) => isCalendarDay(v), { error: "ncp.error.date" });

const agreementRef = {
  participantId: z.string().max(20),
  agreementId: z.coerce.number({ error: "validation.invalid" }).int({ error: "validation.invalid" }).positive({ error: "validation.invalid" }).max(2 ** 52, { error: "validation.invalid" }),
  version: z.coerce.number({ error: "validation.invalid" }).int().positive({ error: "validation.invalid" }),
};

export const addNcpSchema = z
  .object({
    participantId: z.string().max(20),
    ncpId: exchangeParticipantIdSchema,
    nameEn: requiredText(200),
    nameZh: requiredText(200),
    startsOn: day,
    endsOn: z
      .string()
      .trim()
      .nullish()
      .transform((v) => (v ? v : null))
      .refine((v) => v === null || isCalendarDay(v), { error: "ncp.error.date" }),
  })
  .refine((v) => v.endsOn === null || v.endsOn >= v.startsOn, { path: ["endsOn"], error: "ncp.error.endsBeforeStart" });

export const endNcpSchema = z.object({ ...agreementRef, endsOn: day });

export const renameNcpSchema = z.object({ ...agreementRef, nameEn: requiredText(200), nameZh: requiredText(200) });
