import { createPublicKey } from "node:crypto";
import { calculateJwkThumbprint, compactVerify, decodeProtectedHeader, importJWK, type JWK } from "jose";
import type { MessageKey } from "~/i18n/messages";
import { CLAIM_RULES, POP_AUDIENCE, type ClaimRules } from "./claim-rules";
import type { ApiEnvironment } from "../../../db/schema/credentials";

export type KeyAlg = "RS256" | "PS256" | "ES256";

export interface ParsedKey {
  jwk: Record<string, string>;
  kid: string;
  /** The algorithm the key is registered for. */
  alg: KeyAlg;
  description: string;
}

export type KeyResult = { ok: true; key: ParsedKey } | { ok: false; messageKey: MessageKey; params?: Record<string, string | number> };

function refuse(messageKey: MessageKey, params?: Record<string, string | number>): KeyResult {
  return { ok: false, messageKey, params };
}

/** The exact bit length of a base64url big-endian integer: a 2047-bit modulus also fills 256 bytes. */
function base64urlBits(value: string): number {
  const bytes = Buffer.from(value, "base64url");
  const first = bytes.findIndex((b) => b !== 0);
  return first === -1 ? 0 : (bytes.length - first) * 8 - (Math.clz32(bytes[first]!) - 24);
}

/**
 * Reads a public key given as PEM (SPKI) or JWK and accepts only RSA of at least 2048 bits or EC P-256. A private
 * key is refused with a warning; nothing of it is kept.
 */
export async function parsePublicKey(text: string, preferredRsaAlg: "RS256" | "PS256" = "RS256"): Promise<KeyResult> {
  const input = text.trim();
  if (!input) return refuse("credentials.key.empty");
  if (/PRIVATE KEY/.test(input)) return refuse("credentials.key.private");
  let jwk: JWK;
  try {
    if (input.startsWith("{")) {
      const parsed = JSON.parse(input) as JWK;
      if (typeof parsed !== "object" || parsed === null) return refuse("credentials.key.unreadable");
      if ("d" in parsed || "p" in parsed || "k" in parsed) return parsed.kty === "oct" ? refuse("credentials.key.symmetric") : refuse("credentials.key.private");
      jwk = parsed;
    } else if (input.includes("BEGIN PUBLIC KEY")) {
      // Node reads any SPKI (RSA, EC of any curve, Ed25519…) so the refusal below can name what was given.
      const key = createPublicKey({ key: input, format: "pem" });
      jwk = key.export({ format: "jwk" }) as JWK;
    } else if (input.includes("BEGIN RSA PUBLIC KEY") || input.includes("BEGIN CERTIFICATE")) {
      return refuse("credentials.key.format");
    } else {
      return refuse("credentials.key.unreadable");
    }
  } catch {
    return refuse("credentials.key.unreadable");
  }
  let alg: KeyAlg;
  let description: string;
  if (jwk.kty === "RSA") {
    if (!jwk.n || !jwk.e) return refuse("credentials.key.unreadable");
    const bits = base64urlBits(jwk.n);
    if (bits < 2048) return refuse("credentials.key.rsaTooShort", { bits });
    alg = jwk.alg === "PS256" ? "PS256" : preferredRsaAlg;
    description = `RSA ${bits} bits`;
  } else if (jwk.kty === "EC") {
    if (jwk.crv !== "P-256") return refuse("credentials.key.curve", { curve: jwk.crv ?? "?" });
    if (!jwk.x || !jwk.y) return refuse("credentials.key.unreadable");
    alg = "ES256";
    description = "EC P-256";
  } else if (jwk.kty === "oct") {
    return refuse("credentials.key.symmetric");
  } else {
    return refuse("credentials.key.type", { type: `${jwk.kty ?? "?"}${jwk.crv ? ` ${jwk.crv}` : ""}` });
  }
  // Only the public members are kept, in their canonical form; the key must actually load as a public key.
  const publicJwk: Record<string, string> =
    jwk.kty === "RSA" ? { kty: "RSA", n: jwk.n!, e: jwk.e! } : { kty: "EC", crv: "P-256", x: jwk.x!, y: jwk.y! };
  try {
    await importJWK({ ...publicJwk, alg }, alg);
  } catch {
    return refuse("credentials.key.unreadable");
  }
  const kid = await calculateJwkThumbprint(publicJwk, "sha256");
  return { ok: true, key: { jwk: publicJwk, kid, alg, description } };
}

