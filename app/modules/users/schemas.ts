import { z } from "zod";
import { optionalText, participantIdSchema, requiredText } from "../participants/schemas";

export const emailSchema = z
  .string({ error: "validation.required" })
  .trim()
  .toLowerCase()
  .max(254, { error: "validation.tooLong" })
  .pipe(z.email({ error: "validation.email" }));

export const createUserSchema = z.object({
  participantId: participantIdSchema,
  email: emailSchema,
  displayName: requiredText(200),
  roles: z.array(z.string().regex(/^[a-z_]{1,60}$/, { error: "access.error.role" })).max(20).default([]),
  justification: optionalText(2000),
});
export interface CreateUserInput {
  participantId: string;
  email: string;
  displayName: string;
  /** Roles to request (or, for an officer creating a participant's first administrators, to grant). */
  roles?: string[];
  justification?: string | null;
}

export const updateUserSchema = z.object({
  version: z.coerce.number({ error: "validation.invalid" }).int().positive({ error: "validation.invalid" }),
  displayName: requiredText(200),
});
export interface UpdateUserInput {
  version: number | string;
  displayName: string;
}

export const lifecycleSchema = z.object({
  action: z.enum(["suspend", "reinstate", "deactivate", "unlock"], { error: "validation.invalid" }),
  version: z.coerce.number({ error: "validation.invalid" }).int().positive({ error: "validation.invalid" }),
  reason: requiredText(2000).refine((v) => v.length >= 5, { error: "validation.reasonTooShort" }),
});
export interface LifecycleInput {
  action: string;
  version: number | string;
  reason: string;
}

export const userSearchSchema = z.object({
  q: z.string().trim().max(200).optional().catch(undefined),
  status: z.enum(["invited", "active", "locked", "suspended", "deactivated"]).optional().catch(undefined),
  participantId: z.string().trim().regex(/^[A-Z][0-9]{5}$/).optional().catch(undefined),
});
