import type { MessageKey } from "~/i18n/messages";

/**
 * The one error type services raise for expected failures. Routes turn it into a response:
 * 400 with field messages, 403, 404 (anything outside the actor's tenant), 409 (version conflict).
 * Messages are catalogue keys, so the page shows them in the reader's language.
 */
export class AppError extends Error {
  constructor(
    public readonly status: 400 | 401 | 403 | 404 | 409 | 429,
    public readonly messageKey: MessageKey,
    public readonly fieldErrors: Partial<Record<string, MessageKey>> = {},
    public readonly params: Record<string, string | number> = {},
  ) {
    super(messageKey);
    this.name = "AppError";
  }
}

export const notFound = () => new AppError(404, "error.notFound");
export const forbidden = () => new AppError(403, "error.forbidden");
