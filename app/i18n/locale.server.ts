import { createCookie } from "@remix-run/node";
import { LOCALE_COOKIE, isLocale, negotiateLocale, type Locale } from "./messages";

/** The reader's language choice persists for a year, signed in or not. */
export const localeCookie = createCookie(LOCALE_COOKIE, {
  path: "/",
  httpOnly: true,
  sameSite: "lax",
  maxAge: 60 * 60 * 24 * 365,
});

export async function localeOf(request: Request): Promise<Locale> {
  const saved: unknown = await localeCookie.parse(request.headers.get("Cookie"));
  return negotiateLocale(isLocale(saved) ? saved : undefined, request.headers.get("Accept-Language"));
}
