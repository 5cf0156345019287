import { createHmac, generateKeyPairSync, randomUUID, sign as nodeSign, type KeyObject } from "node:crypto";
import { CompactEncrypt, CompactSign, SignJWT, base64url, type JWK } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { CLAIM_RULES, POP_AUDIENCE } from "~/modules/credentials/claim-rules";
import { checkJwt, parsePublicKey, verifyProofOfPossession, type JwtCheckResult, type ParsedKey, type RegisteredKey } from "~/modules/credentials/keys.server";
import type { MessageKey } from "~/i18n/messages";
import { rsaKeyPair } from "../support/keys";

/**
 * The JWT connection check (SPEC §5, RFC 8725): tokens signed with jose, right and wrong in every way we could
 * think of, including the attacks a careless verifier accepts. Each is judged as the gateway must, and explained
 * with the right message.
 */

const CLIENT_ID = "b01234-simu-0a1b2c3d";
const OTHER_CLIENT_ID = "c00123-simu-4e5f6a7b";
const NOW = new Date("2026-11-20T04:00:00.000Z");
const NOW_S = Math.floor(NOW.getTime() / 1000);
const DAY = 24 * 3600 * 1000;
const SIMULATOR = CLAIM_RULES.simulator;

interface Pair {
  publicKey: KeyObject;
  privateKey: KeyObject;
  parsed: ParsedKey;
}

async function pairOf(kind: "ec" | "rsa", rsaAlg: "RS256" | "PS256" = "RS256"): Promise<Pair> {
  const { publicKey, privateKey } = kind === "ec" ? generateKeyPairSync("ec", { namedCurve: "P-256" }) : rsaKeyPair(2048);
  const result = await parsePublicKey(publicKey.export({ type: "spki", format: "pem" }).toString(), rsaAlg);
  if (!result.ok) throw new Error(result.messageKey);
  return { publicKey, privateKey, parsed: result.key };
}

function registered(pair: Pair, overrides: Partial<RegisteredKey> = {}): RegisteredKey {
  return {
    kid: pair.parsed.kid,
    jwk: pair.parsed.jwk,
    alg: pair.parsed.alg,
    status: "active",
    validFrom: new Date(NOW.getTime() - 30 * DAY),
    expiresAt: new Date(NOW.getTime() + 300 * DAY),
    revokedAt: null,
    ...overrides,
  };
}

/** The claims a correct token for the simulator carries. */
function goodClaims(): Record<string, unknown> {
  return { iss: CLIENT_ID, sub: CLIENT_ID, aud: SIMULATOR.audience, iat: NOW_S, exp: NOW_S + 300, jti: randomUUID() };
}

/** Signs exactly the header and claims given (jose's CompactSign adds nothing of its own). */
function sign(privateKey: KeyObject | Uint8Array, header: Record<string, unknown>, claims: Record<string, unknown> = goodClaims()): Promise<string> {
  return new CompactSign(new TextEncoder().encode(JSON.stringify(claims))).setProtectedHeader(header as { alg: string }).sign(privateKey);
}

const enc = (value: unknown) => base64url.encode(JSON.stringify(value));

let ecKey: Pair;
let rsaKey: Pair;
let pssKey: Pair;
let attackerEc: Pair;
let attackerRsa: Pair;
let otherClientKey: Pair;
let keys: RegisteredKey[];

beforeAll(async () => {
  [ecKey, rsaKey, pssKey, attackerEc, attackerRsa, otherClientKey] = await Promise.all([
    pairOf("ec"),
    pairOf("rsa", "RS256"),
    pairOf("rsa", "PS256"),
    pairOf("ec"),
    pairOf("rsa"),
    pairOf("ec"),
  ]);
  keys = [registered(ecKey), registered(rsaKey), registered(pssKey)];
});

const check = (token: string, options: { keys?: RegisteredKey[]; environment?: "simulator" | "test" | "production"; now?: Date } = {}) =>
  checkJwt(token, CLIENT_ID, options.environment ?? "simulator", options.keys ?? keys, options.now ?? NOW);

/** What a reader of the check sees: accepted or not, and the explanation of each failed check. */
function failures(result: JwtCheckResult): MessageKey[] {
  return result.findings.filter((f) => !f.ok).map((f) => f.messageKey);
}

