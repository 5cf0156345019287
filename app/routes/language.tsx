import { redirect } from "@remix-run/node";
import { z } from "zod";
import { publicAction, publicLoader, serviceContext } from "~/auth/guard.server";
import { safeRedirectPath } from "~/auth/rules";
import { localeCookie } from "~/i18n/locale.server";
import { LOCALES } from "~/i18n/messages";
import { parseForm } from "~/lib/forms";
import { setOwnLocale } from "~/modules/users/service.server";

export const loader = /* @__PURE__ */ publicLoader(async () => redirect("/"));

const LanguageForm = z.object({
  locale: z.enum(LOCALES, { error: "validation.invalid" }),
  redirectTo: z.string().optional(),
});

/**
 * Saves the reader's language in a cookie (signed in or not). A signed-in user's choice is also kept on the user
 * (users.setOwnLocale, audited as any change to a user), so that the console's mail to them is in that language.
 */
export const action = /* @__PURE__ */ publicAction(async (args) => {
  const form = parseForm(LanguageForm, args.form);
  if (args.auth) await setOwnLocale(serviceContext(args, args.auth), { locale: form.locale });
  return redirect(safeRedirectPath(form.redirectTo), {
    headers: { "Set-Cookie": await localeCookie.serialize(form.locale) },
  });
});
