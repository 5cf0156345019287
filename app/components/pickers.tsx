import { nameIn } from "~/i18n/messages";
import { useI18n } from "~/i18n/use-i18n";
import { FieldError, useEchoedValue } from "./field";

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
      <FieldError id={errorId} error={error} />
    </div>
  );
}

/**
 * An officer's participant picker (participantPicker): a menu of the participants, or, for a market with more than
 * the menu shows, a field for the participant's ID. Both post `participantId`.
 */
export function ParticipantPickerField({
  id,
  label,
  options,
  error,
}: {
  id: string;
  label: string;
  options: { id: string; nameEn: string; nameZh: string }[] | null;
  error?: string | null;
}) {
  const { t, locale } = useI18n();
  const echoed = useEchoedValue("participantId");
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  const describedBy = [options ? null : hintId, error ? errorId : null].filter(Boolean).join(" ") || undefined;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {options ? null : (
        <p className="hint" id={hintId}>
          {t("picker.participantHint")}
        </p>
      )}
      {options ? (
        <select id={id} name="participantId" defaultValue={echoed} aria-invalid={error ? true : undefined} aria-describedby={describedBy}>
          {options.map((p) => (
            <option key={p.id} value={p.id}>
              {p.id} · {nameIn(locale, p)}
            </option>
          ))}
        </select>
      ) : (
        <input
          id={id}
          name="participantId"
          required
          maxLength={20}
          autoComplete="off"
          spellCheck={false}
          defaultValue={echoed ?? ""}
          aria-invalid={error ? true : undefined}
          aria-describedby={describedBy}
        />
      )}
      <FieldError id={errorId} error={error} />
    </div>
  );
}