async function expectRefused(token: string | Promise<string>, messageKey: MessageKey, options?: Parameters<typeof check>[1]): Promise<JwtCheckResult> {
  const result = await check(await token, options);
  expect(failures(result)).toEqual([messageKey]);
  expect(result.ok).toBe(false);
  return result;
}

const es256 = (claims?: Record<string, unknown>, header: Record<string, unknown> = {}) => sign(ecKey.privateKey, { alg: "ES256", kid: ecKey.parsed.kid, typ: "JWT", ...header }, claims);

describe("tokens the gateway accepts", () => {
  it("accepts an ES256 token from the registered EC key and explains every check it passed", async () => {
    const result = await check(await es256());
    expect(result.ok).toBe(true);
    expect(result.findings.every((f) => f.ok)).toBe(true);
    expect(result.findings.map((f) => f.check)).toEqual(["format", "alg", "kid", "signature", "iss", "sub", "aud", "exp", "iat", "lifetime", "jti"]);
    expect(result.findings.map((f) => f.messageKey)).toContain("jwt.signature.ok");
    expect(result.header).toMatchObject({ alg: "ES256", kid: ecKey.parsed.kid });
    expect(result.claims).toMatchObject({ iss: CLIENT_ID, sub: CLIENT_ID });
  });

  it("accepts a token made with jose's SignJWT, the way a participant would make one", async () => {
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: "ES256", kid: ecKey.parsed.kid })
      .setIssuer(CLIENT_ID)
      .setSubject(CLIENT_ID)
      .setAudience(SIMULATOR.audience)
      .setIssuedAt(NOW_S)
      .setNotBefore(NOW_S)
      .setExpirationTime(NOW_S + 600)
      .setJti(randomUUID())
      .sign(ecKey.privateKey);
    const result = await check(token);
    expect(failures(result)).toEqual([]);
    expect(result.findings.map((f) => f.messageKey)).toContain("jwt.nbf.ok");
  });

  it("accepts RS256 from an RSA key registered for RS256, and PS256 from an RSA key registered for PS256", async () => {
    expect((await check(await sign(rsaKey.privateKey, { alg: "RS256", kid: rsaKey.parsed.kid }))).ok).toBe(true);
    expect((await check(await sign(pssKey.privateKey, { alg: "PS256", kid: pssKey.parsed.kid }))).ok).toBe(true);
  });

  it("accepts a pasted token with a Bearer prefix, in any case, and surrounding blanks", async () => {
    const token = await es256();
    for (const pasted of [`Bearer ${token}`, `bearer ${token}`, `  BEARER   ${token}\n`, `\n${token}\n`]) expect((await check(pasted)).ok).toBe(true);
  });

  it("accepts an audience list that includes the gateway, and a typ of application/jwt", async () => {
    expect((await check(await es256({ ...goodClaims(), aud: ["https://elsewhere.example", SIMULATOR.audience] }))).ok).toBe(true);
    expect((await check(await es256(undefined, { typ: "application/jwt" }))).ok).toBe(true);
    expect((await check(await es256(undefined, { typ: undefined }))).ok).toBe(true);
  });

  it("tolerates the configured clock skew, and no more", async () => {
    const skew = SIMULATOR.clockSkewSeconds;
    expect((await check(await es256({ ...goodClaims(), iat: NOW_S + skew - 5, exp: NOW_S + 300 }))).ok).toBe(true);
    expect((await check(await es256({ ...goodClaims(), iat: NOW_S - 600, exp: NOW_S - skew + 5 }))).ok).toBe(true);
    expect((await check(await es256({ ...goodClaims(), nbf: NOW_S + skew - 5 }))).ok).toBe(true);
  });

  it("accepts a token lasting exactly the environment's longest lifetime", async () => {
    for (const environment of ["simulator", "test", "production"] as const) {
      const rules = CLAIM_RULES[environment];
      const claims = { ...goodClaims(), aud: rules.audience, exp: NOW_S + rules.maxLifetimeSeconds - 1, iat: NOW_S - 1 };
      expect((await check(await es256(claims), { environment })).ok, environment).toBe(true);
    }
  });
});

