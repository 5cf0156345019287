import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";

/**
 * Every route states the permission its loader and action need (deny by default): the guards in
 * app/auth/guard.server.ts attach it as `.permission`, so a hand-written loader without a guard fails here.
 */
const ROUTES_DIR = path.resolve("app/routes");
const routeFiles = readdirSync(ROUTES_DIR)
  .filter((f) => /\.(ts|tsx)$/.test(f))
  .sort();
const source = (file: string) => readFileSync(path.join(ROUTES_DIR, file), "utf8");

type RouteModule = Record<string, unknown>;
/** Every module a source file imports: `from "x"`, `import "x"` and `import("x")`. */
function importsOf(text: string): string[] {
  return [...text.matchAll(/\bfrom\s*["']([^"']+)["']|\bimport\s*\(?\s*["']([^"']+)["']/g)].map((m) => m[1] ?? m[2] ?? "");
}
const FORBIDDEN_IN_ROUTES = [/^drizzle-orm(\/|$)/, /(^|\/)db(\/|$)/, /^~db\//, /^postgres$/, /^@electric-sql\/pglite/];
const reachesDatabase = (specifier: string) => FORBIDDEN_IN_ROUTES.some((re) => re.test(specifier));

const permissionOf = (fn: unknown): unknown =>
  typeof fn === "function" ? (fn as { permission?: unknown }).permission : undefined;

/** Loader arguments of an anonymous request: no cookie, so the guard never reaches the database. */
function anonymousArgs() {
  return {
    request: new Request("http://console.invalid/"),
    params: new Proxy({}, { get: () => "X00001" }),
    context: {
      db: undefined,
      config: { cookieSecure: false, demoMode: false },
      requestId: "route-test",
      clientIp: "127.0.0.1",
      userAgent: "vitest",
    },
  };
}

describe("route permissions", () => {
  it("finds the route files", () => {
    expect(routeFiles).toEqual(expect.arrayContaining(["login.tsx", "participants._index.tsx", "activity.tsx"]));
  });

  it.each(routeFiles)("%s has a guarded loader, and a guarded action if it has one", async (file) => {
    const mod = (await import(pathToFileURL(path.join(ROUTES_DIR, file)).href)) as RouteModule;
    expect(typeof mod.loader, `${file} exports no loader`).toBe("function");
    expect(typeof permissionOf(mod.loader), `${file}: loader has no .permission (use a guard)`).toBe("string");
    if (mod.action !== undefined) {
      expect(typeof permissionOf(mod.action), `${file}: action has no .permission (use a guard)`).toBe("string");
    }
  });

  it.each(routeFiles)("%s marks its guarded exports pure, keeping server code out of the browser bundle", (file) => {
    const text = source(file);
    expect(text).toContain("export const loader = /* @__PURE__ */ ");
    if (/export (const|async function|function) action\b/.test(text)) {
      expect(text).toContain("export const action = /* @__PURE__ */ ");
    }
  });

  it.each(routeFiles)("%s marks each intent of its action pure too, or the browser bundle would call the guard", (file) => {
    const text = source(file);
    const start = text.indexOf("intentAction({");
    const map = start < 0 ? "" : text.slice(start, text.indexOf("\n});", start));
    // A call left in the map survives tree-shaking of the action, and the guard does not exist in the browser.
    expect(map.match(/^\s+"?[a-z-]+"?: (?!\/\* @__PURE__ \*\/)\w+\(/gm) ?? [], file).toEqual([]);
  });

  it("recognises an import of the database, however it is written", () => {
    const sample = [
      'import { eq } from "drizzle-orm";',
      'import {\n  participants,\n} from "../../db/schema";',
      'import type { Database } from "~db/client.server";',
      'import "../db/seed";',
      'const m = await import("drizzle-orm/pg-core");',
      'import { json } from "@remix-run/node";',
      'import { listParticipants } from "~/modules/participants/service.server";',
    ].join("\n");
    expect(importsOf(sample).filter(reachesDatabase)).toEqual([
      "drizzle-orm",
      "../../db/schema",
      "~db/client.server",
      "../db/seed",
      "drizzle-orm/pg-core",
    ]);
  });

  it.each(routeFiles)("%s does not reach the database itself", (file) => {
    const imports = importsOf(source(file));
    expect(imports.length, `${file} imports nothing?`).toBeGreaterThan(0);
    expect(imports.filter(reachesDatabase), `${file} imports the database`).toEqual([]);
  });

  it("leaves open only the sign-in page, the language switch, health checks, the JWKS and the demo mailbox; other public loaders only redirect", async () => {
    // The JWKS is public key material for the API gateway; the mailbox exists only in demo mode (404 otherwise).
    // The simulator API authenticates by the participant's simulator JWT, as the gateway it stands for does.
    const OPEN_PAGES = new Set(["login.tsx", "language.tsx", "healthz.ts", "readyz.ts", "jwks.$environment.tsx", "mailbox.tsx", "activate.$token.tsx", "simulator.v1.$resource.tsx"]);
    // A one-time link is its own credential: whoever holds it may set the password it was issued for.
    const OPEN_ACTIONS = new Set(["login.tsx", "language.tsx", "activate.$token.tsx"]);
    for (const file of routeFiles) {
      const mod = (await import(pathToFileURL(path.join(ROUTES_DIR, file)).href)) as RouteModule;
      if (mod.action !== undefined) {
        expect(permissionOf(mod.action) === "public", `${file}: action open to anyone`).toBe(OPEN_ACTIONS.has(file));
      }
      if (permissionOf(mod.loader) !== "public" || OPEN_PAGES.has(file)) continue;
      // Any other public loader may only send an anonymous visitor on (as GET /logout does), never show data.
      const answer = await (mod.loader as (args: unknown) => Promise<unknown>)(anonymousArgs());
      expect(answer instanceof Response && answer.status >= 300 && answer.status < 400, `${file}: public loader`).toBe(
        true,
      );
    }
  });

  it("asks for the capability that each page's data needs", async () => {
    const required: Record<string, string> = {
      "participants._index.tsx": "participant:read",
      "activity.tsx": "audit:read",
      "logout.tsx": "session",
      "mfa.verify.tsx": "session",
      "mfa.enrol.tsx": "session",
    };
    for (const [file, permission] of Object.entries(required)) {
      const mod = (await import(pathToFileURL(path.join(ROUTES_DIR, file)).href)) as RouteModule;
      expect(permissionOf(file === "logout.tsx" ? mod.action : mod.loader), file).toBe(permission);
      if (file.startsWith("mfa.")) expect(permissionOf(mod.action), file).toBe(permission);
    }
  });

  it("lists every route with the permission of its loader and of its action, intent by intent (the route inventory)", async () => {
    // A changed permission shows here, in review, next to every other route's.
    const inventory: Record<string, { loader: unknown; action?: unknown }> = {
      "_index.tsx": {"loader":  "authenticated"},
      "activate.$token.tsx": {"loader":  "public",  "action":  "public"},
      "activity.export.tsx": {"loader":  "audit:export"},
      "activity.tsx": {"loader":  "audit:read"},
      "catalogue.tsx": {"loader":  "catalogue:manage",  "action":  {"role":  "catalogue:manage",  "template":  "catalogue:manage",  "rule":  "catalogue:manage"}},
      "certification.$runId.export.tsx": {"loader":  "certification:read"},
      "certification.$runId.tsx": {"loader":  "certification:read",  "action":  {"record":  "certification:complete",  "submit":  "certification:create",  "confirm":  "certification:approve",  "checker-return":  "certification:approve",  "decide":  "certification:decide"}},
      "certification.$runId_.summary.tsx": {"loader":  "certification:read"},
      "certification.catalogue.tsx": {"loader":  "certification:read",  "action":  {"add":  "certification:manage",  "change":  "certification:manage",  "retire":  "certification:manage"}},
      "certification._index.tsx": {"loader":  "certification:read",  "action":  {"start":  "certification:create",  "version":  "certification:create"}},
      "credentials.$id.tsx": {"loader":  "credential:read",  "action":  {"challenge":  "credential:manage",  "register":  "credential:manage",  "revoke":  "credential:manage",  "decide":  "credential:approve",  "check":  "credential:read"}},
      "credentials._index.tsx": {"loader":  "credential:read",  "action":  "credential:create"},
      "healthz.ts": {"loader":  "public"},
      "imports.$runId.apply.tsx": {"loader":  "public",  "action":  "user:import"},
      "imports.$runId.report.tsx": {"loader":  "user:read"},
      "imports.$runId.tsx": {"loader":  "user:read"},
      "imports._index.tsx": {"loader":  "user:import",  "action":  "user:import"},
      "integrity.tsx": {"loader":  "audit:manage",  "action":  "audit:manage"},
      "jwks.$environment.tsx": {"loader":  "public"},
      "language.tsx": {"loader":  "public",  "action":  "public"},
      "login.tsx": {"loader":  "public",  "action":  "public"},
      "logout.tsx": {"loader":  "public",  "action":  "session"},
      "mailbox.tsx": {"loader":  "public"},
      "mfa.enrol.tsx": {"loader":  "session",  "action":  "session"},
      "mfa.verify.tsx": {"loader":  "session",  "action":  "session"},
      "my-work.tsx": {"loader":  "case:complete"},
      "participants.$participantId._index.tsx": {"loader":  "case:read",  "action":  {"run-checks":  "case:complete",  "suspend":  "participant:update",  "ncp-add":  "participant:update",  "ncp-end":  "participant:update",  "ncp-rename":  "participant:update",  "reinstate":  "participant:update"}},
      "participants.$participantId.edit.tsx": {"loader":  "participant:update",  "action":  "participant:update"},
      "participants.$participantId.steps.$stepKey.tsx": {"loader":  "case:read",  "action":  {"start":  "case:complete",  "submit":  "case:complete",  "approve":  "case:approve",  "return":  "case:approve",  "plan":  "case:plan",  "entry":  "case:comment"}},
      "participants._index.tsx": {"loader":  "participant:read"},
      "participants.new.tsx": {"loader":  "participant:create",  "action":  "participant:create"},
      "pipeline.tsx": {"loader":  "case:read"},
      "readyz.ts": {"loader":  "public"},
      "reports.export.tsx": {"loader":  "report:read"},
      "reports.tsx": {"loader":  "report:read"},
      "requests.tsx": {"loader":  "user:read",  "action":  {"decide":  "role:approve",  "decide-bulk":  "role:approve",  "decide-client":  "credential:approve",  "decide-waiver":  "waiver:approve"}},
      "reviews.$campaignId.export.tsx": {"loader":  "review:read"},
      "simulator.v1.$resource.tsx": {"loader":  "public"},
      "reviews.$campaignId.tsx": {"loader":  "review:read",  "action":  {"decide":  "review:decide",  "close":  "review:manage"}},
      "reviews._index.tsx": {"loader":  "review:read",  "action":  "review:manage"},
      "search.tsx": {"loader":  "authenticated"},
      "rollouts.$rolloutId._index.tsx": {"loader":  "rollout:read",  "action":  {"move":  "rollout:manage",  "snapshots":  "rollout:manage",  "propose":  "rollout:decide",  "decideFallback":  "rollout:decide",  "decideException":  "rollout:approve",  "end":  "rollout:manage"}},
      "rollouts.$rolloutId.export.tsx": {"loader":  "rollout:read"},
      "rollouts.$rolloutId.participants.$participantId._index.tsx": {"loader":  "rollout:read",  "action":  {"record":  "rollout:complete",  "confirm":  "rollout:approve",  "checklist":  "rollout:complete",  "exception":  "rollout:complete",  "snapshot":  "rollout:manage"}},
      "rollouts.$rolloutId.participants.$participantId.export.tsx": {"loader":  "rollout:read"},
      "rollouts._index.tsx": {"loader":  "rollout:read",  "action":  "rollout:manage"},
      "users.$userId.tsx": {"loader":  "user:read",  "action":  {"update":  "user:update",  "lifecycle":  "user:update",  "request":  "role:request",  "revoke":  "role:revoke",  "withdraw":  "role:request",  "decide":  "role:approve",  "waiver":  "waiver:request",  "support":  "user:support"}},
      "users._index.tsx": {"loader":  "user:read"},
      "users.new.tsx": {"loader":  "user:create",  "action":  "user:create"},
    };
    const actual: Record<string, { loader: unknown; action?: unknown }> = {};
    for (const file of routeFiles) {
      const mod = (await import(pathToFileURL(path.join(ROUTES_DIR, file)).href)) as RouteModule;
      const action = mod.action as { permission?: unknown; intents?: Record<string, unknown> } | undefined;
      actual[file] = { loader: permissionOf(mod.loader), ...(action ? { action: action.intents ?? action.permission } : {}) };
    }
    expect(actual).toEqual(inventory);
    for (const [file, route] of Object.entries(actual)) {
      if (route.action && typeof route.action === "object") {
        for (const [name, permission] of Object.entries(route.action)) expect(typeof permission, `${file} intent ${name}`).toBe("string");
      }
    }
  });
});
