import type { MetaFunction } from "@remix-run/node";
import { DEFAULT_LOCALE, translator, type Locale, type MessageKey } from "~/i18n/messages";

/**
 * A page's <title> in the reader's language (WCAG 2.4.2): "Page · OCP Onboarding Console". The language comes from
 * the root loader, which every page has.
 */
export function titled(key: MessageKey): MetaFunction {
  return ({ matches }) => {
    const root = matches.find((m) => m.id === "root")?.data as { locale?: Locale } | undefined;
    const t = translator(root?.locale ?? DEFAULT_LOCALE);
    return [{ title: `${t(key)} · ${t("app.name")}` }];
  };
}