describe("attacks a careless verifier accepts", () => {
  it('refuses alg "none" (an unsigned token), however it is spelled, and a header without alg', async () => {
    for (const alg of ["none", "None", "NONE", "nOnE"]) {
      const unsigned = `${enc({ alg, kid: ecKey.parsed.kid, typ: "JWT" })}.${enc(goodClaims())}.`;
      await expectRefused(unsigned, "jwt.alg.none");
    }
    // An unsigned header with a real signature left in place.
    const [, payload, signature] = (await es256()).split(".");
    await expectRefused(`${enc({ alg: "none", kid: ecKey.parsed.kid })}.${payload}.${signature}`, "jwt.alg.none");
    await expectRefused(`${enc({ kid: ecKey.parsed.kid })}.${enc(goodClaims())}.${signature}`, "jwt.alg.none");
  });

  it("refuses HS256 signed with the registered public key as the HMAC secret (key confusion), whatever form of the key was used", async () => {
    const secrets = [
      new TextEncoder().encode(rsaKey.publicKey.export({ type: "spki", format: "pem" }).toString()),
      new TextEncoder().encode(JSON.stringify(rsaKey.parsed.jwk)),
      new Uint8Array(rsaKey.publicKey.export({ type: "spki", format: "der" })),
      new TextEncoder().encode(ecKey.publicKey.export({ type: "spki", format: "pem" }).toString()),
    ];
    for (const secret of secrets) {
      for (const alg of ["HS256", "HS384", "HS512"]) {
        const kid = secret === secrets[3] ? ecKey.parsed.kid : rsaKey.parsed.kid;
        const result = await expectRefused(sign(secret, { alg, kid }), "jwt.alg.hmac");
        expect(result.findings.at(-1)!.params).toEqual({ alg });
      }
    }
    // Hand-made, as an attacker without jose would: still refused before any key is touched.
    const header = enc({ alg: "HS256", kid: rsaKey.parsed.kid });
    const payload = enc(goodClaims());
    const mac = createHmac("sha256", rsaKey.publicKey.export({ type: "spki", format: "pem" })).update(`${header}.${payload}`).digest("base64url");
    await expectRefused(`${header}.${payload}.${mac}`, "jwt.alg.hmac");
  });

  it("refuses a valid signature by another key that names the registered kid", async () => {
    await expectRefused(sign(attackerEc.privateKey, { alg: "ES256", kid: ecKey.parsed.kid }), "jwt.signature.invalid");
    await expectRefused(sign(attackerRsa.privateKey, { alg: "RS256", kid: rsaKey.parsed.kid }), "jwt.signature.invalid");
  });

  it("refuses a kid that points at another client's key, even with this client's iss and sub", async () => {
    const result = await expectRefused(sign(otherClientKey.privateKey, { alg: "ES256", kid: otherClientKey.parsed.kid }), "jwt.kid.unknown");
    expect(result.findings.at(-1)!.params).toEqual({ kid: otherClientKey.parsed.kid, clientId: CLIENT_ID });
    // The same token is fine for the client that owns the key (with that client's claims).
    const theirs = await sign(otherClientKey.privateKey, { alg: "ES256", kid: otherClientKey.parsed.kid }, { ...goodClaims(), iss: OTHER_CLIENT_ID, sub: OTHER_CLIENT_ID });
    expect((await checkJwt(theirs, OTHER_CLIENT_ID, "simulator", [registered(otherClientKey)], NOW)).ok).toBe(true);
  });

  it("refuses a key or key location carried in the header (jwk, jku, x5u, x5c), even when the signature is the registered key's", async () => {
    const attackerJwk = attackerEc.publicKey.export({ format: "jwk" }) as JWK;
    // The attacker signs with their own key and hands it over in the header.
    let result = await expectRefused(sign(attackerEc.privateKey, { alg: "ES256", kid: ecKey.parsed.kid, jwk: attackerJwk }), "jwt.header.embeddedKey");
    expect(result.findings.at(-1)!.params).toEqual({ headers: "jwk" });
    result = await expectRefused(sign(attackerEc.privateKey, { alg: "ES256", jwk: attackerJwk }), "jwt.header.embeddedKey");
    const fakeCertificate = Buffer.from("not really a certificate").toString("base64");
    const locations: Record<string, unknown>[] = [
      { jku: "https://attacker.example/jwks.json" },
      { x5u: "https://attacker.example/cert.pem" },
      { x5c: [fakeCertificate] },
      { jwk: ecKey.parsed.jwk },
    ];
    for (const extra of locations) {
      result = await expectRefused(es256(undefined, extra), "jwt.header.embeddedKey");
      expect(result.findings.at(-1)!.params).toEqual({ headers: Object.keys(extra)[0] });
    }
    result = await expectRefused(es256(undefined, { jku: "https://attacker.example/jwks.json", x5u: "https://attacker.example/c.pem" }), "jwt.header.embeddedKey");
    expect(result.findings.at(-1)!.params).toEqual({ headers: "jku, x5u" });
  });

  it("refuses an algorithm the key is not registered for: RS256 on an EC key, ES256 on an RSA key, PS256 on a key registered for RS256", async () => {
    let result = await expectRefused(sign(attackerRsa.privateKey, { alg: "RS256", kid: ecKey.parsed.kid }), "jwt.alg.keyMismatch");
    expect(result.findings.at(-1)!.params).toEqual({ alg: "RS256", kid: ecKey.parsed.kid, allowed: "ES256" });
    result = await expectRefused(sign(attackerEc.privateKey, { alg: "ES256", kid: rsaKey.parsed.kid }), "jwt.alg.keyMismatch");
    expect(result.findings.at(-1)!.params).toEqual({ alg: "ES256", kid: rsaKey.parsed.kid, allowed: "RS256" });
    // RFC 8725 §3.1: one algorithm per key. The JWKS publishes the key with alg RS256, so a gateway refuses PS256 with it.
    result = await expectRefused(sign(rsaKey.privateKey, { alg: "PS256", kid: rsaKey.parsed.kid }), "jwt.alg.keyMismatch");
    expect(result.findings.at(-1)!.params).toEqual({ alg: "PS256", kid: rsaKey.parsed.kid, allowed: "RS256" });
    await expectRefused(sign(pssKey.privateKey, { alg: "RS256", kid: pssKey.parsed.kid }), "jwt.alg.keyMismatch");
  });

  it("refuses algorithms outside the allow-list, naming the ones allowed", async () => {
    const ed = generateKeyPairSync("ed25519");
    const signed: [string, Promise<string>][] = [
      ["RS512", sign(rsaKey.privateKey, { alg: "RS512", kid: rsaKey.parsed.kid })],
      ["RS384", sign(rsaKey.privateKey, { alg: "RS384", kid: rsaKey.parsed.kid })],
      ["PS512", sign(rsaKey.privateKey, { alg: "PS512", kid: rsaKey.parsed.kid })],
      ["ES384", sign(generateKeyPairSync("ec", { namedCurve: "P-384" }).privateKey, { alg: "ES384", kid: ecKey.parsed.kid })],
      ["EdDSA", sign(ed.privateKey, { alg: "EdDSA", kid: ecKey.parsed.kid })],
      ["ES256K", Promise.resolve(`${enc({ alg: "ES256K", kid: ecKey.parsed.kid })}.${enc(goodClaims())}.AAAA`)],
    ];
    for (const [alg, token] of signed) {
      const result = await expectRefused(token, "jwt.alg.notAllowed");
      expect(result.findings.at(-1)!.params).toEqual({ alg, allowed: "RS256, PS256, ES256" });
    }
  });

  it("refuses a token whose payload or header was altered after signing", async () => {
    const [header, payload, signature] = (await es256()).split(".");
    const claims = JSON.parse(Buffer.from(payload!, "base64url").toString()) as Record<string, unknown>;
    await expectRefused(`${header}.${enc({ ...claims, sub: "b01234-admin" })}.${signature}`, "jwt.signature.invalid");
    await expectRefused(`${header}.${enc({ ...claims, exp: NOW_S + 3000 })}.${signature}`, "jwt.signature.invalid");
    await expectRefused(`${enc({ alg: "ES256", kid: ecKey.parsed.kid })}.${payload}.${signature}`, "jwt.signature.invalid");
    // A signature from another token of the same key.
    const [, , otherSignature] = (await es256()).split(".");
    await expectRefused(`${header}.${payload}.${otherSignature}`, "jwt.signature.invalid");
    // No signature at all.
    await expectRefused(`${header}.${payload}.`, "jwt.signature.invalid");
  });

  it("refuses an encrypted token (JWE, five parts): the gateway expects a signed JWT", async () => {
    const jwe = await new CompactEncrypt(new TextEncoder().encode(JSON.stringify(goodClaims())))
      .setProtectedHeader({ alg: "RSA-OAEP-256", enc: "A256GCM", kid: rsaKey.parsed.kid })
      .encrypt(rsaKey.publicKey);
    expect(jwe.split(".")).toHaveLength(5);
    await expectRefused(jwe, "jwt.format.encrypted");
  });

  it("refuses a key that has been revoked, has expired, or is not valid yet, even when the signature is right", async () => {
    const revoked = [registered(ecKey, { status: "revoked", revokedAt: new Date(NOW.getTime() - 60_000) })];
    await expectRefused(es256(), "jwt.kid.revoked", { keys: revoked });
    const expired = [registered(ecKey, { expiresAt: new Date(NOW.getTime() - 1000) })];
    const result = await expectRefused(es256(), "jwt.kid.expired", { keys: expired });
    expect(result.findings.at(-1)!.params).toEqual({ kid: ecKey.parsed.kid, expiresAt: new Date(NOW.getTime() - 1000).toISOString() });
    await expectRefused(es256(), "jwt.kid.expired", { keys: [registered(ecKey, { expiresAt: NOW })] });
    await expectRefused(es256(), "jwt.kid.notYetValid", { keys: [registered(ecKey, { validFrom: new Date(NOW.getTime() + 60_000) })] });
    await expectRefused(es256(), "jwt.kid.unknown", { keys: [] });
  });

  it("refuses a header that names no kid, or a kid nobody registered", async () => {
    await expectRefused(sign(ecKey.privateKey, { alg: "ES256" }), "jwt.kid.missing");
    await expectRefused(sign(ecKey.privateKey, { alg: "ES256", kid: "" }), "jwt.kid.missing");
    await expectRefused(sign(ecKey.privateKey, { alg: "ES256", kid: 42 }), "jwt.kid.missing");
    await expectRefused(sign(ecKey.privateKey, { alg: "ES256", kid: `${ecKey.parsed.kid}x` }), "jwt.kid.unknown");
  });

  it("refuses a typ that is not a JWT (a token of another kind replayed here)", async () => {
    const result = await expectRefused(es256(undefined, { typ: "dpop+jwt" }), "jwt.header.typ");
    expect(result.findings.at(-1)!.params).toEqual({ typ: "dpop+jwt" });
  });

  it("refuses a crit header, which asks the verifier to understand extensions it does not know", async () => {
    // jose refuses to sign it, so it is signed by hand, correctly, with the registered key.
    const input = `${enc({ alg: "ES256", kid: ecKey.parsed.kid, crit: ["exp"], exp: NOW_S + 60 })}.${enc(goodClaims())}`;
    const signature = nodeSign("sha256", Buffer.from(input), { key: ecKey.privateKey, dsaEncoding: "ieee-p1363" }).toString("base64url");
    const result = await check(`${input}.${signature}`);
    expect(result.ok).toBe(false);
    expect(result.findings.at(-1)).toMatchObject({ check: "header", ok: false, messageKey: "jwt.header.crit" });
  });
});

