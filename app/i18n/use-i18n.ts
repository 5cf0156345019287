import { useRouteLoaderData } from "@remix-run/react";
import { DEFAULT_LOCALE, formatHongKongTime, translator, type Locale, type Translate } from "./messages";

interface RootI18nData {
  locale: Locale;
}

const NUMBER_FORMATS = { en: new Intl.NumberFormat("en-GB"), "zh-HK": new Intl.NumberFormat("zh-HK") } as const;

/** The reader's language and a translator, from the root loader (English where it has not run). */
export function useI18n(): { locale: Locale; t: Translate; time: (value: Date | string) => string; number: (n: number) => string } {
  const data = useRouteLoaderData<RootI18nData>("root");
  const locale = data?.locale ?? DEFAULT_LOCALE;
  return { locale, t: translator(locale), time: (value) => formatHongKongTime(value, locale), number: (n) => NUMBER_FORMATS[locale].format(n) };
}
