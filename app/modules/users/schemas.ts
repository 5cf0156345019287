import { z } from "zod";
import { optionalText, participantIdSchema, requiredText } from "../participants/schemas";
import { LOCALES } from "~/i18n/messages";

export const emailSchema = z
  .string({ error: "validation.required" })
  .trim()
  .toLowerCase()
  .max(254, { error: "validation.tooLong" })
  .pipe(z.email({ error: "validation.email" }));

/** The language of a user's mail: one of the console's two. */
export const localeSchema = z.enum(LOCALES, { error: "validation.invalid" });

export const createUserSchema = z.object({
  participantId: participantIdSchema,
  email: emailSchema,
  displayName: requiredText(200),
  roles: z.array(z.string().regex(/^[a-z_]{1,60}$/, { error: "access.error.role" })).max(20).default([]),
  justification: optionalText(2000),
  locale: localeSchema.default("en"),
});
export interface CreateUserInput {
  participantId: string;
  email: string;
  displayName: string;
  /** Roles to request (or, for an officer creating a participant's first administrators, to grant). */
  roles?: string[];
  justification?: string | null;
  /** The language the user's mail is written in (the invitation first). */
  locale?: string;
}

export const updateUserSchema = z.object({
  version: z.coerce.number({ error: "validation.invalid" }).int().positive({ error: "validation.invalid" }),
  displayName: requiredText(200),
  // Absent: unchanged.
  locale: localeSchema.optional(),
});
export interface UpdateUserInput {
  version: number | string;
  displayName: string;
  locale?: string;
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
