import type { z } from "zod";
import { AppError } from "./errors";
import { validate } from "./validation";

/**
 * Field names whose values are never sent back with a refusal or a confirmation: secrets, and pasted key material
 * (a refused key is pasted again rather than reflected).
 */
const SECRET_FIELDS = /^(password|confirmation|code|token|proof|publicKey|privateKey|jwk)$|secret/i;

/** A submitted form, read once by the guard: its text fields, any files, and what may be shown again. */
export interface Submission {
  fields: Record<string, string | string[]>;
  /** One field's value (the first when sent several times). */
  value(name: string): string | undefined;
  /** A field sent zero, one or several times, as a list. */
  list(name: string): string[];
  /** An uploaded file, or null. */
  file(name: string): File | null;
  /** The values typed, minus secrets, to put back in the form when it is refused (no JavaScript needed). */
  echo(): Record<string, string>;
}

const FORM_TYPES = ["application/x-www-form-urlencoded", "multipart/form-data"];

/**
 * Reads a request's form body. Anything that is not a form (JSON, plain text, a truncated multipart body) is bad
 * input: a 400 with a message, never a server error. Text with NUL characters is refused the same way.
 */
export async function readSubmission(request: Request): Promise<Submission> {
  const type = (request.headers.get("Content-Type") ?? "").split(";")[0]!.trim().toLowerCase();
  if (!FORM_TYPES.includes(type)) throw new AppError(400, "error.notAForm", { form: "error.notAForm" });
  let form: FormData;
  try {
    form = await request.formData();
  } catch {
    throw new AppError(400, "error.notAForm", { form: "error.notAForm" });
  }
  const fields = formFields(form);
  for (const [name, value] of Object.entries(fields)) {
    if ((Array.isArray(value) ? value : [value]).some((v) => v.includes("\u0000"))) {
      throw new AppError(400, "error.badRequest", { [name]: "validation.invalid" });
    }
  }
  return {
    fields,
    value: (name) => fieldValue(fields, name),
    list: (name) => fieldList(fields, name),
    file(name) {
      const v = form.get(name);
      return v && typeof v !== "string" ? v : null;
    },
    echo() {
      const shown: Record<string, string> = Object.create(null) as Record<string, string>;
      for (const [name, value] of Object.entries(fields)) {
        if (!SECRET_FIELDS.test(name) && typeof value === "string" && value.length <= 10_000) shown[name] = value;
      }
      return shown;
    },
  };
}

/**
 * Form fields as an object: a name sent once gives a string, a name sent several times (checkboxes,
 * repeated rows) gives an array. Files are ignored.
 */
export function formFields(form: FormData | URLSearchParams): Record<string, string | string[]> {
  // No prototype: a field named "constructor", "toString" or "__proto__" is a field like any other, not an
  // inherited function that the NUL check would call `includes` on (a 500 the fuzz found) or a prototype to replace.
  const raw: Record<string, string | string[]> = Object.create(null) as Record<string, string | string[]>;
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
export function parseForm<S extends z.ZodType>(schema: S, form: Submission): z.infer<S> {
  return validate(schema, form.fields);
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
