import { z } from "zod";
import { requiredText, optionalText } from "../participants/schemas";

const version = z.coerce.number({ error: "validation.invalid" }).int().positive({ error: "validation.invalid" });
const stepKey = z.string().regex(/^[a-z_]{1,60}$/, { error: "validation.invalid" });

export const transitionSchema = z.object({
  stepKey,
  action: z.enum(["start", "submit", "approve", "return"], { error: "validation.invalid" }),
  version,
  reason: optionalText(2000),
});
export interface TransitionInput {
  stepKey: string;
  action: string;
  version: number | string;
  reason?: string | null;
}

const isoDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, { error: "case.error.dueDate" })
  .refine((v) => !Number.isNaN(Date.parse(`${v}T00:00:00Z`)) && new Date(`${v}T00:00:00Z`).toISOString().startsWith(v), {
    error: "case.error.dueDate",
  });

export const stepPlanSchema = z.object({
  stepKey,
  version,
  ownerUserId: z
    .string()
    .trim()
    .max(100, { error: "validation.invalid" })
    .nullish()
    .transform((v) => (v ? v : null)),
  dueDate: z
    .union([isoDate, z.literal("")])
    .nullish()
    .transform((v) => (v ? v : null)),
});
export interface StepPlanInput {
  stepKey: string;
  version: number | string;
  ownerUserId?: string | null;
  dueDate?: string | null;
}

export const stepEntrySchema = z.object({
  stepKey,
  kind: z.enum(["note", "evidence"], { error: "validation.invalid" }),
  body: requiredText(4000),
  reference: optionalText(500),
});
export interface StepEntryInput {
  stepKey: string;
  kind: string;
  body: string;
  reference?: string | null;
}
