import { randomBytes, randomUUID } from "node:crypto";
import path from "node:path";
import { createRequestHandler } from "@remix-run/express";
import type { AppLoadContext, ServerBuild } from "@remix-run/node";
import express from "express";
import helmet from "helmet";
import type { Logger } from "pino";
import type { Database } from "../db/client.server";
import "../app/context";
import { redactedPath } from "../app/lib/redact";
import type { AppConfig } from "../app/env.server";

export interface CreateAppOptions {
  db: Database;
  /** A read replica for the read-heavy pages (DATABASE_READ_URL); absent, they read `db`. */
  readDb?: Database;
  config: AppConfig;
  build: ServerBuild;
  logger: Logger;
  /** Project root, for the static files in public/. */
  root?: string;
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * Whether a URL is one the console can read: percent-encoding that decodes, and no NUL character (PostgreSQL
 * refuses it in text, so it would turn into a server error further down).
 */
function readableUrl(url: string): boolean {
  try {
    return !decodeURIComponent(url).includes("\u0000");
  } catch {
    return false;
  }
}
/**
 * Waits until a response has at most `limit` bytes waiting to go out (its own buffer and its socket's): true then,
 * false if the client has gone. Above the socket's high-water mark the last write returned false, so "drain" comes.
 */
function roomIn(res: express.Response, limit = 1 << 20): Promise<boolean> {
  if (res.destroyed || res.writableEnded) return Promise.resolve(false);
  if (res.writableLength <= limit) return Promise.resolve(true);
  return new Promise((resolve) => {
    const settle = (open: boolean) => () => {
      res.off("drain", onDrain);
      res.off("close", onClose);
      resolve(open);
    };
    const onDrain = settle(true);
    const onClose = settle(false);
    res.once("drain", onDrain);
    res.once("close", onClose);
  });
}
const REQUEST_ID = /^[A-Za-z0-9._-]{8,128}$/;

/**
 * The HTTP server: request ids and structured logs, security headers with a per-request CSP nonce, the Origin
 * check on every non-GET request, static files, then Remix. It keeps no state of its own, so several processes
 * can run behind one load balancer against one PostgreSQL.
 */
export function createApp({ db, readDb, config, build, logger, root = process.cwd() }: CreateAppOptions) {
  const app = express();
  app.disable("x-powered-by");
  app.set("trust proxy", config.trustProxy);

  app.use((req, res, next) => {
    const incoming = req.get("x-request-id");
    const requestId = incoming && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    res.locals.requestId = requestId;
    res.locals.cspNonce = randomBytes(16).toString("base64");
    res.setHeader("X-Request-Id", requestId);
    const started = process.hrtime.bigint();
    res.on("finish", () => {
      // The path only: query strings may carry one-time tokens.
      logger.info(
        {
          requestId,
          method: req.method,
          path: redactedPath(req.path),
          status: res.statusCode,
          durationMs: Number(process.hrtime.bigint() - started) / 1e6,
        },
        "request",
      );
    });
    next();
  });

  app.use(
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: ["'self'", (_req, res) => `'nonce-${(res as express.Response).locals.cspNonce}'`],
          styleSrc: ["'self'"],
          imgSrc: ["'self'", "data:"],
          fontSrc: ["'self'"],
          connectSrc: ["'self'"],
          formAction: ["'self'"],
          frameAncestors: ["'none'"],
          baseUri: ["'self'"],
          objectSrc: ["'none'"],
          ...(config.cookieSecure ? { upgradeInsecureRequests: [] } : {}),
        },
      },
      strictTransportSecurity: config.cookieSecure,
      crossOriginEmbedderPolicy: false,
      referrerPolicy: { policy: "same-origin" },
    }),
  );

  // A URL the console cannot read is bad input, answered 400 before any code tries to use it.
  app.use((req, res, next) => {
    if (readableUrl(req.originalUrl)) return next();
    res.status(400).type("text/plain").send("Bad request: the address is not readable.");
  });

  // Every state-changing request must come from a page of this console (SPEC §9).
  app.use((req, res, next) => {
    if (SAFE_METHODS.has(req.method)) return next();
    const origin = req.get("origin");
    const expected = config.appOrigin ?? `${req.protocol}://${req.get("host")}`;
    if (!origin || origin !== expected) {
      logger.warn({ requestId: res.locals.requestId, origin: origin ?? null, path: redactedPath(req.path) }, "origin refused");
      res.status(403).type("text/plain").send("Forbidden: this request did not come from the console.");
      return;
    }
    next();
  });

  app.use(
    "/build",
    express.static(path.join(root, "public/build"), { immutable: true, maxAge: "1y", index: false }),
  );
  app.use(express.static(path.join(root, "public"), { maxAge: "1h", index: false }));

  app.all(
    "*",
    createRequestHandler({
      build,
      // Always "production": Remix then never sends an unexpected error's message or stack to the browser
      // (SPEC §9), whatever NODE_ENV says; the console has no live-reload development server to serve.
      mode: "production",
      getLoadContext: (req, res): AppLoadContext => ({
        db,
        readDb,
        config,
        logger: logger.child({ requestId: res.locals.requestId }),
        requestId: res.locals.requestId as string,
        cspNonce: res.locals.cspNonce as string,
        clientIp: req.ip ?? req.socket.remoteAddress ?? "unknown",
        userAgent: (req.get("user-agent") ?? "").slice(0, 500),
        responseRoom: (limit) => roomIn(res, limit),
      }),
    }),
  );

  app.use((error: unknown, req: express.Request, res: express.Response, _next: express.NextFunction) => {
    logger.error({ err: error, requestId: res.locals.requestId, path: redactedPath(req.path) }, "request failed");
    if (!res.headersSent) {
      res.status(500).type("text/plain").send(`Something went wrong. Request id ${res.locals.requestId}.`);
    }
  });

  return app;
}