/** Algorithms a registered key may sign with: an RSA key RS256 or PS256, an EC P-256 key ES256. */
export function algorithmsFor(key: Pick<ParsedKey, "jwk">): KeyAlg[] {
  return key.jwk.kty === "RSA" ? ["RS256", "PS256"] : ["ES256"];
}

export interface Finding {
  check: string;
  ok: boolean;
  messageKey: MessageKey;
  params?: Record<string, string | number>;
}

export interface RegisteredKey {
  kid: string;
  jwk: Record<string, string>;
  alg: string;
  status: "active" | "revoked";
  validFrom: Date;
  expiresAt: Date;
  revokedAt: Date | null;
}

export interface JwtCheckResult {
  ok: boolean;
  findings: Finding[];
  header: Record<string, unknown> | null;
  claims: Record<string, unknown> | null;
}

const FORBIDDEN_HEADERS = ["jku", "x5u", "jwk", "x5c"] as const;

/**
 * Verifies a JWT the way the gateway must (RFC 8725): an asymmetric algorithm from the allow-list, never "none" or
 * an HMAC; no key or key URL taken from the token itself; the key picked by kid among this client's registered keys
 * and valid now; the signature checked with that key and the token's own algorithm only when the key allows it; then
 * every claim the environment's rules require. Each check answers in plain words.
 */
export async function checkJwt(
  token: string,
  clientId: string,
  environment: ApiEnvironment,
  keys: readonly RegisteredKey[],
  now: Date,
  rules: ClaimRules = CLAIM_RULES[environment],
): Promise<JwtCheckResult> {
  const findings: Finding[] = [];
  const fail = (check: string, messageKey: MessageKey, params?: Finding["params"]): JwtCheckResult => {
    findings.push({ check, ok: false, messageKey, params });
    return { ok: false, findings, header, claims };
  };
  const pass = (check: string, messageKey: MessageKey, params?: Finding["params"]) => findings.push({ check, ok: true, messageKey, params });
  let header: Record<string, unknown> | null = null;
  let claims: Record<string, unknown> | null = null;

  const compact = token.trim().replace(/^Bearer\s+/i, "");
  const parts = compact.split(".");
  if (parts.length === 5) return fail("format", "jwt.format.encrypted");
  if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]*$/.test(p))) return fail("format", "jwt.format.invalid");
  try {
    header = decodeProtectedHeader(compact) as Record<string, unknown>;
  } catch {
    return fail("format", "jwt.format.header");
  }
  try {
    claims = JSON.parse(Buffer.from(parts[1]!, "base64url").toString("utf8")) as Record<string, unknown>;
    if (typeof claims !== "object" || claims === null || Array.isArray(claims)) throw new Error("not an object");
  } catch {
    claims = null;
    return fail("format", "jwt.format.payload");
  }
  pass("format", "jwt.format.ok");

  const alg = typeof header.alg === "string" ? header.alg : "";
  if (!alg || alg.toLowerCase() === "none") return fail("alg", "jwt.alg.none");
  if (/^HS/i.test(alg)) return fail("alg", "jwt.alg.hmac", { alg });
  if (!(rules.algorithms as readonly string[]).includes(alg)) return fail("alg", "jwt.alg.notAllowed", { alg, allowed: rules.algorithms.join(", ") });
  pass("alg", "jwt.alg.ok", { alg });

  const embedded = FORBIDDEN_HEADERS.filter((h) => h in header!);
  if (embedded.length) return fail("header", "jwt.header.embeddedKey", { headers: embedded.join(", ") });
  // No header extension is understood here, so one marked critical must be refused (RFC 7515 §4.1.11).
  if ("crit" in header) return fail("header", "jwt.header.crit");
  if (header.typ !== undefined && typeof header.typ === "string" && !/^(JWT|application\/jwt)$/i.test(header.typ)) {
    return fail("header", "jwt.header.typ", { typ: header.typ });
  }

  const kid = typeof header.kid === "string" ? header.kid : "";
  if (!kid) return fail("kid", "jwt.kid.missing");
  const key = keys.find((k) => k.kid === kid);
  if (!key) return fail("kid", "jwt.kid.unknown", { kid, clientId });
  if (key.status === "revoked" || (key.revokedAt && key.revokedAt <= now)) return fail("kid", "jwt.kid.revoked", { kid });
  if (key.expiresAt <= now) return fail("kid", "jwt.kid.expired", { kid, expiresAt: key.expiresAt.toISOString() });
  if (key.validFrom > now) return fail("kid", "jwt.kid.notYetValid", { kid });
  // RFC 8725 §3.1: a key is used with exactly one algorithm, the one it is registered (and published in the JWKS) for.
  const allowed = [key.alg];
  if (!allowed.includes(alg)) return fail("alg", "jwt.alg.keyMismatch", { alg, kid, allowed: allowed.join(", ") });
  pass("kid", "jwt.kid.ok", { kid });

  try {
    const publicKey = await importJWK({ ...key.jwk, alg }, alg);
    await compactVerify(compact, publicKey, { algorithms: [alg] });
  } catch {
    return fail("signature", "jwt.signature.invalid", { kid });
  }
  pass("signature", "jwt.signature.ok");

  const c = claims;
  const nowSeconds = Math.floor(now.getTime() / 1000);
  const skew = rules.clockSkewSeconds;
  const results: Finding[] = [];
  const check = (name: string, ok: boolean, okKey: MessageKey, failKey: MessageKey, params?: Finding["params"]) =>
    results.push({ check: name, ok, messageKey: ok ? okKey : failKey, params });
  check("iss", c.iss === clientId, "jwt.iss.ok", "jwt.iss.wrong", { expected: clientId, actual: String(c.iss ?? "—") });
  check("sub", c.sub === clientId, "jwt.sub.ok", "jwt.sub.wrong", { expected: clientId, actual: String(c.sub ?? "—") });
  const aud = Array.isArray(c.aud) ? c.aud : [c.aud];
  check("aud", aud.includes(rules.audience), "jwt.aud.ok", "jwt.aud.wrong", { expected: rules.audience, actual: aud.filter(Boolean).join(", ") || "—" });
  const exp = typeof c.exp === "number" ? c.exp : null;
  const iat = typeof c.iat === "number" ? c.iat : null;
  if (exp === null) check("exp", false, "jwt.exp.ok", "jwt.exp.missing");
  else check("exp", exp + skew > nowSeconds, "jwt.exp.ok", "jwt.exp.expired", { ago: nowSeconds - exp });
  if (iat === null) check("iat", false, "jwt.iat.ok", "jwt.iat.missing");
  else check("iat", iat - skew <= nowSeconds, "jwt.iat.ok", "jwt.iat.future", { ahead: iat - nowSeconds });
  if (typeof c.nbf === "number") check("nbf", c.nbf - skew <= nowSeconds, "jwt.nbf.ok", "jwt.nbf.future");
  if (exp !== null && iat !== null) {
    if (exp <= iat) check("lifetime", false, "jwt.lifetime.ok", "jwt.lifetime.order");
    else check("lifetime", exp - iat <= rules.maxLifetimeSeconds, "jwt.lifetime.ok", "jwt.lifetime.tooLong", { lifetime: exp - iat, max: rules.maxLifetimeSeconds });
  }
  if (rules.requireTokenId) check("jti", typeof c.jti === "string" && c.jti.length > 0, "jwt.jti.ok", "jwt.jti.missing");
  findings.push(...results);
  return { ok: findings.every((f) => f.ok), findings, header, claims };
}

