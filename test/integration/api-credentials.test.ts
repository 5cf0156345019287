import { generateKeyPairSync, randomBytes, type KeyObject } from "node:crypto";
import { and, asc, eq, inArray } from "drizzle-orm";
import { SignJWT, calculateJwkThumbprint, type JWK } from "jose";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { openDatabase } from "../../db/client.server";
import { apiClients, apiKeys, auditEvents, keyExpiryNotices, mailOutbox, type ApiClient, type ApiEnvironment, type ApiKey } from "../../db/schema";
import { DEMO_PASSWORD } from "../../app/modules/demo";
import { systemContext, type ServiceContext } from "../../app/modules/context.server";
import { CLAIM_RULES, POP_AUDIENCE } from "../../app/modules/credentials/claim-rules";
import {
  checkToken,
  createClient,
  decideClient,
  getClient,
  issueChallenge,
  jwks,
  listClients,
  registerKey,
  revokeKey,
  sendExpiryNotices,
  type RegisterKeyInput,
} from "../../app/modules/credentials/service.server";
import { runJobs } from "../../app/modules/jobs/service.server";
import type { AppError } from "../../app/lib/errors";
import type { MessageKey } from "../../app/i18n/messages";
import { advanceCase, contextFor, createConsoleUser } from "../factories";
import { refusal } from "../support/access";
import { TestClock, MINUTE } from "../support/clock";
import { describeEachDatabase } from "../support/databases";
import { rsaKeyPair } from "../support/keys";
import { auditSince, hongKongDay, lastAuditId, TEST_PASSWORD } from "../support/onboarding";
import { HttpClient, startServer, type RunningServer } from "../support/server";

/**
 * API credentials through the services and over HTTP, on both databases (SPEC §5): proof of possession, key
 * lifetimes, rotation with its overlap, revocation, production approval, the JWKS, expiry notices, and who may see
 * and do what. Keys are made with node's crypto and every JWT is signed with jose.
 */

const DAY = 24 * 3600 * 1000;
const CLIENT_ROUTE = encodeURIComponent("routes/credentials.$id");
const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "k", "oth"];
const B01234_ADMINISTRATORS = ["checker@b01234.demo", "maker@b01234.demo"];

type KeyKind = "ec" | "rsa";
interface KeyPair {
  publicKey: KeyObject;
  privateKey: KeyObject;
  alg: "ES256" | "RS256";
}

/** Everything secret this file makes: none of it may ever appear in an audit event or a mail. */
const secrets: string[] = [];

function keyPair(kind: KeyKind = "ec"): KeyPair {
  const pair = kind === "ec" ? generateKeyPairSync("ec", { namedCurve: "P-256" }) : rsaKeyPair(2048);
  secrets.push(pair.privateKey.export({ type: "pkcs8", format: "pem" }).toString());
  const jwk = pair.privateKey.export({ format: "jwk" }) as JWK;
  secrets.push(jwk.d!);
  return { ...pair, alg: kind === "ec" ? "ES256" : "RS256" };
}

const publicPem = (pair: KeyPair) => pair.publicKey.export({ type: "spki", format: "pem" }).toString();
const kidOf = (pair: KeyPair) => calculateJwkThumbprint(pair.publicKey.export({ format: "jwk" }) as JWK, "sha256");

/** A proof of possession as the page asks for it: nonce, aud = the console, sub = the client, ten minutes. */
async function proofOf(pair: KeyPair, clientId: string, nonce: string, claims: Record<string, unknown> = {}): Promise<string> {
  const proof = await new SignJWT({ nonce, ...claims })
    .setProtectedHeader({ alg: pair.alg })
    .setAudience(typeof claims.aud === "string" ? claims.aud : POP_AUDIENCE)
    .setSubject(typeof claims.sub === "string" ? claims.sub : clientId)
    .setIssuedAt()
    .setExpirationTime("10m")
    .sign(pair.privateKey);
  secrets.push(proof);
  return proof;
}

/** A token for the gateway of the client's environment, signed with the key. */
async function tokenFor(pair: KeyPair, client: Pick<ApiClient, "clientId" | "environment">, kid: string): Promise<string> {
  const token = await new SignJWT({})
    .setProtectedHeader({ alg: pair.alg, kid, typ: "JWT" })
    .setIssuer(client.clientId)
    .setSubject(client.clientId)
    .setAudience(CLAIM_RULES[client.environment].audience)
    .setIssuedAt()
    .setExpirationTime("2m")
    .setJti(randomBytes(12).toString("hex"))
    .sign(pair.privateKey);
  secrets.push(token);
  return token;
}

function fieldErrorsOf(error: AppError): Record<string, MessageKey | undefined> {
  return error.fieldErrors;
}

const failedKeys = (result: Awaited<ReturnType<typeof checkToken>>) => result.findings.filter((f) => !f.ok).map((f) => f.messageKey);

