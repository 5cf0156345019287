import { createContext, useContext, type ReactNode } from "react";
import { Form, useActionData, type FormProps } from "@remix-run/react";
import { LOCALES } from "~/i18n/messages";
import { useI18n } from "~/i18n/use-i18n";
import { asFailure } from "./form-feedback";

/**
 * The intent of the form a field is in, on a page with several forms: what a refusal sends back is shown again
 * only in the form that was sent.
 */
export const FormIntent = createContext<string | null>(null);

/**
 * What was typed in this field when the form came back refused (so that without JavaScript nothing is lost), or
 * undefined. Secrets are never sent back (app/lib/forms.ts).
 */
export function useEchoedValue(name: string): string | undefined {
  const failure = asFailure(useActionData());
  const intent = useContext(FormIntent);
  const values = failure?.values;
  if (!values || !(name in values)) return undefined;
  if ((values.intent ?? null) !== intent) return undefined;
  return values[name];
}

/** A labelled input whose error message is tied to it for screen readers. */
export function TextField({
  name,
  label,
  type = "text",
  error,
  hint,
  defaultValue,
  autoComplete,
  required,
  autoFocus,
  maxLength,
  inputMode,
}: {
  name: string;
  label: string;
  type?: "text" | "email" | "password" | "date" | "tel";
  /** The message to show (already translated). */
  error?: string;
  hint?: string;
  defaultValue?: string;
  autoComplete?: string;
  required?: boolean;
  autoFocus?: boolean;
  maxLength?: number;
  inputMode?: "numeric" | "text" | "email";
}) {
  const { t } = useI18n();
  const echoed = useEchoedValue(name);
  const id = `field-${name}`;
  const errorId = `${id}-error`;
  const hintId = `${id}-hint`;
  const describedBy = [hint ? hintId : null, error ? errorId : null].filter(Boolean).join(" ") || undefined;
  return (
    <div className="field">
      <label htmlFor={id}>
        {label}
        {required ? null : <span className="muted"> ({t("participants.optional")})</span>}
      </label>
      {hint ? (
        <p className="hint" id={hintId}>
          {hint}
        </p>
      ) : null}
      <input
        id={id}
        name={name}
        type={type}
        defaultValue={echoed ?? defaultValue}
        autoComplete={autoComplete}
        required={required}
        autoFocus={autoFocus}
        data-autofocus={autoFocus ? "" : undefined}
        maxLength={maxLength}
        inputMode={inputMode}
        aria-invalid={error ? true : undefined}
        aria-describedby={describedBy}
      />
      <FieldError id={errorId} error={error} />
    </div>
  );
}

/** A field's error message, tied to its control by `id` (aria-describedby), or nothing. */
export function FieldError({ id, error }: { id: string; error?: string | null }) {
  return error ? (
    <p className="field-error" id={id}>
      {error}
    </p>
  ) : null;
}

/**
 * A form of a page with several: posts its `intent`, and keeps what a refusal sends back for its own fields.
 */
export function IntentForm({ intent, children, ...props }: { intent: string; children: ReactNode } & Omit<FormProps, "method" | "children">) {
  return (
    <Form method="post" {...props}>
      <input type="hidden" name="intent" value={intent} />
      <FormIntent.Provider value={intent}>{children}</FormIntent.Provider>
    </Form>
  );
}

/** The language of the console's mail to a user (users.locale): one of the console's two, named in its own language. */
export function LocaleField({ defaultValue, error }: { defaultValue: string; error?: string | null }) {
  const { t } = useI18n();
  return (
    <div className="field compact">
      <label htmlFor="field-locale">{t("users.locale")}</label>
      <select id="field-locale" name="locale" defaultValue={defaultValue} aria-invalid={error ? true : undefined} aria-describedby={error ? "field-locale-error" : undefined}>
        {LOCALES.map((l) => (
          <option key={l} value={l} lang={l}>
            {t(`lang.${l}`)}
          </option>
        ))}
      </select>
      {error ? (
        <p className="field-error" id="field-locale-error">
          {error}
        </p>
      ) : null}
    </div>
  );
}
