import { z } from "zod";
import { calendarDay } from "~/lib/hong-kong-time";
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

const isoDate = calendarDay("case.error.dueDate");

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