describeEachDatabase("API credentials", { demo: true }, (use) => {
  let server: RunningServer;
  let clock: TestClock | null = null;
  const signedIn = new Map<string, HttpClient>();

  beforeAll(async () => {
    server = await startServer(use().db);
  });
  afterAll(() => server.close());
  afterEach(() => {
    clock?.stop();
    clock = null;
  });

  const as = (email: string) => contextFor(use().db, email);
  async function http(email: string): Promise<HttpClient> {
    let client = signedIn.get(email);
    if (!client) {
      client = new HttpClient(server.baseUrl);
      expect((await client.signIn(email, DEMO_PASSWORD)).status, `sign-in of ${email}`).toBe(302);
      signedIn.set(email, client);
    }
    return client;
  }

  async function newClient(ctx: ServiceContext, environment: ApiEnvironment = "simulator", name = `Client ${randomBytes(3).toString("hex")}`): Promise<ApiClient> {
    return createClient(ctx, { participantId: ctx.actor.participantId!, environment, name, ownerUserId: ctx.actor.userId! });
  }

  /** Registers a new key through a fresh challenge and a correct proof; the rest of the input may be overridden. */
  async function registerNew(ctx: ServiceContext, client: ApiClient, options: Partial<RegisterKeyInput> & { pair?: KeyPair } = {}): Promise<{ key: ApiKey; pair: KeyPair }> {
    const pair = options.pair ?? keyPair();
    const { nonce } = await issueChallenge(ctx, { clientId: client.id });
    const key = await registerKey(ctx, { clientId: client.id, publicKey: publicPem(pair),
      proof: await proofOf(pair, client.clientId, nonce),
      nonce,
      expiresOn: hongKongDay(300),
      ...options, });
    return { key, pair };
  }

  const jwksKids = async (environment: ApiEnvironment) => (await jwks(use().db, environment)).keys.map((k) => k.kid).sort();

  async function seededClient(): Promise<ApiClient> {
    const [client] = await use().db.select().from(apiClients).where(eq(apiClients.name, "Trade feed (simulator)"));
    return client!;
  }

  it("publishes per environment exactly the keys valid now of active clients, public members only", async () => {
    clock = new TestClock().start();
    const maker = await as("maker@b01234.demo");
    const seeded = await seededClient();
    const [seededKey] = await use().db.select().from(apiKeys).where(eq(apiKeys.apiClientId, seeded.id));
    // The demo's other keys: the simulator clients its certifications ran with, C00123's production client.
    const demoSimulator = await jwksKids("simulator");
    const demoProduction = await jwksKids("production");
    expect(demoSimulator).toContain(seededKey!.kid);
    expect(await jwksKids("test")).toEqual([]);

    const simulator = await newClient(maker, "simulator");
    const valid = await registerNew(maker, simulator);
    const rsa = await registerNew(maker, simulator, { pair: keyPair("rsa") });
    const revoked = await registerNew(maker, simulator);
    await revokeKey(maker, { keyId: revoked.key.id, reason: "Laptop with the key was lost" });
    const shortLived = await registerNew(maker, simulator, { expiresOn: hongKongDay(2) });
    const test = await newClient(maker, "test");
    const testKey = await registerNew(maker, test);
    expect(await jwksKids("simulator")).toEqual([...demoSimulator, valid.key.kid, rsa.key.kid, shortLived.key.kid].sort());

    // Three days later the short-lived key has expired and left the JWKS by itself.
    clock.advance(3 * DAY);
    const published = await jwks(use().db, "simulator");
    expect(published.keys.map((k) => k.kid).sort()).toEqual([...demoSimulator, valid.key.kid, rsa.key.kid].sort());
    expect(await jwksKids("test")).toEqual([testKey.key.kid]);
    expect(await jwksKids("production")).toEqual(demoProduction);
    // Standard JWKS members; the kid is the key's thumbprint; nothing private.
    for (const key of [...published.keys, ...(await jwks(use().db, "test")).keys]) {
      expect(key.use).toBe("sig");
      expect(key.kid).toBe(await calculateJwkThumbprint(key as JWK, "sha256"));
      for (const member of PRIVATE_MEMBERS) expect(key).not.toHaveProperty(member);
    }
    expect(published.keys.find((k) => k.kid === rsa.key.kid)).toMatchObject({ kty: "RSA", alg: "RS256", e: "AQAB" });
    expect(published.keys.find((k) => k.kid === valid.key.kid)).toMatchObject({ kty: "EC", crv: "P-256", alg: "ES256" });
    expect(published.keys.find((k) => k.kid === valid.key.kid)).toEqual({ ...(valid.pair.publicKey.export({ format: "jwk" }) as JWK), kid: valid.key.kid, alg: "ES256", use: "sig" });
  });

  it("serves the JWKS over HTTP to anyone, as a JWK set, and 404 for an unknown environment", async () => {
    const anonymous = new HttpClient(server.baseUrl);
    const res = await anonymous.get("/jwks/simulator");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/jwk-set\+json/);
    expect(res.headers.get("cache-control")).toBe("public, max-age=60");
    const body = (await res.json()) as { keys: Record<string, unknown>[] };
    expect(body.keys.map((k) => k.kid).sort()).toEqual(await jwksKids("simulator"));
    const text = JSON.stringify(body);
    for (const member of PRIVATE_MEMBERS) expect(text).not.toContain(`"${member}":`);
    expect(((await (await anonymous.get("/jwks/test.json")).json()) as { keys: unknown[] }).keys).toEqual((await jwks(use().db, "test")).keys);
    expect((await anonymous.get("/jwks/staging")).status).toBe(404);
  });

  it("refuses to register a key without a proof of possession, each time with a message on the field", async () => {
    const { db } = use();
    const maker = await as("maker@b01234.demo");
    const client = await newClient(maker);
    const other = await newClient(maker);
    const pair = keyPair();
    const before = await lastAuditId(db);
    const { nonce } = await issueChallenge(maker, { clientId: client.id });
    const base = { publicKey: publicPem(pair), nonce, expiresOn: hongKongDay(300) };
    const refusedOn = async (input: RegisterKeyInput, field: string, messageKey: MessageKey) => {
      const error = await refusal(registerKey(maker, { clientId: client.id, ...input }), 400, "error.badRequest");
      expect(fieldErrorsOf(error)).toEqual({ [field]: messageKey });
    };

    await refusedOn({ ...base, proof: "" }, "proof", "validation.required");
    await refusedOn({ ...base, proof: "not a signed token" }, "proof", "credentials.pop.unreadable");
    // Signed over another challenge of the same client, or over a nonce the console never issued.
    const { nonce: second } = await issueChallenge(maker, { clientId: client.id });
    await refusedOn({ ...base, proof: await proofOf(pair, client.clientId, second) }, "proof", "credentials.pop.nonce");
    await refusedOn({ ...base, nonce: randomBytes(24).toString("base64url"), proof: await proofOf(pair, client.clientId, nonce) }, "proof", "credentials.pop.challenge");
    // Another client's challenge does not register a key here.
    const { nonce: othersNonce } = await issueChallenge(maker, { clientId: other.id });
    await refusedOn({ ...base, nonce: othersNonce, proof: await proofOf(pair, client.clientId, othersNonce) }, "proof", "credentials.pop.challenge");
    // Signed with another key than the one being registered.
    await refusedOn({ ...base, proof: await proofOf(keyPair(), client.clientId, nonce) }, "proof", "credentials.pop.signature");
    await refusedOn({ ...base, proof: await proofOf(keyPair("rsa"), client.clientId, nonce) }, "proof", "credentials.pop.alg");
    // Addressed to someone else, or naming another client.
    await refusedOn({ ...base, proof: await proofOf(pair, client.clientId, nonce, { aud: CLAIM_RULES.simulator.audience }) }, "proof", "credentials.pop.claims");
    await refusedOn({ ...base, proof: await proofOf(pair, client.clientId, nonce, { sub: other.clientId }) }, "proof", "credentials.pop.claims");
    // Nothing was registered and nothing audited; the challenge is still good for a correct proof.
    expect(await db.select().from(apiKeys).where(eq(apiKeys.apiClientId, client.id))).toEqual([]);
    expect((await auditSince(db, before)).map((e) => e.action)).toEqual([]);
    const key = await registerKey(maker, { clientId: client.id, ...base, proof: await proofOf(pair, client.clientId, nonce) });
    expect(key.kid).toBe(await kidOf(pair));
    // A used challenge cannot be used again, not even for another key with its own correct proof.
    const next = keyPair();
    await refusedOn({ ...base, publicKey: publicPem(next), proof: await proofOf(next, client.clientId, nonce) }, "proof", "credentials.pop.challenge");
    const events = await auditSince(db, before);
    expect(events.map((e) => e.action)).toEqual(["credential.key.registered"]);
    expect(events[0]!.metadata).toMatchObject({ clientId: client.clientId, proofOfPossession: true });
  });

  it("refuses a challenge older than fifteen minutes", async () => {
    clock = new TestClock().start();
    const maker = await as("maker@b01234.demo");
    const client = await newClient(maker);
    const pair = keyPair();
    const { nonce, expiresAt } = await issueChallenge(maker, { clientId: client.id });
    expect(expiresAt.getTime() - clock.current().getTime()).toBe(15 * MINUTE);
    clock.advance(16 * MINUTE);
    const error = await refusal(
      registerKey(maker, { clientId: client.id, publicKey: publicPem(pair), proof: await proofOf(pair, client.clientId, nonce), nonce, expiresOn: hongKongDay(300) }),
      400,
      "error.badRequest",
    );
    expect(fieldErrorsOf(error)).toEqual({ proof: "credentials.pop.challenge" });
  });

  it("keeps a key's validity within 13 months and refuses keys that are not RSA ≥ 2048 or EC P-256, or already registered", async () => {
    const maker = await as("maker@b01234.demo");
    const client = await newClient(maker);
    const refusedOn = async (options: Partial<RegisterKeyInput> & { pair?: KeyPair }, field: string, messageKey: MessageKey) => {
      const error = await refusal(registerNew(maker, client, options), 400, "error.badRequest");
      expect(fieldErrorsOf(error)).toEqual({ [field]: messageKey });
      return error;
    };
    const tooLate = await refusedOn({ expiresOn: hongKongDay(13 * 31 + 2) }, "expiresOn", "credentials.error.expiryTooLate");
    expect(tooLate.params).toEqual({ months: 13 });
    await refusedOn({ expiresOn: hongKongDay(-1) }, "expiresOn", "credentials.error.expiryPast");
    await refusedOn({ expiresOn: "31/12/2026" }, "expiresOn", "access.error.date");
    const small = rsaKeyPair(1024);
    const tooShort = await refusedOn({ publicKey: small.publicKey.export({ type: "spki", format: "pem" }).toString() }, "publicKey", "credentials.key.rsaTooShort");
    expect(tooShort.params).toEqual({ bits: 1024 });
    const p384 = generateKeyPairSync("ec", { namedCurve: "P-384" });
    await refusedOn({ publicKey: p384.publicKey.export({ type: "spki", format: "pem" }).toString() }, "publicKey", "credentials.key.curve");
    const pair = keyPair();
    await refusedOn({ pair, publicKey: pair.privateKey.export({ type: "pkcs8", format: "pem" }).toString() }, "publicKey", "credentials.key.private");
    expect(await use().db.select().from(apiKeys).where(eq(apiKeys.apiClientId, client.id))).toEqual([]);

    // Twelve months is fine; the same key twice is not.
    const { key } = await registerNew(maker, client, { pair, expiresOn: hongKongDay(365) });
    expect(key.expiresAt.toISOString()).toBe(new Date(`${hongKongDay(365)}T23:59:59.999+08:00`).toISOString());
    await refusedOn({ pair }, "publicKey", "credentials.error.duplicate");
    // As a JWK it is the same key (same thumbprint): still a duplicate.
    await refusedOn({ pair, publicKey: JSON.stringify(pair.publicKey.export({ format: "jwk" })) }, "publicKey", "credentials.error.duplicate");
  });

  it("rotates with an overlap: both keys are published and accepted until the overlap date, then only the new one", async () => {
    clock = new TestClock().start();
    const { db } = use();
    const maker = await as("maker@b01234.demo");
    const client = await newClient(maker);
    const old = await registerNew(maker, client, { expiresOn: hongKongDay(200) });
    const other = await newClient(maker);
    const othersKey = await registerNew(maker, other);

    const refusedOn = async (options: Partial<RegisterKeyInput>, field: string, messageKey: MessageKey) => {
      const error = await refusal(registerNew(maker, client, options), 400, "error.badRequest");
      expect(fieldErrorsOf(error)).toEqual({ [field]: messageKey });
      return error;
    };
    // The overlap is required, in the future and at most 30 days away; only this client's active keys rotate.
    expect((await refusedOn({ replacesKeyId: old.key.id }, "overlapUntil", "credentials.error.overlap")).params).toEqual({ days: 30 });
    await refusedOn({ replacesKeyId: old.key.id, overlapUntil: hongKongDay(31) }, "overlapUntil", "credentials.error.overlap");
    await refusedOn({ replacesKeyId: old.key.id, overlapUntil: hongKongDay(-1) }, "overlapUntil", "credentials.error.overlap");
    await refusedOn({ replacesKeyId: othersKey.key.id, overlapUntil: hongKongDay(10) }, "replacesKeyId", "credentials.error.rotateWhat");
    await refusedOn({ replacesKeyId: "no-such-key", overlapUntil: hongKongDay(10) }, "replacesKeyId", "credentials.error.rotateWhat");

    const before = await lastAuditId(db);
    const overlapUntil = hongKongDay(10);
    const fresh = await registerNew(maker, client, { replacesKeyId: old.key.id, overlapUntil });
    expect(fresh.key.replacesKeyId).toBe(old.key.id);
    const [oldAfter] = await db.select().from(apiKeys).where(eq(apiKeys.id, old.key.id));
    expect(oldAfter!.expiresAt.toISOString()).toBe(new Date(`${overlapUntil}T23:59:59.999+08:00`).toISOString());
    expect((await auditSince(db, before)).map((e) => e.action)).toEqual(["credential.key.registered", "credential.key.rotated"]);

    // During the overlap: both published, both accepted.
    let kids = await jwksKids("simulator");
    expect(kids).toContain(old.key.kid);
    expect(kids).toContain(fresh.key.kid);
    expect((await checkToken(maker, client.id, await tokenFor(old.pair, client, old.key.kid))).ok).toBe(true);
    expect((await checkToken(maker, client.id, await tokenFor(fresh.pair, client, fresh.key.kid))).ok).toBe(true);

    clock.advance(9 * DAY);
    expect(await jwksKids("simulator")).toContain(old.key.kid);
    // After the overlap date: only the new key.
    clock.advance(2 * DAY);
    kids = await jwksKids("simulator");
    expect(kids).not.toContain(old.key.kid);
    expect(kids).toContain(fresh.key.kid);
    const refused = await checkToken(maker, client.id, await tokenFor(old.pair, client, old.key.kid));
    expect(failedKeys(refused)).toEqual(["jwt.kid.expired"]);
    expect((await checkToken(maker, client.id, await tokenFor(fresh.pair, client, fresh.key.kid))).ok).toBe(true);
    // An expired key cannot be rotated any more.
    await refusedOn({ replacesKeyId: old.key.id, overlapUntil: hongKongDay(5) }, "replacesKeyId", "credentials.error.rotateWhat");
  });

  it("never lets a rotation lengthen the old key's life", async () => {
    const maker = await as("maker@b01234.demo");
    const client = await newClient(maker);
    const old = await registerNew(maker, client, { expiresOn: hongKongDay(3) });
    await registerNew(maker, client, { replacesKeyId: old.key.id, overlapUntil: hongKongDay(20) });
    const [after] = await use().db.select().from(apiKeys).where(eq(apiKeys.id, old.key.id));
    expect(after!.expiresAt).toEqual(old.key.expiresAt);
  });

  it("revokes at once, with a reason: the key leaves the JWKS and every check fails from then on", async () => {
    const { db } = use();
    const maker = await as("maker@b01234.demo");
    const checker = await as("checker@b01234.demo");
    const client = await newClient(maker);
    const { key, pair } = await registerNew(maker, client);
    const token = await tokenFor(pair, client, key.kid);
    expect((await checkToken(maker, client.id, token)).ok).toBe(true);
    expect(await jwksKids("simulator")).toContain(key.kid);

    const tooShort = await refusal(revokeKey(checker, { keyId: key.id, reason: "no" }), 400, "error.badRequest");
    expect(fieldErrorsOf(tooShort)).toEqual({ reason: "validation.reasonTooShort" });
    const before = await lastAuditId(db);
    const revoked = await revokeKey(checker, { keyId: key.id, reason: "Private key exposed in a support ticket" });
    expect(revoked).toMatchObject({ status: "revoked", revokeReason: "Private key exposed in a support ticket" });
    expect(await jwksKids("simulator")).not.toContain(key.kid);
    const anonymous = new HttpClient(server.baseUrl);
    expect(JSON.stringify(await (await anonymous.get("/jwks/simulator")).json())).not.toContain(key.kid);
    expect(failedKeys(await checkToken(maker, client.id, token))).toEqual(["jwt.kid.revoked"]);
    const [event] = await auditSince(db, before);
    expect(event).toMatchObject({ action: "credential.key.revoked", reason: "Private key exposed in a support ticket", actorUserId: checker.actor.userId, participantId: "B01234" });
    await refusal(revokeKey(maker, { keyId: key.id, reason: "Second revocation attempt" }), 409, "access.refused.alreadyRevoked");
    await refusal(revokeKey(maker, { keyId: "no-such-key", reason: "Nothing to revoke here" }), 404, "error.notFound");
  });

  it("checks a pasted token against this client's keys and its environment's rules", async () => {
    const maker = await as("maker@b01234.demo");
    const client = await newClient(maker);
    const another = await newClient(maker);
    const { key, pair } = await registerNew(maker, client);
    const { key: anothersKey, pair: anothersPair } = await registerNew(maker, another);
    expect((await checkToken(maker, client.id, `Bearer ${await tokenFor(pair, client, key.kid)}`)).ok).toBe(true);
    // A key of another client of the same participant is not this client's key.
    const result = await checkToken(maker, client.id, await tokenFor(anothersPair, client, anothersKey.kid));
    expect(failedKeys(result)).toEqual(["jwt.kid.unknown"]);
    // Nor are this client's claims right for the other client.
    expect(failedKeys(await checkToken(maker, another.id, await tokenFor(anothersPair, client, anothersKey.kid)))).toEqual(["jwt.iss.wrong", "jwt.sub.wrong"]);
    const error = await refusal(checkToken(maker, client.id, "x".repeat(20_001)), 400, "error.badRequest");
    expect(fieldErrorsOf(error)).toEqual({ token: "validation.tooLong" });
  });

  it("asks for API certification before production, then keeps the client pending until a DA checker other than the requester approves", async () => {
    const { db } = use();
    const maker = await as("maker@b01234.demo");
    const checker = await as("checker@b01234.demo");
    const refused = await refusal(newClient(maker, "production"), 400, "credentials.error.notCertified");
    expect(fieldErrorsOf(refused)).toEqual({ environment: "credentials.error.notCertified" });
    expect((await listClients(maker)).filter((c) => c.environment === "production")).toEqual([]);

    await advanceCase(db, "B01234", { officer: await as("officer@hkex.demo"), approver: await as("officer2@hkex.demo"), participant: maker }, "api_certification");
    const before = await lastAuditId(db);
    const client = await newClient(maker, "production", "Settlement status (production)");
    expect(client.status).toBe("pending_approval");
    // Pending: no key can be registered, nothing is published.
    const pending = await refusal(registerNew(maker, client), 400, "credentials.error.clientNotActive");
    expect(pending.fieldErrors).toEqual({});
    // Who may not decide: the maker (no checker role), another participant's checker, compliance.
    await refusal(decideClient(maker, { clientId: client.id, decision: "approve" }), 403, "credentials.error.checkerOnly");
    await refusal(decideClient(await as("checker@c00123.demo"), { clientId: client.id, decision: "approve" }), 404, "error.notFound");
    await refusal(decideClient(await as("compliance@hkex.demo"), { clientId: client.id, decision: "approve" }), 403, "credentials.error.checkerOnly");
    await refusal(decideClient(checker, { clientId: client.id, decision: "maybe" }), 400, "error.badRequest");
    expect((await getClient(maker, client.id)).client.status).toBe("pending_approval");

    const approved = await decideClient(checker, { clientId: client.id, decision: "approve" });
    expect(approved).toMatchObject({ status: "active", approvedBy: checker.actor.userId, requestedBy: maker.actor.userId });
    await refusal(decideClient(checker, { clientId: client.id, decision: "reject" }), 409, "access.refused.alreadyDecided");
    const { key } = await registerNew(maker, client);
    expect(await jwksKids("production")).toContain(key.kid);
    expect(await jwksKids("simulator")).not.toContain(key.kid);
    const events = await auditSince(db, before);
    expect(events.map((e) => e.action)).toEqual(["credential.client.created", "credential.client.approved", "credential.key.registered"]);
    expect(events[1]).toMatchObject({ actorUserId: checker.actor.userId, entityId: client.id });
  });

  it("does not let one person both request and approve a production client, and a rejected client gets no keys", async () => {
    const { db } = use();
    // A sole administrator of C00123 (live, so certified) holding both DA roles.
    await createConsoleUser(db, { email: "both@c00123.test", displayName: "Both Roles (C00123)", participantId: "C00123", password: TEST_PASSWORD, roleCodes: ["da_maker", "da_checker"] });
    const both = await as("both@c00123.test");
    const own = await newClient(both, "production");
    expect(own.status).toBe("pending_approval");
    await refusal(decideClient(both, { clientId: own.id, decision: "approve" }), 403, "access.refused.ownRequest");
    await refusal(decideClient(both, { clientId: own.id, decision: "reject" }), 403, "access.refused.ownRequest");
    const checkerC = await as("checker@c00123.demo");
    expect((await decideClient(checkerC, { clientId: own.id, decision: "reject" })).status).toBe("rejected");
    await refusal(registerNew(both, own), 400, "credentials.error.clientNotActive");
    expect((await getClient(checkerC, own.id)).keys).toEqual([]);
  });

  it("keeps each participant's clients and keys to itself: another DA gets 404 for all of it", async () => {
    const { db } = use();
    const makerB = await as("maker@b01234.demo");
    const client = await newClient(makerB, "simulator", "Reference data (simulator)");
    const { key, pair } = await registerNew(makerB, client);
    const token = await tokenFor(pair, client, key.kid);

    for (const email of ["maker@c00123.demo", "checker@c00123.demo"]) {
      const da = await as(email);
      expect((await listClients(da)).map((c) => c.participantId)).not.toContain("B01234");
      await refusal(getClient(da, client.id), 404, "error.notFound");
      await refusal(issueChallenge(da, { clientId: client.id }), 404, "error.notFound");
      await refusal(checkToken(da, client.id, token), 404, "error.notFound");
      await refusal(revokeKey(da, { keyId: key.id, reason: "Trying another firm's key" }), 404, "error.notFound");
      const pairC = keyPair();
      const { nonce } = await issueChallenge(makerB, { clientId: client.id });
      await refusal(registerKey(da, { clientId: client.id, publicKey: publicPem(pairC), proof: await proofOf(pairC, client.clientId, nonce), nonce, expiresOn: hongKongDay(100) }), 404, "error.notFound");
      // Rotating B01234's key from one of C00123's own clients does not reach it either.
      const own = await newClient(await as("maker@c00123.demo"));
      await refusal(registerNew(da, own, { replacesKeyId: key.id, overlapUntil: hongKongDay(5) }), 400, "error.badRequest");
    }
    // Naming another participant's user as the owner is refused as a field.
    const makerC = await as("maker@c00123.demo");
    const wrongOwner = await refusal(createClient(makerC, { participantId: makerC.actor.participantId!, environment: "simulator", name: "Borrowed owner", ownerUserId: makerB.actor.userId! }), 400, "error.badRequest");
    expect(fieldErrorsOf(wrongOwner)).toEqual({ ownerUserId: "credentials.error.owner" });
    const [after] = await db.select().from(apiKeys).where(eq(apiKeys.id, key.id));
    expect(after!.status).toBe("active");
    expect((await checkToken(makerB, client.id, token)).ok).toBe(true);
  });

  it("lets compliance and officers read every client but not create, register, revoke or approve", async () => {
    const makerB = await as("maker@b01234.demo");
    const client = await newClient(makerB);
    const { key, pair } = await registerNew(makerB, client);
    for (const email of ["compliance@hkex.demo", "officer@hkex.demo", "helpdesk@hkex.demo"]) {
      const reader = await as(email);
      expect((await listClients(reader)).map((c) => c.id)).toContain(client.id);
      expect((await getClient(reader, client.id)).keys.map((k) => k.kid)).toEqual([key.kid]);
      expect((await checkToken(reader, client.id, await tokenFor(pair, client, key.kid))).ok).toBe(true);
      await refusal(createClient(reader, { participantId: "B01234", environment: "simulator", name: "Not theirs", ownerUserId: makerB.actor.userId! }), 403, "error.forbidden");
      await refusal(issueChallenge(reader, { clientId: client.id }), 403, "error.forbidden");
      await refusal(registerKey(reader, { clientId: client.id, publicKey: publicPem(pair), proof: "y", nonce: "nonce-0123456789", expiresOn: hongKongDay(10) }), 403, "error.forbidden");
      await refusal(revokeKey(reader, { keyId: key.id, reason: "Not mine to revoke" }), 403, "error.forbidden");
    }
    // A DA checker manages keys but does not create clients.
    await refusal(createClient(await as("checker@b01234.demo"), { participantId: "B01234", environment: "simulator", name: "Checker's", ownerUserId: makerB.actor.userId! }), 403, "error.forbidden");
    const [after] = await use().db.select().from(apiKeys).where(eq(apiKeys.id, key.id));
    expect(after!.status).toBe("active");
  });

  it("answers the same over HTTP: the maker registers, checks and revokes; another DA gets 404; compliance reads only", async () => {
    const seeded = await seededClient();
    const maker = await http("maker@b01234.demo");
    const page = `/credentials/${seeded.id}?_data=${CLIENT_ROUTE}`;

    const list = await (await maker.get("/credentials")).text();
    expect(list).toContain("Trade feed (simulator)");
    expect(list).toContain(seeded.clientId);
    const challenge = await maker.post(page, { intent: "challenge" });
    expect(challenge.status).toBe(200);
    const { nonce } = (await challenge.json()) as { nonce: string };

    // A wrong proof comes back as a field message, without echoing the key or the proof.
    const pair = keyPair("rsa");
    const wrongProof = await proofOf(keyPair("rsa"), seeded.clientId, nonce);
    const refused = await maker.post(page, { intent: "register", publicKey: publicPem(pair), proof: wrongProof, nonce, expiresOn: hongKongDay(200), rsaAlgorithm: "PS256" });
    expect(refused.status).toBe(400);
    const refusedText = await refused.text();
    expect(JSON.parse(refusedText)).toMatchObject({ ok: false, messageKey: "error.badRequest", fieldErrors: { proof: "credentials.pop.signature" } });
    expect(refusedText).not.toContain(wrongProof);
    expect(refusedText).not.toContain("PUBLIC KEY");

    const proof = await new SignJWT({ nonce }).setProtectedHeader({ alg: "PS256" }).setAudience(POP_AUDIENCE).setSubject(seeded.clientId).setIssuedAt().setExpirationTime("5m").sign(pair.privateKey);
    secrets.push(proof);
    const registered = await maker.post(page, { intent: "register", publicKey: publicPem(pair), proof, nonce, expiresOn: hongKongDay(200), rsaAlgorithm: "PS256", replacesKeyId: "" });
    expect(registered.status).toBe(200);
    const kid = await kidOf(pair);
    const data = (await (await maker.get(page)).json()) as { keys: { id: string; kid: string; alg: string; state: string }[] };
    const row = data.keys.find((k) => k.kid === kid)!;
    expect(row).toMatchObject({ alg: "PS256", state: "active" });
    expect(JSON.stringify(data)).not.toContain(`"n":`);
    expect(((await (await new HttpClient(server.baseUrl).get("/jwks/simulator")).json()) as { keys: { kid: string; alg: string }[] }).keys).toContainEqual(expect.objectContaining({ kid, alg: "PS256" }));

    const token = await new SignJWT({})
      .setProtectedHeader({ alg: "PS256", kid })
      .setIssuer(seeded.clientId)
      .setSubject(seeded.clientId)
      .setAudience(CLAIM_RULES.simulator.audience)
      .setIssuedAt()
      .setExpirationTime("5m")
      .setJti("http-check-1")
      .sign(pair.privateKey);
    secrets.push(token);
    const checked = (await (await maker.post(page, { intent: "check", token: `Bearer ${token}` })).json()) as { check: { ok: boolean; findings: { messageKey: string; ok: boolean }[] } };
    expect(checked.check.ok).toBe(true);
    const hmac = await new SignJWT({}).setProtectedHeader({ alg: "HS256", kid }).sign(new TextEncoder().encode(publicPem(pair)));
    const confused = (await (await maker.post(page, { intent: "check", token: hmac })).json()) as { check: { ok: boolean; findings: { messageKey: string; ok: boolean }[] } };
    expect(confused.check.ok).toBe(false);
    expect(confused.check.findings.filter((f) => !f.ok).map((f) => f.messageKey)).toEqual(["jwt.alg.hmac"]);

    // Another participant's administrator: 404 for the page and for every intent.
    const other = await http("maker@c00123.demo");
    expect((await other.get(`/credentials/${seeded.id}`)).status).toBe(404);
    const otherList = await (await other.get("/credentials")).text();
    expect(otherList).not.toContain("Trade feed (simulator)");
    expect(otherList).not.toContain(seeded.clientId);
    const forms: Record<string, string>[] = [
      { intent: "challenge" },
      { intent: "check", token },
      { intent: "revoke", keyId: row.id, reason: "Not my key at all" },
      { intent: "register", publicKey: publicPem(keyPair()), proof, nonce, expiresOn: hongKongDay(100) },
    ];
    for (const form of forms) {
      expect((await other.post(page, form)).status, form.intent).toBe(404);
    }

    // Compliance reads, and may check a token, but cannot change anything.
    const compliance = await http("compliance@hkex.demo");
    expect((await compliance.get(`/credentials/${seeded.id}`)).status).toBe(200);
    expect((await compliance.post(page, { intent: "check", token })).status).toBe(200);
    const changes: Record<string, string>[] = [
      { intent: "challenge" },
      { intent: "revoke", keyId: row.id, reason: "Compliance cannot revoke" },
      { intent: "register", publicKey: publicPem(keyPair()), proof, nonce, expiresOn: hongKongDay(100) },
    ];
    for (const form of changes) {
      expect((await compliance.post(page, form)).status, form.intent).toBe(403);
    }
    expect((await compliance.post("/credentials?index", { environment: "simulator", name: "Compliance's own", ownerUserId: seeded.ownerUserId })).status).toBe(403);

    // The maker is asked first, the key and its client named; nothing happens until confirmed.
    const asked = await maker.post(page, { intent: "revoke", keyId: row.id, reason: "Replaced by the HSM-held key" });
    expect(asked.status).toBe(200);
    expect(await asked.json()).toMatchObject({ confirm: { titleKey: "confirm.key.revoke.title", params: { clientId: expect.stringMatching(/^b01234-simu-/) } } });
    expect(JSON.stringify(await (await new HttpClient(server.baseUrl).get("/jwks/simulator")).json())).toContain(kid);
    // Confirmed: gone from the JWKS at once.
    const revoked = await maker.post(page, { intent: "revoke", keyId: row.id, reason: "Replaced by the HSM-held key", confirmed: "yes" });
    expect(revoked.status).toBe(200);
    expect(JSON.stringify(await (await new HttpClient(server.baseUrl).get("/jwks/simulator")).json())).not.toContain(kid);
    const after = (await (await maker.post(page, { intent: "check", token })).json()) as { check: { ok: boolean; findings: { messageKey: string; ok: boolean }[] } };
    expect(after.check.findings.filter((f) => !f.ok).map((f) => f.messageKey)).toEqual(["jwt.kid.revoked"]);
  });

  it("sends each expiry notice (30, 7 and 1 days before) once, to the participant's administrators, however often and concurrently the jobs run", async () => {
    const { db, url } = use();
    const maker = await as("maker@b01234.demo");
    // The demo's key expires in five days: its notice is already in the outbox, and nothing more goes out for it.
    const seeded = await seededClient();
    const [seededKey] = await db.select().from(apiKeys).where(eq(apiKeys.apiClientId, seeded.id)).orderBy(asc(apiKeys.createdAt)).limit(1);
    const seededNotices = await db.select().from(keyExpiryNotices).where(eq(keyExpiryNotices.keyId, seededKey!.id));
    expect(seededNotices.map((n) => n.daysBefore).sort((a, b) => a - b)).toEqual([7, 30]);
    const mailsFor = async (kid: string) => (await db.select().from(mailOutbox).where(eq(mailOutbox.kind, "key_expiry_notice")).orderBy(asc(mailOutbox.id))).filter((m) => m.metadata?.kid === kid);
    expect((await mailsFor(seededKey!.kid)).map((m) => m.toAddress).sort()).toEqual(B01234_ADMINISTRATORS);
    await sendExpiryNotices(systemContext(db));
    await runJobs(db);
    expect(await mailsFor(seededKey!.kid)).toHaveLength(2);

    const client = await newClient(maker);
    const { key } = await registerNew(maker, client, { expiresOn: hongKongDay(20) });
    const noticesOf = async () => (await db.select().from(keyExpiryNotices).where(eq(keyExpiryNotices.keyId, key.id))).map((n) => n.daysBefore).sort((a, b) => a - b);
    const second = url ? openDatabase({ databaseUrl: url, maxConnections: 4 }) : null;
    const runners = second ? [db, second.db] : [db];
    try {
      // 30 days: every runner at once, twice over.
      await Promise.all([...runners, ...runners].map((r) => sendExpiryNotices(systemContext(r))));
      await Promise.all(runners.map((r) => runJobs(r)));
      expect(await noticesOf()).toEqual([30]);
      let mails = await mailsFor(key.kid);
      expect(mails.map((m) => m.toAddress).sort()).toEqual(B01234_ADMINISTRATORS);
      expect(mails[0]!.subject).toMatch(new RegExp(`^OCP API key expires in (20|21) day\\(s\\): ${client.clientId}$`));
      expect(mails[0]!.body).toContain(key.kid);
      expect(mails[0]!.participantId).toBe("B01234");

      // 7 days before: the jobs runner, twice and concurrently.
      clock = new TestClock().start();
      clock.advance(key.expiresAt.getTime() - 6.5 * DAY - clock.current().getTime());
      await Promise.all(runners.map((r) => runJobs(r)));
      await runJobs(db);
      expect(await noticesOf()).toEqual([7, 30]);
      mails = await mailsFor(key.kid);
      expect(mails).toHaveLength(4);
      expect(mails.slice(2).every((m) => m.subject.startsWith("OCP API key expires in 7 day(s)"))).toBe(true);

      // 1 day before.
      clock.advance(6 * DAY);
      await Promise.all([...runners, ...runners, ...runners].map((r) => sendExpiryNotices(systemContext(r))));
      await runJobs(db);
      expect(await noticesOf()).toEqual([1, 7, 30]);
      mails = await mailsFor(key.kid);
      expect(mails).toHaveLength(6);
      expect(mails.slice(4).map((m) => m.subject)).toEqual([`OCP API key expires in 1 day(s): ${client.clientId}`, `OCP API key expires in 1 day(s): ${client.clientId}`]);
      for (const address of B01234_ADMINISTRATORS) expect(mails.filter((m) => m.toAddress === address)).toHaveLength(3);

      // After expiry, nothing more.
      clock.advance(DAY);
      await Promise.all(runners.map((r) => runJobs(r)));
      expect(await mailsFor(key.kid)).toHaveLength(6);
    } finally {
      await second?.close();
    }
    // One audit event per notice sent, by the system, naming the thresholds and how many were mailed.
    const events = (await db.select().from(auditEvents).where(and(eq(auditEvents.action, "credential.key.expiry_notice"), eq(auditEvents.entityId, client.id))).orderBy(asc(auditEvents.id))).map((e) => e.metadata);
    expect(events).toMatchObject([
      { kid: key.kid, days: expect.any(Number), recipients: 2, thresholds: [30] },
      { kid: key.kid, days: 7, recipients: 2, thresholds: [7] },
      { kid: key.kid, days: 1, recipients: 2, thresholds: [1] },
    ]);
    // No notice for a revoked key.
    const doomed = await registerNew(maker, client, { expiresOn: hongKongDay(6) });
    await revokeKey(maker, { keyId: doomed.key.id, reason: "Rotated out before its expiry" });
    await sendExpiryNotices(systemContext(db));
    expect(await mailsFor(doomed.key.kid)).toEqual([]);
  });

  it("keeps private keys, proofs and tokens out of every audit event and every mail", async () => {
    const { db } = use();
    const credentialEvents = await db.select().from(auditEvents).where(inArray(auditEvents.action, ["credential.client.created", "credential.client.approved", "credential.client.rejected", "credential.key.registered", "credential.key.rotated", "credential.key.revoked", "credential.key.expiry_notice"]));
    expect(credentialEvents.length).toBeGreaterThan(20);
    const everything = JSON.stringify([await db.select().from(auditEvents), await db.select().from(mailOutbox)]);
    expect(secrets.length).toBeGreaterThan(50);
    for (const secret of secrets) expect(everything.includes(secret), `a secret (${secret.slice(0, 20)}…) was written down`).toBe(false);
    expect(everything).not.toMatch(/PRIVATE KEY/);
    // Nothing shaped like a JWT either.
    expect(everything).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\./);
  });
});
