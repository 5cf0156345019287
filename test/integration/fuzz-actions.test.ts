import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { request } from "node:http";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { eq, gt } from "drizzle-orm";
import fc from "fast-check";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Database } from "../../db/client.server";
import { apiClients, auditEvents, users } from "../../db/schema";
import { openCampaign } from "../../app/modules/reviews/service.server";
import { checkImport } from "../../app/modules/users/import.server";
import { contextFor } from "../factories";
import { lastAuditId } from "../support/audit";
import { describeEachDatabase } from "../support/databases";
import { footprint } from "../support/footprint";
import { startServer, type RunningServer } from "../support/server";
import { createVerifiedSession } from "../support/sessions";

/**
 * Fuzz every action (issue 15, the standing harness). For each route of the inventory that has an action, and each
 * of its intents, generated hostile submissions — wrong types, empty, ~1 MB, NUL, lone surrogates and invalid UTF-8
 * bytes, impossible dates, duplicated and prototype-named fields, JSON, plain-text, truncated multipart and typeless
 * bodies, hostile path segments — are posted as each demo persona and anonymously, as a page (a document POST the
 * console renders) or as a data request. The answer is never 5xx; a refusal (4xx, or the sign-in page) appends no
 * audit event but a failed sign-in's, and a run of refusals leaves every table as it was.
 *
 * Fixed seed (FUZZ_SEED), FUZZ_RUNS cases per intent and persona (1 in CI: nine cases an intent; `FUZZ_RUNS=20 npx vitest run --project
 * integration test/integration/fuzz-actions.test.ts` for a longer run). A failure names its case and seed.
 */

const SEED = Number(process.env.FUZZ_SEED ?? 20261215);
const RUNS = Math.max(1, Number(process.env.FUZZ_RUNS ?? 1));

const ROUTES_DIR = path.resolve("app/routes");
const PERSONAS = [
  null,
  "maker@b01234.demo",
  "checker@b01234.demo",
  "maker@c00123.demo",
  "checker@c00123.demo",
  "officer@hkex.demo",
  "compliance@hkex.demo",
  "helpdesk@hkex.demo",
  "platform@hkex.demo",
] as const;

/** Bookkeeping a refusal may still write (a failed sign-in is counted and audited; a session's last-seen time). */
const BOOKKEEPING = ["sessions", "sign_in_attempts", "audit_events", "audit_chain_heads"];
const EVENTS_OF_A_REFUSAL = new Set(["auth.sign_in.failed", "auth.mfa.failed"]);

interface RouteAction {
  file: string;
  routeId: string;
  /** The path with `:name` for each parameter. */
  pattern: string;
  /** Intent names, or [null] for a single action. */
  intents: (string | null)[];
  /** Every field name the route (and the form helper it uses) reads. */
  fields: string[];
}

