import type { z } from "zod";
import { AppError } from "./errors";
import { isMessageKey, type MessageKey } from "~/i18n/messages";

/**
 * Parses a form with a zod schema whose messages are catalogue keys. Bad input becomes an AppError(400) with
 * one message per field, which the guard hands back to the form; nothing is written.
 */
export function parseForm<S extends z.ZodType>(schema: S, form: FormData | URLSearchParams): z.infer<S> {
  const raw: Record<string, unknown> = {};
  for (const [name, value] of form.entries()) {
    if (typeof value !== "string") continue;
    raw[name] = value;
  }
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  const fieldErrors: Record<string, MessageKey> = {};
  for (const issue of result.error.issues) {
    const field = String(issue.path[0] ?? "form");
    if (fieldErrors[field]) continue;
    fieldErrors[field] = isMessageKey(issue.message) ? issue.message : "validation.invalid";
  }
  throw new AppError(400, "error.badRequest", fieldErrors);
}
