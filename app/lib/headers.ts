import type { HeadersFunction } from "@remix-run/node";

/** Console pages show people's access and their credentials: no browser or proxy may keep a copy. */
export const NO_STORE = "private, no-store";

/**
 * The headers of a console page: never stored, and an action's Retry-After (a throttled sign-in) kept, which a
 * document POST without JavaScript would otherwise lose.
 */
export const pageHeaders: HeadersFunction = ({ actionHeaders }) => {
  const headers = new Headers({ "Cache-Control": NO_STORE });
  const retryAfter = actionHeaders.get("Retry-After");
  if (retryAfter) headers.set("Retry-After", retryAfter);
  return headers;
};
