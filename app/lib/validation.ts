import type { z } from "zod";
import { isMessageKey, type MessageKey } from "~/i18n/messages";
import { AppError } from "./errors";

/** Field messages from a zod error whose messages are catalogue keys; nested paths become `contacts.0.email`. */
export function fieldErrorsOf(error: z.ZodError): Record<string, MessageKey> {
  const fieldErrors: Record<string, MessageKey> = {};
  for (const issue of error.issues) {
    const field = issue.path.length ? issue.path.map(String).join(".") : "form";
    if (fieldErrors[field]) continue;
    fieldErrors[field] = isMessageKey(issue.message) ? issue.message : "validation.invalid";
  }
  return fieldErrors;
}

/** Parses service input; bad input is an AppError(400) with a message per field, and nothing is written. */
export function validate<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw new AppError(400, "error.badRequest", fieldErrorsOf(result.error));
  return result.data;
}
