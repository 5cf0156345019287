import { useI18n } from "~/i18n/use-i18n";
import type { MessageKey } from "~/i18n/messages";

/** A labelled input whose error message is tied to it for screen readers. */
export function TextField({
  name,
  label,
  type = "text",
  error,
  defaultValue,
  autoComplete,
  required,
  autoFocus,
}: {
  name: string;
  label: string;
  type?: "text" | "email" | "password";
  error?: MessageKey;
  defaultValue?: string;
  autoComplete?: string;
  required?: boolean;
  autoFocus?: boolean;
}) {
  const { t } = useI18n();
  const id = `field-${name}`;
  const errorId = `${id}-error`;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        name={name}
        type={type}
        defaultValue={defaultValue}
        autoComplete={autoComplete}
        required={required}
        autoFocus={autoFocus}
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? errorId : undefined}
      />
      {error ? (
        <p className="field-error" id={errorId}>
          {t(error)}
        </p>
      ) : null}
    </div>
  );
}
