import { useI18n } from "~/i18n/use-i18n";

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
        defaultValue={defaultValue}
        autoComplete={autoComplete}
        required={required}
        autoFocus={autoFocus}
        data-autofocus={autoFocus ? "" : undefined}
        maxLength={maxLength}
        inputMode={inputMode}
        aria-invalid={error ? true : undefined}
        aria-describedby={describedBy}
      />
      {error ? (
        <p className="field-error" id={errorId}>
          {error}
        </p>
      ) : null}
    </div>
  );
}
