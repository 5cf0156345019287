import type { Logger } from "pino";
import type { Database } from "../db/client.server";
import type { AppConfig } from "./env.server";

/** What the HTTP server hands every loader and action (server/app.ts builds it per request). */
export interface AppContext {
  db: Database;
  /**
   * The read replica (DATABASE_READ_URL) when one is configured; read-heavy loaders read through readerOf(), which
   * falls back to `db`. Never for writes, sessions or anything a write must see at once.
   */
  readDb?: Database;
  config: AppConfig;
  logger: Logger;
  requestId: string;
  cspNonce: string;
  clientIp: string;
  userAgent: string;
  /**
   * Backpressure for a streamed response: resolves true once the response holds at most `limit` bytes not yet taken
   * by the client, false once the client has gone. Remix's Node adapter writes every chunk a stream gives it without
   * waiting, so a long stream asks this before producing its next chunk. Absent outside the HTTP server.
   */
  responseRoom?: (limit?: number) => Promise<boolean>;
}

/** The database for a read-heavy page's queries: the read replica when configured, else the primary. */
export function readerOf(context: Pick<AppContext, "db" | "readDb">): Database {
  return context.readDb ?? context.db;
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
