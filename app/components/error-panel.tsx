import { Link, isRouteErrorResponse } from "@remix-run/react";
import { isMessageKey, type Translate } from "~/i18n/messages";

/** The one error page: 403, 404, 409 and the rest, in the reader's language, with no stack trace. */
export function ErrorPanel({ status, error, t, requestId }: { status: number; error: unknown; t: Translate; requestId?: string }) {
  let message: string;
  if (isRouteErrorResponse(error) && error.data && typeof error.data === "object" && "messageKey" in error.data) {
    const { messageKey: key, params } = error.data as { messageKey: unknown; params?: Record<string, string | number> };
    message = isMessageKey(key) ? t(key, params ?? undefined) : t("error.badRequest");
  } else if (status === 404) {
    message = t("error.notFound");
  } else if (status === 403) {
    message = t("error.forbidden");
  } else {
    // A failure outside the loaders (rendering): the id of the request that rendered the page.
    message = t("error.generic", { requestId: requestId ?? "-" });
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
