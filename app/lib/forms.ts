import type { z } from "zod";
import { validate } from "./validation";

/**
 * Form fields as an object: a name sent once gives a string, a name sent several times (checkboxes,
 * repeated rows) gives an array. Files are ignored.
 */
export function formFields(form: FormData | URLSearchParams): Record<string, string | string[]> {
  const raw: Record<string, string | string[]> = {};
  for (const [name, value] of form.entries()) {
    if (typeof value !== "string") continue;
    const existing = raw[name];
    if (existing === undefined) raw[name] = value;
    else raw[name] = Array.isArray(existing) ? [...existing, value] : [existing, value];
  }
  return raw;
}

/**
 * Parses a form with a zod schema whose messages are catalogue keys. Bad input becomes an AppError(400) with
 * one message per field, which the guard hands back to the form; nothing is written.
 */
export function parseForm<S extends z.ZodType>(schema: S, form: FormData | URLSearchParams): z.infer<S> {
  return validate(schema, formFields(form));
}

/** One field's value from formFields: the first when it was sent several times. */
export function fieldValue(fields: Record<string, string | string[]>, name: string): string | undefined {
  const v = fields[name];
  return Array.isArray(v) ? v[0] : v;
}

/** A field sent zero, one or several times, as a list. */
export function fieldList(fields: Record<string, string | string[]>, name: string): string[] {
  const v = fields[name];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}
