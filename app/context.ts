import type { Logger } from "pino";
import type { Database } from "../db/client.server";
import type { AppConfig } from "./env.server";

/** What the HTTP server hands every loader and action (server/app.ts builds it per request). */
export interface AppContext {
  db: Database;
  config: AppConfig;
  logger: Logger;
  requestId: string;
  cspNonce: string;
  clientIp: string;
  userAgent: string;
}

// Remix declares AppLoadContext empty for apps to extend; an empty extension is how that is done.
/* eslint-disable @typescript-eslint/no-empty-object-type */
declare module "@remix-run/node" {
  interface AppLoadContext extends AppContext {}
}
declare module "@remix-run/server-runtime" {
  interface AppLoadContext extends AppContext {}
}
/* eslint-enable @typescript-eslint/no-empty-object-type */