/**
 * Proof of possession: a JWT over the console's challenge, signed with the private half of the key being
 * registered — aud the console's registration audience, sub the client ID, nonce the challenge, short-lived.
 */
export async function verifyProofOfPossession(
  proof: string,
  key: ParsedKey,
  clientId: string,
  nonce: string,
  now: Date,
): Promise<{ ok: true } | { ok: false; messageKey: MessageKey }> {
  let alg: string;
  try {
    alg = String(decodeProtectedHeader(proof.trim()).alg ?? "");
  } catch {
    return { ok: false, messageKey: "credentials.pop.unreadable" };
  }
  if (!(algorithmsFor(key) as string[]).includes(alg)) return { ok: false, messageKey: "credentials.pop.alg" };
  try {
    const publicKey = await importJWK({ ...key.jwk, alg }, alg);
    const { payload } = await compactVerify(proof.trim(), publicKey, { algorithms: [alg] });
    const claims = JSON.parse(new TextDecoder().decode(payload)) as Record<string, unknown>;
    const nowSeconds = Math.floor(now.getTime() / 1000);
    if (claims.nonce !== nonce) return { ok: false, messageKey: "credentials.pop.nonce" };
    if (claims.aud !== POP_AUDIENCE || claims.sub !== clientId) return { ok: false, messageKey: "credentials.pop.claims" };
    if (typeof claims.exp !== "number" || claims.exp + 60 < nowSeconds) return { ok: false, messageKey: "credentials.pop.expired" };
    return { ok: true };
  } catch {
    return { ok: false, messageKey: "credentials.pop.signature" };
  }
}