function fieldsIn(text: string): string[] {
  return [...text.matchAll(/(?:form\.(?:value|list|file)\(|fieldValue\(f, |fieldList\(f, |\bone\()"([A-Za-z]+)"/g)].map((m) => m[1]!);
}

/** The route inventory, as the route-permissions test lists it: every route file with an action, intent by intent. */
async function inventory(): Promise<RouteAction[]> {
  const helper = readFileSync(path.resolve("app/modules/participants/form.server.ts"), "utf8");
  const found: RouteAction[] = [];
  for (const file of readdirSync(ROUTES_DIR).filter((f) => /\.(ts|tsx)$/.test(f)).sort()) {
    const mod = (await import(pathToFileURL(path.join(ROUTES_DIR, file)).href)) as { action?: { intents?: Record<string, string> } };
    if (!mod.action) continue;
    const text = readFileSync(path.join(ROUTES_DIR, file), "utf8");
    const name = file.replace(/\.(ts|tsx)$/, "");
    const pattern =
      "/" +
      name
        .split(".")
        .filter((s) => s !== "_index")
        .map((s) => (s.startsWith("$") ? `:${s.slice(1)}` : s))
        .join("/");
    const fields = new Set([...fieldsIn(text), ...(text.includes("participantInputFromForm") ? fieldsIn(helper) : [])]);
    found.push({ file, routeId: `routes/${name}`, pattern: pattern === "/" ? "/" : pattern, intents: mod.action.intents ? Object.keys(mod.action.intents) : [null], fields: [...fields].sort() });
  }
  return found;
}

/** Every route file, with its path pattern: the pages (loaders) fuzzed with hostile queries. */
function pages(): { file: string; pattern: string }[] {
  return readdirSync(ROUTES_DIR)
    .filter((f) => /\.(ts|tsx)$/.test(f))
    .sort()
    .map((file) => {
      const name = file.replace(/\.(ts|tsx)$/, "");
      const pattern = "/" + name.split(".").filter((s) => s !== "_index").map((s) => (s.startsWith("$") ? `:${s.slice(1)}` : s)).join("/");
      return { file, pattern };
    });
}
/** The query parameters the loaders read (and the audit explorer's filters), plus hostile names. */
const QUERY_NAMES = ["participantId", "actorUserId", "userId", "action", "entityType", "entityId", "from", "to", "q", "cursor", "format", "status", "type", "report", "at", "before", "redirectTo", "signedOut", "activated", "_data", ...["constructor", "__proto__", "toString", "", "a[b]"]];

/** A value that is bytes on the wire, not text: sent as it is inside a urlencoded body. */
class Bytes {
  constructor(readonly bytes: Uint8Array) {}
}
type Value = string | Bytes;

const HUGE = "x".repeat(1 << 20);
const HOSTILE: string[] = [
  "",
  " ",
  "\t\n",
  "\u0000",
  "a\u0000b",
  "\uD800",
  "x\uDC00y",
  "\uFFFE\uFFFF",
  "99999-13-45",
  "2027-02-30",
  "0000-00-00",
  "-000001-01-01",
  "275760-09-14T00:00",
  "2026-12-02T25:61:61Z",
  "-1",
  "0",
  "1e309",
  "NaN",
  "Infinity",
  "9".repeat(40),
  "0x1F",
  "1.5",
  "true",
  "null",
  "undefined",
  "[]",
  "{}",
  "__proto__",
  "constructor",
  "' OR '1'='1",
  "'; drop table users; --",
  "<script>alert(1)</script>",
  "../../../etc/passwd",
  "//evil.example/",
  "%00",
  "%FF",
  "\r\nX-Injected: 1",
  "\u202Eevil",
  "İ",
  "１２３",
  "😀".repeat(300),
  "00000000-0000-0000-0000-000000000000",
  "B01234",
  "C00123",
  "yes",
  "on",
  "approve",
  "reject",
  "revoke",
  "suspend",
  "deactivate",
  "reinstate",
  "unlock",
  "reset_roles",
  "revoke_sessions",
  "simulator",
  "production",
  "x".repeat(10_001),
];
const INVALID_BYTES = [new Uint8Array([0xff, 0xfe]), new Uint8Array([0xc0, 0xaf]), new Uint8Array([0xed, 0xa0, 0x80]), new Uint8Array([0xe0, 0xa4])];
const HOSTILE_NAMES = ["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf", "", "a[b]", "intent", "confirmed", "x".repeat(2000)];
const HOSTILE_SEGMENTS = ["%00", "%FF", "%E0%A4%A", "x".repeat(3000), "..%2F..%2Fetc", "C00123", "00000000-0000-0000-0000-000000000000", "'%20or%201%3D1", "%F0%9F%98%80", "-1"];

const valueArb: fc.Arbitrary<Value> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...HOSTILE) },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 24 }) },
  { weight: 1, arbitrary: fc.integer().map(String) },
  { weight: 1, arbitrary: fc.double().map(String) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.integer({ min: -1, max: 300_000 }), fc.integer({ min: -1, max: 99 }), fc.integer({ min: -1, max: 99 }))
      .map(([y, m, d]) => `${y}-${String(m).padStart(2, "0")}-${String(d).padStart(2, "0")}`),
  },
  { weight: 1, arbitrary: fc.uuid() },
  { weight: 1, arbitrary: fc.constantFrom(...INVALID_BYTES).map((b) => new Bytes(b)) },
);

