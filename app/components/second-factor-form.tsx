import { Form, useActionData, useNavigation, useSearchParams } from "@remix-run/react";
import { TextField } from "~/components/field";
import { asFailure, FormMessage, fieldMessage } from "~/components/form-feedback";
import { useI18n } from "~/i18n/use-i18n";
import type { MessageKey } from "~/i18n/messages";

/** The code form of both second-factor pages, and the way out: signing out. */
export function SecondFactorForm({ submitKey }: { submitKey: MessageKey }) {
  const { t } = useI18n();
  const failure = asFailure(useActionData());
  const navigation = useNavigation();
  const [params] = useSearchParams();
  return (
    <>
      <Form method="post" noValidate className="stacked-form">
        <FormMessage failure={failure && failure.messageKey !== "error.badRequest" ? failure : null} />
        <input type="hidden" name="redirectTo" value={params.get("redirectTo") ?? "/"} />
        <TextField
          name="code"
          label={t("mfa.code")}
          hint={t("mfa.codeHint")}
          autoComplete="one-time-code"
          inputMode="numeric"
          maxLength={9}
          required
          autoFocus
          error={fieldMessage(failure, "code", t)}
        />
        <button type="submit" className="button primary" disabled={navigation.state === "submitting"}>
          {t(submitKey)}
        </button>
      </Form>
      <Form method="post" action="/logout" className="sign-out-form">
        <button type="submit" className="button secondary">
          {t("mfa.cancel")}
        </button>
      </Form>
    </>
  );
}
