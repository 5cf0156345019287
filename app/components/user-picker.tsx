import { useI18n } from "~/i18n/use-i18n";
import { useEchoedValue } from "./field";

/**
 * A user picker (modules/users/picker.server.ts): a menu of the candidates, or, when a participant has more than
 * the menu shows, an email field with a hint saying why. Both post the same field, `name`.
 */
export function UserPickerField({
  id,
  name,
  label,
  hint,
  options,
  currentId,
  currentEmail,
  noneLabel,
  error,
}: {
  id: string;
  name: string;
  label: string;
  hint?: string;
  options: { id: string; name: string }[] | null;
  currentId?: string | null;
  currentEmail?: string | null;
  /** When set, the menu's first choice is "nobody" with this label, and the email field may be left empty. */
  noneLabel?: string;
  error?: string | null;
}) {
  const { t } = useI18n();
  const echoed = useEchoedValue(name);
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  const hints = [hint, options ? null : t("picker.emailHint")].filter(Boolean);
  const describedBy = [hints.length ? hintId : null, error ? errorId : null].filter(Boolean).join(" ") || undefined;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {hints.length ? (
        <p className="hint" id={hintId}>
          {hints.join(" ")}
        </p>
      ) : null}
      {options ? (
        <select id={id} name={name} defaultValue={echoed ?? currentId ?? ""} aria-invalid={error ? true : undefined} aria-describedby={describedBy}>
          {noneLabel !== undefined ? <option value="">{noneLabel}</option> : null}
          {options.map((o) => (
            <option key={o.id} value={o.id}>
              {o.name}
            </option>
          ))}
        </select>
      ) : (
        <input
          id={id}
          name={name}
          type="email"
          autoComplete="off"
          maxLength={100}
          required={noneLabel === undefined}
          defaultValue={echoed ?? currentEmail ?? ""}
          aria-invalid={error ? true : undefined}
          aria-describedby={describedBy}
        />
      )}
      {error ? (
        <p className="field-error" id={errorId}>
          {error}
        </p>
      ) : null}
    </div>
  );
}