type BodyKind = "urlencoded" | "multipart" | "json" | "text" | "truncated" | "none";
interface Case {
  kind: BodyKind;
  /** Every known field, each with a hostile value (else only `extra`). */
  fill: boolean;
  known: Value[];
  extra: [string, Value][];
  intent: "right" | "twice" | "missing" | "hostile";
  hostileIntent: string;
  confirmed: boolean;
  huge: boolean;
  /** Replace the first path parameter with a hostile segment. */
  segment: string | null;
  /** A data request (`?_data=`), as the console's scripts send, rather than a page. */
  data: boolean;
}

function caseArb(route: RouteAction): fc.Arbitrary<Case> {
  const names = [...route.fields, ...HOSTILE_NAMES];
  return fc.record({
    kind: fc.oneof(
      { weight: 12, arbitrary: fc.constant<BodyKind>("urlencoded") },
      { weight: 2, arbitrary: fc.constant<BodyKind>("multipart") },
      { weight: 1, arbitrary: fc.constantFrom<BodyKind>("json", "text", "truncated", "none") },
    ),
    fill: fc.boolean(),
    known: fc.array(valueArb, { minLength: route.fields.length, maxLength: route.fields.length }),
    extra: fc.array(fc.tuple(fc.constantFrom(...names), valueArb), { maxLength: 4 }),
    intent: fc.oneof(
      { weight: 8, arbitrary: fc.constant<Case["intent"]>("right") },
      { weight: 1, arbitrary: fc.constantFrom<Case["intent"]>("twice", "missing", "hostile") },
    ),
    hostileIntent: fc.constantFrom("__proto__", "constructor", "toString", "", "\u0000", "x".repeat(5000)),
    confirmed: fc.boolean(),
    huge: fc.nat(11).map((n) => n === 0),
    segment: fc.oneof({ weight: 5, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.constantFrom(...HOSTILE_SEGMENTS) }),
    data: fc.boolean(),
  });
}

/** A urlencoded body, byte by byte: lone surrogates become the (invalid) UTF-8 of a surrogate, Bytes go raw. */
function urlencoded(pairs: [string, Value][]): Buffer {
  const enc = (v: Value): Buffer => {
    if (v instanceof Bytes) return Buffer.from(v.bytes);
    let out = "";
    for (let i = 0; i < v.length; i++) {
      const c = v.charCodeAt(i);
      const next = v.charCodeAt(i + 1);
      if (c >= 0xd800 && c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        out += encodeURIComponent(v[i]! + v[i + 1]!);
        i++;
      } else if (c >= 0xd800 && c <= 0xdfff) {
        out += `%ED%${(0xa0 + ((c >> 6) & 0x1f)).toString(16).toUpperCase()}%${(0x80 + (c & 0x3f)).toString(16).toUpperCase()}`;
      } else out += encodeURIComponent(v[i]!);
    }
    return Buffer.from(out);
  };
  const parts: Buffer[] = [];
  pairs.forEach(([name, value], i) => {
    if (i > 0) parts.push(Buffer.from("&"));
    parts.push(enc(name), Buffer.from("="), enc(value));
  });
  return Buffer.concat(parts);
}

const text = (v: Value) => (v instanceof Bytes ? Buffer.from(v.bytes).toString("latin1") : v);

function bodyOf(c: Case, pairs: [string, Value][]): { body: Buffer | FormData | string | null; type: string | null } {
  switch (c.kind) {
    case "urlencoded":
      return { body: urlencoded(pairs), type: "application/x-www-form-urlencoded" };
    case "multipart": {
      const form = new FormData();
      for (const [name, value] of pairs) form.append(name, text(value));
      return { body: form, type: null };
    }
    case "json":
      return { body: JSON.stringify(Object.fromEntries(pairs.map(([n, v]) => [n, text(v)]))), type: "application/json" };
    case "text":
      return { body: pairs.map(([n, v]) => `${n}=${text(v)}`).join("\n"), type: "text/plain" };
    case "truncated":
      return { body: `--b\r\nContent-Disposition: form-data; name="${pairs[0]?.[0] ?? "intent"}"\r\n\r\n${text(pairs[0]?.[1] ?? "")}`, type: "multipart/form-data; boundary=b" };
    case "none":
      return { body: urlencoded(pairs), type: null };
  }
}