describe("claims the environment requires", () => {
  it("refuses the wrong issuer, subject or audience, saying what was expected and what came", async () => {
    let result = await expectRefused(es256({ ...goodClaims(), iss: OTHER_CLIENT_ID }), "jwt.iss.wrong");
    expect(result.findings.find((f) => !f.ok)!.params).toEqual({ expected: CLIENT_ID, actual: OTHER_CLIENT_ID });
    result = await expectRefused(es256({ ...goodClaims(), sub: "someone-else" }), "jwt.sub.wrong");
    expect(result.findings.find((f) => !f.ok)!.params).toEqual({ expected: CLIENT_ID, actual: "someone-else" });
    result = await expectRefused(es256({ ...goodClaims(), aud: CLAIM_RULES.test.audience }), "jwt.aud.wrong");
    expect(result.findings.find((f) => !f.ok)!.params).toEqual({ expected: SIMULATOR.audience, actual: CLAIM_RULES.test.audience });
    result = await expectRefused(es256({ ...goodClaims(), aud: undefined }), "jwt.aud.wrong");
    expect(result.findings.find((f) => !f.ok)!.params).toMatchObject({ actual: "—" });
    await expectRefused(es256({ ...goodClaims(), aud: [CLAIM_RULES.production.audience, "https://elsewhere.example"] }), "jwt.aud.wrong");
    await expectRefused(es256({ ...goodClaims(), iss: undefined }), "jwt.iss.wrong");
    // A token for the simulator is not a token for production.
    const refused = await check(await es256(), { environment: "production" });
    expect(failures(refused)).toEqual(["jwt.aud.wrong"]);
  });

  it("refuses a token without exp, iat or jti, or with them in the wrong form", async () => {
    await expectRefused(es256({ ...goodClaims(), exp: undefined }), "jwt.exp.missing");
    await expectRefused(es256({ ...goodClaims(), exp: String(NOW_S + 300) }), "jwt.exp.missing");
    await expectRefused(es256({ ...goodClaims(), iat: undefined }), "jwt.iat.missing");
    await expectRefused(es256({ ...goodClaims(), jti: undefined }), "jwt.jti.missing");
    await expectRefused(es256({ ...goodClaims(), jti: "" }), "jwt.jti.missing");
    await expectRefused(es256({ ...goodClaims(), jti: 12345 }), "jwt.jti.missing");
    // Everything missing at once: each is explained.
    const result = await check(await es256({ iss: CLIENT_ID, sub: CLIENT_ID, aud: SIMULATOR.audience }));
    expect(failures(result)).toEqual(["jwt.exp.missing", "jwt.iat.missing", "jwt.jti.missing"]);
  });

  it("refuses an expired token, saying how long ago it expired", async () => {
    const result = await expectRefused(es256({ ...goodClaims(), iat: NOW_S - 400, exp: NOW_S - 100 }), "jwt.exp.expired");
    expect(result.findings.find((f) => !f.ok)!.params).toEqual({ ago: 100 });
    // The same token was fine when it was fresh.
    expect((await check(await es256({ ...goodClaims(), iat: NOW_S - 400, exp: NOW_S - 100 }), { now: new Date((NOW_S - 200) * 1000) })).ok).toBe(true);
  });

  it("refuses a token issued in the future beyond the clock skew, and one not valid yet (nbf)", async () => {
    const result = await expectRefused(es256({ ...goodClaims(), iat: NOW_S + 120, exp: NOW_S + 400 }), "jwt.iat.future");
    expect(result.findings.find((f) => !f.ok)!.params).toEqual({ ahead: 120 });
    await expectRefused(es256({ ...goodClaims(), nbf: NOW_S + 120 }), "jwt.nbf.future");
  });

  it("refuses a lifetime longer than the environment allows: an hour in the simulator, fifteen minutes in test, five in production", async () => {
    let result = await expectRefused(es256({ ...goodClaims(), exp: NOW_S + 3601 }), "jwt.lifetime.tooLong");
    expect(result.findings.find((f) => !f.ok)!.params).toEqual({ lifetime: 3601, max: 3600 });
    result = await expectRefused(es256({ ...goodClaims(), aud: CLAIM_RULES.test.audience, exp: NOW_S + 901 }), "jwt.lifetime.tooLong", { environment: "test" });
    expect(result.findings.find((f) => !f.ok)!.params).toEqual({ lifetime: 901, max: 900 });
    result = await expectRefused(es256({ ...goodClaims(), aud: CLAIM_RULES.production.audience, exp: NOW_S + 600 }), "jwt.lifetime.tooLong", { environment: "production" });
    expect(result.findings.find((f) => !f.ok)!.params).toEqual({ lifetime: 600, max: 300 });
    // A token that "never" expires.
    await expectRefused(es256({ ...goodClaims(), exp: NOW_S + 10 * 365 * 24 * 3600 }), "jwt.lifetime.tooLong");
  });

  it("lists every failed claim at once, so the participant fixes them in one go", async () => {
    const result = await check(await es256({ iss: "x", sub: "y", aud: "z", iat: NOW_S - 7200, exp: NOW_S - 120 }));
    expect(failures(result)).toEqual(["jwt.iss.wrong", "jwt.sub.wrong", "jwt.aud.wrong", "jwt.exp.expired", "jwt.lifetime.tooLong", "jwt.jti.missing"]);
  });
});

