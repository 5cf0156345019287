import { Form } from "@remix-run/react";
import { useI18n } from "~/i18n/use-i18n";

/** A checker's approve / reject buttons with an optional comment, posting to the page's own action. */
export function DecideForm({ requestId }: { requestId: string }) {
  const { t } = useI18n();
  return (
    <Form method="post" className="inline-form tight">
      <input type="hidden" name="intent" value="decide" />
      <input type="hidden" name="requestId" value={requestId} />
      <label className="visually-hidden" htmlFor={`comment-${requestId}`}>
        {t("requests.comment")}
      </label>
      <input id={`comment-${requestId}`} name="comment" placeholder={t("requests.comment")} />
      <button type="submit" name="decision" value="approve" className="button primary">
        {t("requests.approve")}
      </button>
      <button type="submit" name="decision" value="reject" className="button secondary">
        {t("requests.reject")}
      </button>
    </Form>
  );
}
