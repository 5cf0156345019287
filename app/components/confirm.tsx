import { Form, Link, useActionData, useLocation } from "@remix-run/react";
import { useEffect, useRef } from "react";
import type { ConfirmationData } from "~/auth/guard.server";
import { useI18n } from "~/i18n/use-i18n";

function asConfirmation(data: unknown): ConfirmationData["confirm"] | null {
  if (data && typeof data === "object" && "confirm" in data) return (data as ConfirmationData).confirm;
  return null;
}

/**
 * The confirmation step of a destructive action: names the object and the consequence, lists what it removes, and
 * posts the same values again with `confirmed=yes`. A plain form and a link, so it works without JavaScript; focus
 * moves to it so a keyboard or screen-reader user hears the question first. A page that asks in more than one place
 * names each place's `intents`, so the question shows once, next to the form that asked it.
 */
export function ConfirmPanel({ intents }: { intents?: readonly string[] } = {}) {
  const { t } = useI18n();
  const data = asConfirmation(useActionData());
  const asked = data && (!intents || intents.includes(data.intent)) ? data : null;
  const location = useLocation();
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    if (asked) heading.current?.focus();
  }, [asked]);
  if (!asked) return null;
  return (
    <section className="panel confirm-panel" aria-labelledby="confirm-title" role="alertdialog" aria-describedby="confirm-message">
      <h2 id="confirm-title" tabIndex={-1} ref={heading}>
        {t(asked.titleKey, asked.params)}
      </h2>
      <p id="confirm-message">{t(asked.messageKey, asked.params)}</p>
      {(asked.lists ?? []).map((list) => (
        <div key={list.headingKey}>
          <h3>{t(list.headingKey)}</h3>
          {list.items.length > 0 ? (
            <ul>
              {list.items.map((item) => (
                <li key={item}>{item}</li>
              ))}
            </ul>
          ) : (
            <p className="muted">{t(list.emptyKey ?? "confirm.none")}</p>
          )}
        </div>
      ))}
      <Form method="post" className="inline-form">
        {Object.entries(asked.values)
          .filter(([name]) => name !== "intent" && name !== "confirmed")
          .map(([name, value]) => (
          <input key={name} type="hidden" name={name} value={value} />
        ))}
        <input type="hidden" name="intent" value={asked.intent} />
        <input type="hidden" name="confirmed" value="yes" />
        <button type="submit" className="button danger">
          {t(asked.confirmKey, asked.params)}
        </button>
        <Link to={location.pathname + location.search} className="button secondary" replace>
          {t("confirm.cancel")}
        </Link>
      </Form>
    </section>
  );
}