describe("things that are not a JWT", () => {
  it("explains what is wrong with the shape", async () => {
    const [header, payload, signature] = (await es256()).split(".");
    await expectRefused("", "jwt.format.invalid");
    await expectRefused("not a token", "jwt.format.invalid");
    await expectRefused(`${header}.${payload}`, "jwt.format.invalid");
    await expectRefused(`${header}.${payload}.${signature}.extra`, "jwt.format.invalid");
    await expectRefused(`${header}.${payload}.${signature}==`, "jwt.format.invalid");
    await expectRefused(`${header}.${payload}.${signature!.slice(0, 10)}\n${signature!.slice(10)}`, "jwt.format.invalid");
    await expectRefused(JSON.stringify({ protected: header, payload, signature }), "jwt.format.invalid");
    await expectRefused(`${base64url.encode("not json")}.${payload}.${signature}`, "jwt.format.header");
    await expectRefused(`${header}.${base64url.encode("not json")}.${signature}`, "jwt.format.payload");
    await expectRefused(`${header}.${enc(["an", "array"])}.${signature}`, "jwt.format.payload");
    await expectRefused(`${header}.${enc("a string")}.${signature}`, "jwt.format.payload");
  });
});

describe("proof of possession", () => {
  const NONCE = "nonce-from-the-console-0123456789";
  const popClaims = (overrides: Record<string, unknown> = {}) => ({ nonce: NONCE, aud: POP_AUDIENCE, sub: CLIENT_ID, iat: NOW_S, exp: NOW_S + 600, ...overrides });
  const verify = (proof: string, key: ParsedKey = ecKey.parsed) => verifyProofOfPossession(proof, key, CLIENT_ID, NONCE, NOW);

  it("accepts a proof over the challenge signed with the new key", async () => {
    expect(await verify(await sign(ecKey.privateKey, { alg: "ES256" }, popClaims()))).toEqual({ ok: true });
    expect(await verify(await sign(rsaKey.privateKey, { alg: "RS256" }, popClaims()), rsaKey.parsed)).toEqual({ ok: true });
    expect(await verify(`  ${await sign(ecKey.privateKey, { alg: "ES256" }, popClaims())}\n`)).toEqual({ ok: true });
  });

  it("refuses a proof signed by another key, unsigned, or signed as an HMAC with the public key", async () => {
    expect(await verify(await sign(attackerEc.privateKey, { alg: "ES256" }, popClaims()))).toEqual({ ok: false, messageKey: "credentials.pop.signature" });
    expect(await verify(`${enc({ alg: "none" })}.${enc(popClaims())}.`)).toEqual({ ok: false, messageKey: "credentials.pop.alg" });
    const secret = new TextEncoder().encode(ecKey.publicKey.export({ type: "spki", format: "pem" }).toString());
    expect(await verify(await sign(secret, { alg: "HS256" }, popClaims()))).toEqual({ ok: false, messageKey: "credentials.pop.alg" });
    expect(await verify(await sign(attackerRsa.privateKey, { alg: "RS256" }, popClaims()))).toEqual({ ok: false, messageKey: "credentials.pop.alg" });
    // An embedded key does not stand in for the key being registered.
    const embedded = await sign(attackerEc.privateKey, { alg: "ES256", jwk: attackerEc.publicKey.export({ format: "jwk" }) }, popClaims());
    expect(await verify(embedded)).toEqual({ ok: false, messageKey: "credentials.pop.signature" });
  });

  it("refuses a proof over another challenge, for another audience or client, or expired", async () => {
    expect(await verify(await sign(ecKey.privateKey, { alg: "ES256" }, popClaims({ nonce: "another-nonce-0123456789" })))).toEqual({ ok: false, messageKey: "credentials.pop.nonce" });
    expect(await verify(await sign(ecKey.privateKey, { alg: "ES256" }, popClaims({ nonce: undefined })))).toEqual({ ok: false, messageKey: "credentials.pop.nonce" });
    expect(await verify(await sign(ecKey.privateKey, { alg: "ES256" }, popClaims({ aud: SIMULATOR.audience })))).toEqual({ ok: false, messageKey: "credentials.pop.claims" });
    expect(await verify(await sign(ecKey.privateKey, { alg: "ES256" }, popClaims({ sub: OTHER_CLIENT_ID })))).toEqual({ ok: false, messageKey: "credentials.pop.claims" });
    expect(await verify(await sign(ecKey.privateKey, { alg: "ES256" }, popClaims({ exp: NOW_S - 3600 })))).toEqual({ ok: false, messageKey: "credentials.pop.expired" });
    expect(await verify(await sign(ecKey.privateKey, { alg: "ES256" }, popClaims({ exp: undefined })))).toEqual({ ok: false, messageKey: "credentials.pop.expired" });
  });

  it("refuses something that is not a signed JWT", async () => {
    expect(await verify("not a jwt")).toEqual({ ok: false, messageKey: "credentials.pop.unreadable" });
    expect(await verify("")).toEqual({ ok: false, messageKey: "credentials.pop.unreadable" });
  });
});
