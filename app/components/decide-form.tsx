import { Form } from "@remix-run/react";
import { useI18n } from "~/i18n/use-i18n";

interface ActionButton {
  label: string;
  /** Sent as name=value, for forms with several outcomes (approve / reject, keep / revoke). */
  value?: string;
  primary?: boolean;
}

/**
 * A one-line form in a table row or list item: hidden fields naming the object, one labelled text box (a reason or a
 * comment) and its buttons, posting to the page's own action.
 */
export function InlineReasonForm({
  id,
  hidden,
  inputName,
  label,
  buttonName = "decision",
  buttons,
}: {
  id: string;
  hidden: Record<string, string>;
  inputName: string;
  label: string;
  buttonName?: string;
  buttons: ActionButton[];
}) {
  const inputId = `${inputName}-${id}`;
  return (
    <Form method="post" className="inline-form tight">
      {Object.entries(hidden).map(([name, value]) => (
        <input key={name} type="hidden" name={name} value={value} />
      ))}
      <label className="visually-hidden" htmlFor={inputId}>
        {label}
      </label>
      <input id={inputId} name={inputName} placeholder={label} />
      {buttons.map((b) => (
        <button key={b.label} type="submit" name={b.value ? buttonName : undefined} value={b.value} className={b.primary ? "button primary" : "button secondary"}>
          {b.label}
        </button>
      ))}
    </Form>
  );
}

/** A checker's approve / reject buttons with an optional comment. */
export function DecideForm({ requestId }: { requestId: string }) {
  const { t } = useI18n();
  return (
    <InlineReasonForm
      id={requestId}
      hidden={{ intent: "decide", requestId }}
      inputName="comment"
      label={t("requests.comment")}
      buttons={[
        { label: t("requests.approve"), value: "approve", primary: true },
        { label: t("requests.reject"), value: "reject" },
      ]}
    />
  );
}
