import type { LinksFunction, MetaFunction } from "@remix-run/node";
import {
  Links,
  Meta,
  Outlet,
  Scripts,
  ScrollRestoration,
  isRouteErrorResponse,
  useLoaderData,
  useRouteError,
  useRouteLoaderData,
} from "@remix-run/react";
import { publicLoader } from "~/auth/guard.server";
import { pageHeaders } from "~/lib/headers";
import { AppShell } from "~/components/app-shell";
import { ErrorPanel } from "~/components/error-panel";
import { localeOf } from "~/i18n/locale.server";
import { translator, type Locale } from "~/i18n/messages";
import { navigationFor, type NavItem } from "~/components/navigation";

export const links: LinksFunction = () => [
  { rel: "stylesheet", href: "/styles/app.css" },
  // No icon yet: an explicit empty one keeps browsers from asking for /favicon.ico (a 404 on every first visit).
  { rel: "icon", href: "data:," },
];

// Every page below that does not say otherwise: not stored (see app/lib/headers.ts).
export const headers = pageHeaders;

export const meta: MetaFunction = () => [{ title: "OCP Onboarding Console" }];

export interface RootData {
  locale: Locale;
  cspNonce: string;
  demoMode: boolean;
  /** This request's id, as logged and sent in X-Request-Id: the error page names it. */
  requestId: string;
  viewer: {
    displayName: string;
    persona: string;
    participantId: string | null;
    navigation: NavItem[];
  } | null;
}

export const loader = /* @__PURE__ */ publicLoader(async ({ request, context, auth }): Promise<RootData> => {
  const locale = await localeOf(request);
  return {
    locale,
    cspNonce: context.cspNonce,
    demoMode: context.config.demoMode,
    requestId: context.requestId,
    viewer: auth
      ? {
          displayName: auth.actor.displayName,
          persona: auth.actor.persona,
          participantId: auth.actor.participantId,
          navigation: navigationFor(auth.actor.permissions),
        }
      : null,
  };
});

function Document({ children, locale, nonce }: { children: React.ReactNode; locale: Locale; nonce?: string }) {
  return (
    <html lang={locale}>
      <head>
        <meta charSet="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <Meta />
        <Links />
      </head>
      <body>
        {children}
        <ScrollRestoration nonce={nonce} />
        <Scripts nonce={nonce} />
      </body>
    </html>
  );
}

export default function App() {
  const data = useLoaderData<RootData>();
  return (
    <Document locale={data.locale} nonce={data.cspNonce}>
      <AppShell viewer={data.viewer} locale={data.locale}>
        <Outlet />
      </AppShell>
    </Document>
  );
}

export function ErrorBoundary() {
  const error = useRouteError();
  const data = useRouteLoaderData<RootData>("root");
  const locale = data?.locale ?? "en";
  const t = translator(locale);
  const status = isRouteErrorResponse(error) ? error.status : 500;
  return (
    <Document locale={locale} nonce={data?.cspNonce}>
      <AppShell viewer={data?.viewer ?? null} locale={locale}>
        <ErrorPanel status={status} error={error} t={t} requestId={data?.requestId} />
      </AppShell>
    </Document>
  );
}
