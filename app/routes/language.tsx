import { redirect } from "@remix-run/node";
import { z } from "zod";
import { publicAction, publicLoader } from "~/auth/guard.server";
import { safeRedirectPath } from "~/auth/rules";
import { localeCookie } from "~/i18n/locale.server";
import { LOCALES } from "~/i18n/messages";
import { parseForm } from "~/lib/forms";

export const loader = /* @__PURE__ */ publicLoader(async () => redirect("/"));

const LanguageForm = z.object({
  locale: z.enum(LOCALES, { error: "validation.invalid" }),
  redirectTo: z.string().optional(),
});

/** Saves the reader's language in a cookie; it is a preference, not business data, so it is not audited. */
export const action = /* @__PURE__ */ publicAction(async ({ form: submitted }) => {
  const form = parseForm(LanguageForm, submitted);
  return redirect(safeRedirectPath(form.redirectTo), {
    headers: { "Set-Cookie": await localeCookie.serialize(form.locale) },
  });
});
