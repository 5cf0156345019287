import type { AddressInfo } from "node:net";
import path from "node:path";
import { pathToFileURL } from "node:url";
import type { ServerBuild } from "@remix-run/node";
import pino from "pino";
import type { Database } from "../../db/client.server";
import { loadConfig, type AppConfig } from "../../app/env.server";
import { createApp } from "../../server/app";
import { allowReplayRewind, forgetServer, learnKey, nextCode } from "./totp";

let buildPromise: Promise<ServerBuild> | null = null;
function loadBuild(): Promise<ServerBuild> {
  buildPromise ??= import(pathToFileURL(path.resolve("build/index.js")).href) as Promise<ServerBuild>;
  return buildPromise;
}

const databases = new Map<string, Database>();

/** The database a server started here runs over, by its base URL (the browser sign-in fixture writes its session). */
export function databaseOf(baseUrl: string): Database {
  const db = databases.get(baseUrl);
  if (!db) throw new Error(`no test server at ${baseUrl}`);
  return db;
}

export interface RunningServer {
  baseUrl: string;
  config: AppConfig;
  close(): Promise<void>;
}

/**
 * The real HTTP server (express + the built Remix app) on an ephemeral port, over the given database. With `logs`,
 * every JSON log line the server writes is pushed there (LOG_LEVEL decides which).
 */
export async function startServer(db: Database, env: Record<string, string> = {}, options: { logs?: string[] } = {}): Promise<RunningServer> {
  const config = loadConfig({ NODE_ENV: "test", DEMO_MODE: "1", LOG_LEVEL: "silent", ...env });
  const logs = options.logs;
  const logger = logs ? pino({ level: config.logLevel }, { write: (line: string) => void logs.push(line) }) : pino({ level: config.logLevel });
  const app = createApp({ db, config, build: await loadBuild(), logger });
  const server = app.listen(0, "127.0.0.1");
  await new Promise<void>((resolve) => server.once("listening", () => resolve()));
  const { port } = server.address() as AddressInfo;
  const baseUrl = `http://127.0.0.1:${port}`;
  // A port can come again in a later file of the same worker: nothing learnt about an earlier server may carry over.
  forgetServer(baseUrl);
  allowReplayRewind(baseUrl, db);
  databases.set(baseUrl, db);
  return {
    baseUrl,
    config,
    close: () =>
      new Promise<void>((resolve, reject) => {
        databases.delete(baseUrl);
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

/** The authenticator key an enrolment page shows, as shown (groups of four). */
export function shownKeyIn(html: string): string {
  const key = /<code id="totp-key"[^>]*>([^<]+)<\/code>/.exec(html)?.[1];
  if (!key) throw new Error("the enrolment page shows no key");
  return key;
}

/** A minimal browser stand-in for HTTP tests: keeps cookies, sends this site's Origin on POSTs. */
export class HttpClient {
  private cookies = new Map<string, string>();
  constructor(public readonly baseUrl: string) {}

  /** Starts this client signed in with a session made for the test (test/support/sessions.ts). */
  useSession(sessionId: string): this {
    this.cookies.set("ocp_session", sessionId);
    return this;
  }

  cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  }

  private remember(response: Response) {
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const eq = pair!.indexOf("=");
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (value === "" || /max-age=0/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  /** A route's loader data for a page (`?_data=route`), which must answer 200. */
  async loaderData<T>(pathname: string, route: string): Promise<T> {
    const res = await this.get(`${pathname}${pathname.includes("?") ? "&" : "?"}_data=${encodeURIComponent(route)}`);
    if (res.status !== 200) throw new Error(`${pathname}: ${res.status}`);
    return (await res.json()) as T;
  }

  async get(pathname: string, headers: Record<string, string> = {}): Promise<Response> {
    const response = await fetch(this.baseUrl + pathname, {
      redirect: "manual",
      headers: { Cookie: this.cookieHeader(), ...headers },
    });
    this.remember(response);
    return response;
  }

  async post(
    pathname: string,
    form: Record<string, string | string[]>,
    options: { origin?: string | null; headers?: Record<string, string> } = {},
  ): Promise<Response> {
    const origin = options.origin === undefined ? this.baseUrl : options.origin;
    const headers: Record<string, string> = {
      Cookie: this.cookieHeader(),
      "Content-Type": "application/x-www-form-urlencoded",
      ...options.headers,
    };
    if (origin !== null) headers.Origin = origin;
    const response = await fetch(this.baseUrl + pathname, {
      method: "POST",
      redirect: "manual",
      headers,
      // A field given as a list is sent once per value, as a form with several ticked boxes sends it.
      body: new URLSearchParams(Object.entries(form).flatMap(([k, v]) => (Array.isArray(v) ? v.map((x) => [k, x]) : [[k, v]]))).toString(),
    });
    this.remember(response);
    return response;
  }

  /** The first step only: the password. A right one answers a redirect to the second factor. */
  async signInPassword(email: string, password: string, redirectTo?: string): Promise<Response> {
    return this.post("/login", { email, password, ...(redirectTo === undefined ? {} : { redirectTo }) });
  }

  /**
   * Signs in as a person would: the password, then a fresh code from the tests' authenticator, enrolling first if
   * the console asks (reading the key off the enrolment page). Answers the last response: a refusal of the
   * password, or the redirect to the page asked for.
   */
  async signIn(email: string, password: string, redirectTo?: string): Promise<Response> {
    const first = await this.signInPassword(email, password, redirectTo);
    const next = first.status === 302 ? new URL(first.headers.get("location") ?? "/", this.baseUrl) : null;
    if (!next?.pathname.startsWith("/mfa/")) return first;
    return this.completeSecondFactor(email, next.pathname + next.search);
  }

  /** Enters a code on the second-factor page the console sent the browser to (enrolling first if it is that page). */
  async completeSecondFactor(email: string, page: string): Promise<Response> {
    const url = new URL(page, this.baseUrl);
    if (url.pathname === "/mfa/enrol") {
      learnKey(this.baseUrl, email, shownKeyIn(await (await this.get(page)).text()));
    }
    return this.post(url.pathname + url.search, {
      code: await nextCode(this.baseUrl, email),
      redirectTo: url.searchParams.get("redirectTo") ?? "/",
    });
  }
}