function pairsOf(route: RouteAction, intent: string | null, c: Case): [string, Value][] {
  const pairs: [string, Value][] = [];
  if (intent !== null) {
    if (c.intent === "right" || c.intent === "twice") pairs.push(["intent", intent]);
    if (c.intent === "twice") pairs.push(["intent", route.intents.find((i) => i !== intent) ?? "other"]);
    if (c.intent === "hostile") pairs.push(["intent", c.hostileIntent]);
  }
  if (c.confirmed) pairs.push(["confirmed", "yes"]);
  if (c.fill) route.fields.forEach((name, i) => pairs.push([name, c.known[i]!]));
  pairs.push(...c.extra);
  if (c.huge) {
    const at = pairs.findIndex(([name]) => name !== "intent");
    if (at >= 0) pairs[at] = [pairs[at]![0], HUGE];
    else pairs.push([route.fields[0] ?? "reason", HUGE]);
  }
  return pairs;
}

/** A stable 32-bit seed for one (route, intent, persona). */
function seedFor(...parts: (string | number | null)[]): number {
  let h = SEED | 0;
  for (const ch of parts.join("|")) h = (Math.imul(h, 31) + ch.charCodeAt(0)) | 0;
  return h;
}

function describeCase(c: Case, pairs: [string, Value][]): string {
  const shown = pairs.map(([n, v]) => `${n.slice(0, 40)}=${v instanceof Bytes ? `<bytes ${Buffer.from(v.bytes).toString("hex")}>` : JSON.stringify(v.slice(0, 60))}${!(v instanceof Bytes) && v.length > 60 ? `…(${v.length})` : ""}`);
  return `${c.kind}${c.data ? " data" : " page"}${c.segment ? ` segment=${c.segment.slice(0, 30)}` : ""}: ${shown.join(" & ")}`;
}

interface Answer {
  status: number;
  location: string;
  text: string;
}

/**
 * One POST on a connection of its own (node:http, no agent): an answer given before a 1 MB body was read must not
 * leave a kept-alive connection half-used for the next case (fetch's pool then waits for the server to drop it).
 */
