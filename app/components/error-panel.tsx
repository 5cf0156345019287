import { Link, isRouteErrorResponse } from "@remix-run/react";
import { isMessageKey, type Translate } from "~/i18n/messages";

/** The one error page: 403, 404, 409 and the rest, in the reader's language, with no stack trace. */
export function ErrorPanel({ status, error, t }: { status: number; error: unknown; t: Translate }) {
  let message: string;
  if (isRouteErrorResponse(error) && error.data && typeof error.data === "object" && "messageKey" in error.data) {
    const key = (error.data as { messageKey: unknown }).messageKey;
    message = isMessageKey(key) ? t(key) : t("error.badRequest");
  } else if (status === 404) {
    message = t("error.notFound");
  } else if (status === 403) {
    message = t("error.forbidden");
  } else {
    message = t("error.generic", { requestId: "-" });
  }
  return (
    <section className="panel error-panel" aria-labelledby="error-title">
      <h1 id="error-title">{t("error.title")}</h1>
      <p role="alert">
        <strong>{status}</strong> — {message}
      </p>
      <p>
        <Link to="/">{t("error.backHome")}</Link>
      </p>
    </section>
  );
}
