import { useI18n } from "~/i18n/use-i18n";
import { counted } from "~/i18n/plural";
import { isMessageKey, type MessageKey } from "~/i18n/messages";

/** What an action answers when it refuses (see FailureData in app/auth/guard.server.ts). */
export interface Failure {
  ok: false;
  messageKey: MessageKey;
  fieldErrors: Partial<Record<string, MessageKey>>;
  params: Record<string, string | number>;
  /** The values as typed (never secrets), to put back in the form. */
  values: Record<string, string>;
}

export function asFailure(data: unknown): Failure | null {
  if (data && typeof data === "object" && "ok" in data && (data as { ok: unknown }).ok === false) {
    const f = data as Partial<Failure>;
    if (isMessageKey(f.messageKey)) {
      return { ok: false, messageKey: f.messageKey, fieldErrors: f.fieldErrors ?? {}, params: f.params ?? {}, values: f.values ?? {} };
    }
  }
  return null;
}

/** The form-level message of a refusal, announced to screen readers. */
export function FormMessage({ failure }: { failure: Failure | null }) {
  const { t, locale } = useI18n();
  if (!failure) return null;
  const fieldCount = Object.keys(failure.fieldErrors).length;
  // With field messages, the form-level line just says to look at them.
  const text = fieldCount > 0 && failure.messageKey === "error.badRequest" ? counted(t, locale, "form.checkFields", fieldCount) : t(failure.messageKey, failure.params);
  return (
    <p role="alert" className="form-error">
      {text}
    </p>
  );
}

/** A field's message, with the refusal's parameters (for example the GCP that already clears an NCP on those days). */
export function fieldMessage(failure: Failure | null, name: string, t: ReturnType<typeof useI18n>["t"]): string | undefined {
  const key = failure?.fieldErrors[name];
  return key ? t(key, failure?.params) : undefined;
}