async function post(url: string, headers: Record<string, string>, body: Buffer | FormData | string | null, method = "POST"): Promise<Answer> {
  let bytes: Buffer;
  const all = { ...headers };
  if (body instanceof FormData) {
    const encoded = new Response(body);
    all["Content-Type"] = encoded.headers.get("Content-Type")!;
    bytes = Buffer.from(await encoded.arrayBuffer());
  } else bytes = typeof body === "string" ? Buffer.from(body) : (body ?? Buffer.alloc(0));
  if (method === "POST") all["Content-Length"] = String(bytes.length);
  const target = new URL(url);
  return new Promise<Answer>((resolve, reject) => {
    const req = request({ host: target.hostname, port: target.port, path: url.slice(target.origin.length), method, headers: all, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, location: String(res.headers.location ?? ""), text: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    // The server may answer (and close) before reading all of a huge body: the answer is what counts.
    req.on("error", reject);
    if (method === "POST") req.end(bytes);
    else req.end();
  });
}

describeEachDatabase("fuzz every action", { demo: true }, (use) => {
  let db: Database;
  let server: RunningServer;
  const logs: string[] = [];
  const sessions = new Map<string, string>();
  const params: Record<string, string> = {};
  let routes: RouteAction[] = [];

  beforeAll(async () => {
    db = use().db;
    routes = await inventory();
    server = await startServer(db, { LOG_LEVEL: "error" }, { logs });
    for (const email of PERSONAS) if (email) sessions.set(email, await createVerifiedSession(db, email));
    const maker = await contextFor(db, "maker@b01234.demo");
    const [sam] = await db.select({ id: users.id }).from(users).where(eq(users.email, "sam.lau@harbourview.example"));
    const [client] = await db.select({ id: apiClients.id }).from(apiClients).where(eq(apiClients.participantId, "B01234"));
    const run = await checkImport(maker, { participantId: "B01234", fileName: "fuzz.csv", text: "email,display_name\nfuzz@harbourview.example,Fuzz Target\n" });
    const campaign = await openCampaign(await contextFor(db, "compliance@hkex.demo"), { name: "Fuzz target", participantIds: ["B01234"], deadline: "2099-12-31", deadlinePolicy: "flag" });
    Object.assign(params, { userId: sam!.id, participantId: "B01234", stepKey: "users_and_roles", id: client!.id, runId: run.id, campaignId: campaign.id, token: randomBytes(32).toString("base64url") });
  });
  afterAll(async () => {
    await server?.close();
  });

  it("finds every action of the route inventory", () => {
    const intents = routes.reduce((n, r) => n + r.intents.length, 0);
    expect(routes.map((r) => r.file)).toEqual(expect.arrayContaining(["login.tsx", "users.$userId.tsx", "requests.tsx", "credentials.$id.tsx"]));
    expect(intents).toBeGreaterThanOrEqual(40);
  });

  // Found by this fuzz: a field named like a member of Object.prototype reached the NUL check as an inherited
  // function (`v.includes is not a function`), a 500 on every action, signed in or not.
  it("takes fields named constructor, toString, __proto__ for fields like any other", async () => {
    const body = "constructor=a&toString=b&__proto__=c&__proto__=d&hasOwnProperty=e&valueOf=f";
    const maker = { Origin: server.baseUrl, "Content-Type": "application/x-www-form-urlencoded", Cookie: `ocp_session=${sessions.get("maker@b01234.demo")}` };
    const mark = await lastAuditId(db);
    const before = await footprint(db, BOOKKEEPING);
    for (const [path, headers, form] of [
      ["/login", { Origin: server.baseUrl, "Content-Type": "application/x-www-form-urlencoded" }, body],
      ["/language", { Origin: server.baseUrl, "Content-Type": "application/x-www-form-urlencoded" }, body],
      [`/users/${params.userId}`, maker, `intent=update&${body}`],
      ["/requests", maker, `intent=decide&${body}`],
      ["/users/new", maker, body],
    ] as const) {
      const res = await post(server.baseUrl + path, headers, form);
      expect(res.status, path).toBeLessThan(500);
    }
    const added = await db.select({ action: auditEvents.action }).from(auditEvents).where(gt(auditEvents.id, mark));
    expect(added.filter((e) => !EVENTS_OF_A_REFUSAL.has(e.action))).toEqual([]);
    expect(await footprint(db, BOOKKEEPING)).toEqual(before);
  });

  it(`never answers 5xx to a page asked for with a hostile query or path (seed ${SEED})`, async () => {
    const failures: string[] = [];
    const query = fc.array(fc.tuple(fc.constantFrom(...QUERY_NAMES), valueArb), { minLength: 1, maxLength: 5 });
    const segment = fc.oneof({ weight: 3, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.constantFrom(...HOSTILE_SEGMENTS) });
    let n = 0;
    for (const page of pages()) {
      for (const [pairs, hostileSegment] of fc.sample(fc.tuple(query, segment), { seed: seedFor(page.file, "GET"), numRuns: 3 * RUNS })) {
        const persona = PERSONAS[n++ % PERSONAS.length]!;
        let first = true;
        const path = page.pattern.replace(/:(\w+)/g, (_m, name: string) => {
          const value = first && hostileSegment ? hostileSegment : encodeURIComponent(params[name] ?? "x");
          first = false;
          return value;
        });
        const url = `${server.baseUrl}${path}?${urlencoded(pairs.map(([k, v]) => [k, typeof v === "string" && v.length > 2000 ? v.slice(0, 2000) : v])).toString("latin1").replace(/[^\x21-\x7e]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`)}`;
        const headers: Record<string, string> = persona ? { Cookie: `ocp_session=${sessions.get(persona)}` } : {};
        const logged = logs.length;
        try {
          const res = await post(url, headers, null, "GET");
          if (res.status >= 500) failures.push(`${res.status} for GET ${url.slice(server.baseUrl.length, server.baseUrl.length + 300)} as ${persona ?? "anonymous"}\n    ${logs.slice(logged).join(" ").slice(0, 500)}`);
        } catch (error) {
          failures.push(`no answer (${String(error)}) for GET ${url.slice(0, 300)}`);
        }
      }
    }
    expect(failures, `${failures.length} of ${n} pages`).toEqual([]);
  }, Math.max(120_000, RUNS * 60_000));

  it(`never answers 5xx, and a refusal changes nothing (seed ${SEED}, ${RUNS} case(s) per intent and persona)`, async () => {
    const failures: string[] = [];
    let sent = 0;
    for (const route of routes) {
      for (const intent of route.intents) {
        let baseline = await footprint(db, BOOKKEEPING);
        let onlyRefusals = true;
        for (const persona of PERSONAS) {
          const cases = fc.sample(caseArb(route), { seed: seedFor(route.file, intent, persona), numRuns: RUNS });
          for (const c of cases) {
            const pairs = pairsOf(route, intent, c);
            let first = true;
            const url =
              route.pattern.replace(/:(\w+)/g, (_m, name: string) => {
                const segment = first && c.segment ? c.segment : encodeURIComponent(params[name] ?? "x");
                first = false;
                return segment;
              }) + (c.data ? `?_data=${encodeURIComponent(route.routeId)}` : "");
            const { body, type } = bodyOf(c, pairs);
            const headers: Record<string, string> = { Origin: server.baseUrl };
            if (type) headers["Content-Type"] = type;
            if (persona) headers.Cookie = `ocp_session=${sessions.get(persona)}`;
            const mark = await lastAuditId(db);
            const logged = logs.length;
            const what = `${route.file} ${intent ?? "(action)"} as ${persona ?? "anonymous"}: ${describeCase(c, pairs)}`;
            sent++;
            let res: Answer;
            let answer: string;
            try {
              res = await post(server.baseUrl + url, headers, body);
              answer = res.text;
            } catch (error) {
              failures.push(`no answer (${String((error as Error).cause ?? error)}) for ${what}`);
              continue;
            }
            if (res.status >= 500) {
              failures.push(`${res.status} for ${what}\n    ${logs.slice(logged).join(" ").slice(0, 600) || answer.slice(0, 300)}`);
              continue;
            }
            const location = res.location;
            // The sign-in page (not signing out's "signed out" notice), the second factor, or a question before acting.
            const refused = res.status >= 400 || /^\/login(\?redirectTo=|$)|^\/mfa\//.test(location) || answer.includes('"confirm":{');
            if (!refused) onlyRefusals = false;
            if (refused && (await lastAuditId(db)) !== mark) {
              const added = await db.select({ action: auditEvents.action }).from(auditEvents).where(gt(auditEvents.id, mark));
              const unexpected = added.filter((e) => !EVENTS_OF_A_REFUSAL.has(e.action));
              if (unexpected.length > 0) failures.push(`refused ${res.status} but appended ${unexpected.map((e) => e.action).join(", ")}: ${what}`);
            }
            // Signing out ends the persona's session: the next case starts with a new one.
            if (persona && route.file === "logout.tsx") sessions.set(persona, await createVerifiedSession(db, persona));
          }
        }
        const after = await footprint(db, BOOKKEEPING);
        if (onlyRefusals) {
          const changed = Object.keys(after).filter((t) => after[t] !== baseline[t]);
          if (changed.length > 0) failures.push(`${route.file} ${intent ?? "(action)"}: only refusals, yet ${changed.join(", ")} changed`);
        }
        baseline = after;
      }
    }
    expect(failures, `${failures.length} of ${sent} requests`).toEqual([]);
  }, Math.max(240_000, RUNS * 150_000));
});
