import { Form, NavLink, useLocation } from "@remix-run/react";
import { useEffect, useRef } from "react";
import { useI18n } from "~/i18n/use-i18n";
import { LOCALES, type Locale, type MessageKey } from "~/i18n/messages";
import type { NavItem } from "./navigation";

interface Viewer {
  displayName: string;
  persona: string;
  participantId: string | null;
  navigation: NavItem[];
}

function LanguageSwitch({ locale }: { locale: Locale }) {
  const { t } = useI18n();
  const location = useLocation();
  return (
    <Form method="post" action="/language" className="language-switch">
      <input type="hidden" name="redirectTo" value={location.pathname + location.search} />
      <label htmlFor="language-select">{t("lang.label")}</label>
      <select id="language-select" name="locale" defaultValue={locale} key={locale}>
        {LOCALES.map((l) => (
          <option key={l} value={l} lang={l}>
            {t(`lang.${l}` as MessageKey)}
          </option>
        ))}
      </select>
      <button type="submit" className="button secondary">
        {t("lang.switch")}
      </button>
    </Form>
  );
}

export function AppShell({
  viewer,
  locale,
  children,
}: {
  viewer: Viewer | null;
  locale: Locale;
  children: React.ReactNode;
}) {
  const { t } = useI18n();
  const location = useLocation();
  const mainRef = useRef<HTMLElement>(null);
  const firstRender = useRef(true);
  // After a client-side navigation, focus moves to the new page's content, as a full page load would start over;
  // on a page made for one field (the second-factor code), to that field.
  useEffect(() => {
    if (firstRender.current) {
      firstRender.current = false;
      return;
    }
    const field = mainRef.current?.querySelector<HTMLElement>("[data-autofocus]");
    (field ?? mainRef.current)?.focus();
  }, [location.pathname]);
  return (
    <>
      <a className="skip-link" href="#main">
        {t("nav.skipToContent")}
      </a>
      <header className="app-header">
        <div className="brand">
          <span className="brand-name">{t("app.name")}</span>
          <span className="brand-owner">{t("app.owner")}</span>
        </div>
        <LanguageSwitch locale={locale} />
        {viewer ? (
          <Form method="get" action="/search" role="search" className="header-search">
            <label htmlFor="header-search" className="visually-hidden">
              {t("search.label")}
            </label>
            <input id="header-search" name="q" type="search" placeholder={t("nav.search")} maxLength={100} />
            <button type="submit" className="button secondary">
              {t("search.submit")}
            </button>
          </Form>
        ) : null}
        {viewer ? (
          <div className="viewer">
            <span>
              {t("nav.signedInAs", { name: viewer.displayName })} ·{" "}
              {t(`persona.${viewer.persona}` as MessageKey)}
              {viewer.participantId ? ` · ${viewer.participantId}` : ""}
            </span>
            <Form method="post" action="/logout">
              <button type="submit" className="button secondary">
                {t("nav.signOut")}
              </button>
            </Form>
          </div>
        ) : null}
      </header>
      {viewer ? (
        <nav className="app-nav" aria-label={t("nav.main")}>
          <ul>
            {viewer.navigation.map((item) => (
              <li key={item.to}>
                <NavLink to={item.to} end={item.to === "/"}>
                  {t(item.labelKey)}
                </NavLink>
              </li>
            ))}
          </ul>
        </nav>
      ) : null}
      <main id="main" tabIndex={-1} ref={mainRef}>
        {children}
      </main>
    </>
  );
}
