import { z } from "zod";
import { endOfHongKongDay, isCalendarDay, parseInstant, startOfHongKongDay } from "~/lib/hong-kong-time";
import { optionalText, requiredText } from "../participants/schemas";

/**
 * A grant's window edge: a Hong Kong date (a "valid from" day starts at its first moment, a "valid to" day lasts to
 * its last) or an ISO date-time; a date that is not on the calendar, or outside 1900–9999, is refused.
 */
const dateTime = (edge: "from" | "to") =>
  z
    .string()
    .trim()
    .nullish()
    .transform((v) => (v ? v : null))
    .refine((v) => v === null || (v.length === 10 ? isCalendarDay(v) : parseInstant(v) !== null), { error: "access.error.date" })
    .transform((v) => (v === null ? null : v.length === 10 ? (edge === "from" ? startOfHongKongDay(v) : endOfHongKongDay(v)) : parseInstant(v)!));

export const grantRequestSchema = z
  .object({
    userId: z.string({ error: "validation.required" }).min(1, { error: "validation.required" }).max(100),
    roleCode: z.string({ error: "validation.required" }).regex(/^[a-z_]{1,60}$/, { error: "access.error.role" }),
    validFrom: dateTime("from"),
    validTo: dateTime("to"),
    justification: optionalText(2000),
  })
  .refine((v) => !v.validFrom || !v.validTo || v.validTo > v.validFrom, { error: "access.error.window", path: ["validTo"] });
export interface GrantRequestInput {
  userId: string;
  roleCode: string;
  /** A date (YYYY-MM-DD, Hong Kong) or an ISO date-time. */
  validFrom?: string | null;
  validTo?: string | null;
  justification?: string | null;
}

export const decisionSchema = z.object({
  decision: z.enum(["approve", "reject"], { error: "validation.invalid" }),
  comment: optionalText(2000),
});
export interface DecisionInput {
  decision: string;
  comment?: string | null;
}

const reason = requiredText(2000).refine((v) => v.length >= 5, { error: "validation.reasonTooShort" });

export const revokeSchema = z.object({ reason });
export interface RevokeInput {
  reason: string;
}

export const waiverRequestSchema = z.object({
  userId: z.string().min(1, { error: "validation.required" }).max(100),
  ruleId: z.string().regex(/^[a-z0-9_]{1,80}$/, { error: "validation.invalid" }),
  reason,
});
export interface WaiverRequestInput {
  userId: string;
  ruleId: string;
  reason: string;
}

export const ticketSchema = z.object({
  ticketRef: z
    .string({ error: "support.error.ticket" })
    .trim()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._/#-]{2,39}$/, { error: "support.error.ticket" }),
  reason,
});
export interface TicketInput {
  ticketRef: string;
  reason: string;
}
