import { createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from "node:crypto";
import { calculateJwkThumbprint, type JWK } from "jose";
import { describe, expect, it } from "vitest";
import { parsePublicKey, type KeyResult } from "~/modules/credentials/keys.server";
import type { MessageKey } from "~/i18n/messages";
import { rsaKeyPair } from "../support/keys";

/**
 * The public keys a participant pastes when registering an API key (SPEC §5): RSA of at least 2048 bits or EC
 * P-256, as an SPKI PEM or a JWK; everything else is refused with a message that says why. Keys are made with
 * node's own crypto, the way a participant's tooling would make them.
 */

const pem = (key: KeyObject) => key.export({ type: "spki", format: "pem" }).toString();
const jwkText = (key: KeyObject) => JSON.stringify(key.export({ format: "jwk" }));

function refusal(result: KeyResult): { messageKey: MessageKey; params?: Record<string, string | number> } {
  if (result.ok) throw new Error(`expected a refusal, but the key was accepted as ${result.key.description}`);
  return { messageKey: result.messageKey, ...(result.params ? { params: result.params } : {}) };
}

function accepted(result: KeyResult) {
  if (!result.ok) throw new Error(`expected the key to be accepted, but it was refused with ${result.messageKey} ${JSON.stringify(result.params ?? {})}`);
  return result.key;
}

const rsa = (modulusLength: number) => rsaKeyPair(modulusLength);
const ec = (namedCurve: string) => generateKeyPairSync("ec", { namedCurve });

describe("accepted public keys", () => {
  const cases = [
    { name: "RSA 2048", pair: () => rsa(2048), description: "RSA 2048 bits", alg: "RS256" },
    { name: "RSA 3072", pair: () => rsa(3072), description: "RSA 3072 bits", alg: "RS256" },
    { name: "RSA 4096", pair: () => rsa(4096), description: "RSA 4096 bits", alg: "RS256" },
    { name: "EC P-256", pair: () => ec("prime256v1"), description: "EC P-256", alg: "ES256" },
  ] as const;

  for (const c of cases) {
    it(`accepts ${c.name} as a PEM and as a JWK, with the same RFC 7638 thumbprint as kid`, async () => {
      const { publicKey } = c.pair();
      const fromPem = accepted(await parsePublicKey(pem(publicKey)));
      const fromJwk = accepted(await parsePublicKey(jwkText(publicKey)));
      const expectedKid = await calculateJwkThumbprint(publicKey.export({ format: "jwk" }) as JWK, "sha256");
      for (const key of [fromPem, fromJwk]) {
        expect(key.kid).toBe(expectedKid);
        expect(key.alg).toBe(c.alg);
        expect(key.description).toBe(c.description);
        // Only the public members are kept, and they are the key itself.
        expect(Object.keys(key.jwk).sort()).toEqual(c.alg === "ES256" ? ["crv", "kty", "x", "y"] : ["e", "kty", "n"]);
        expect(createPublicKey({ key: key.jwk, format: "jwk" }).equals(publicKey)).toBe(true);
      }
      expect(fromJwk.jwk).toEqual(fromPem.jwk);
    });
  }

  it("registers an RSA key for PS256 when asked, or when its JWK says so", async () => {
    const { publicKey } = rsa(2048);
    expect(accepted(await parsePublicKey(pem(publicKey), "PS256")).alg).toBe("PS256");
    expect(accepted(await parsePublicKey(JSON.stringify({ ...(publicKey.export({ format: "jwk" }) as JWK), alg: "PS256" }))).alg).toBe("PS256");
    expect(accepted(await parsePublicKey(pem(publicKey))).alg).toBe("RS256");
  });

  it("ignores a kid, use or alg the JWK brings along: the kid is always the thumbprint, and only public members are kept", async () => {
    const { publicKey } = ec("prime256v1");
    const jwk = publicKey.export({ format: "jwk" }) as JWK;
    const key = accepted(await parsePublicKey(JSON.stringify({ ...jwk, kid: "my-own-key-id", use: "sig", alg: "ES256", key_ops: ["verify"] })));
    expect(key.kid).toBe(await calculateJwkThumbprint(jwk, "sha256"));
    expect(key.jwk).toEqual({ kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y });
  });

  it("accepts a pasted key with blank lines and spaces around it", async () => {
    const { publicKey } = ec("prime256v1");
    expect((await parsePublicKey(`\n\n  ${pem(publicKey)}  \n`)).ok).toBe(true);
    expect((await parsePublicKey(`  ${jwkText(publicKey)}\n`)).ok).toBe(true);
  });
});

describe("refused public keys", () => {
  it("refuses RSA 1024 in both forms, saying how many bits it has", async () => {
    const { publicKey } = rsa(1024);
    const expected = { messageKey: "credentials.key.rsaTooShort", params: { bits: 1024 } };
    expect(refusal(await parsePublicKey(pem(publicKey)))).toEqual(expected);
    expect(refusal(await parsePublicKey(jwkText(publicKey)))).toEqual(expected);
  });

  it("refuses an RSA key one bit short of 2048, even though its modulus fills 256 bytes", async () => {
    const { publicKey } = rsa(2047);
    expect(refusal(await parsePublicKey(pem(publicKey)))).toEqual({ messageKey: "credentials.key.rsaTooShort", params: { bits: 2047 } });
    // A JWK whose modulus is padded with a leading zero byte is no longer for it.
    const jwk = rsa(2040).publicKey.export({ format: "jwk" }) as JWK;
    const padded = Buffer.concat([Buffer.from([0]), Buffer.from(jwk.n!, "base64url")]).toString("base64url");
    expect(refusal(await parsePublicKey(JSON.stringify({ ...jwk, n: padded })))).toEqual({ messageKey: "credentials.key.rsaTooShort", params: { bits: 2040 } });
  });

  it("refuses EC keys on other curves, naming the curve", async () => {
    expect(refusal(await parsePublicKey(pem(ec("secp384r1").publicKey)))).toEqual({ messageKey: "credentials.key.curve", params: { curve: "P-384" } });
    expect(refusal(await parsePublicKey(jwkText(ec("secp384r1").publicKey)))).toEqual({ messageKey: "credentials.key.curve", params: { curve: "P-384" } });
    expect(refusal(await parsePublicKey(pem(ec("secp521r1").publicKey)))).toEqual({ messageKey: "credentials.key.curve", params: { curve: "P-521" } });
    expect(refusal(await parsePublicKey(pem(ec("secp256k1").publicKey)))).toEqual({ messageKey: "credentials.key.curve", params: { curve: "secp256k1" } });
  });

  it("refuses Ed25519 and X25519 keys, naming the type", async () => {
    const ed = generateKeyPairSync("ed25519").publicKey;
    expect(refusal(await parsePublicKey(pem(ed)))).toEqual({ messageKey: "credentials.key.type", params: { type: "OKP Ed25519" } });
    expect(refusal(await parsePublicKey(jwkText(ed)))).toEqual({ messageKey: "credentials.key.type", params: { type: "OKP Ed25519" } });
    const x = generateKeyPairSync("x25519").publicKey;
    expect(refusal(await parsePublicKey(pem(x)))).toEqual({ messageKey: "credentials.key.type", params: { type: "OKP X25519" } });
  });

  it("refuses an HMAC (oct) JWK as a shared secret, with or without its key value", async () => {
    const k = randomBytes(32).toString("base64url");
    expect(refusal(await parsePublicKey(JSON.stringify({ kty: "oct", k, alg: "HS256" })))).toEqual({ messageKey: "credentials.key.symmetric" });
    expect(refusal(await parsePublicKey(JSON.stringify({ kty: "oct", alg: "HS256" })))).toEqual({ messageKey: "credentials.key.symmetric" });
  });

  it("refuses private keys in every PEM form and as a JWK, warning that a private key is never shared", async () => {
    const rsaPair = rsa(2048);
    const ecPair = ec("prime256v1");
    const privatePems = [
      rsaPair.privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
      rsaPair.privateKey.export({ type: "pkcs1", format: "pem" }).toString(),
      ecPair.privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
      ecPair.privateKey.export({ type: "sec1", format: "pem" }).toString(),
      ecPair.privateKey.export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "a passphrase" }).toString(),
      // A public key pasted together with its private key is refused as a whole.
      `${pem(ecPair.publicKey)}\n${ecPair.privateKey.export({ type: "pkcs8", format: "pem" }).toString()}`,
    ];
    expect(privatePems.map((p) => p.split("\n")[0])).toContain("-----BEGIN ENCRYPTED PRIVATE KEY-----");
    for (const p of privatePems) expect(refusal(await parsePublicKey(p))).toEqual({ messageKey: "credentials.key.private" });
    for (const key of [rsaPair.privateKey, ecPair.privateKey]) {
      expect(refusal(await parsePublicKey(JSON.stringify(key.export({ format: "jwk" }))))).toEqual({ messageKey: "credentials.key.private" });
    }
    // Only a private member, the rest looking public: still refused.
    const { d } = rsaPair.privateKey.export({ format: "jwk" }) as JWK;
    expect(refusal(await parsePublicKey(JSON.stringify({ ...(rsaPair.publicKey.export({ format: "jwk" }) as JWK), p: d })))).toEqual({ messageKey: "credentials.key.private" });
  });

  it("refuses a certificate and a PKCS#1 public key, asking for the SubjectPublicKeyInfo PEM or a JWK", async () => {
    const certificate = `-----BEGIN CERTIFICATE-----\n${randomBytes(600).toString("base64").replace(/(.{64})/g, "$1\n")}\n-----END CERTIFICATE-----\n`;
    expect(refusal(await parsePublicKey(certificate))).toEqual({ messageKey: "credentials.key.format" });
    const pkcs1 = rsa(2048).publicKey.export({ type: "pkcs1", format: "pem" }).toString();
    expect(pkcs1).toContain("BEGIN RSA PUBLIC KEY");
    expect(refusal(await parsePublicKey(pkcs1))).toEqual({ messageKey: "credentials.key.format" });
  });

  it("refuses garbage, a damaged PEM and broken JWKs as unreadable, and an empty field as empty", async () => {
    const good = pem(ec("prime256v1").publicKey);
    const ecJwk = ec("prime256v1").publicKey.export({ format: "jwk" }) as JWK;
    const rsaJwk = rsa(2048).publicKey.export({ format: "jwk" }) as JWK;
    const offCurve = { ...ecJwk, y: Buffer.alloc(32, 7).toString("base64url") };
    const unreadable = [
      "hello, this is my key",
      "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ user@host",
      good.replace(/[A-Za-z0-9+/]{20}/, "!!!!!!!!!!!!!!!!!!!!"),
      good.slice(0, 80) + "\n-----END PUBLIC KEY-----",
      "{ not json",
      JSON.stringify({ kty: "RSA", e: "AQAB" }),
      JSON.stringify({ kty: "EC", crv: "P-256", x: ecJwk.x }),
      JSON.stringify(offCurve),
      JSON.stringify({ ...rsaJwk, n: undefined }),
    ];
    for (const input of unreadable) expect(refusal(await parsePublicKey(input)), input.slice(0, 60)).toEqual({ messageKey: "credentials.key.unreadable" });
    expect(refusal(await parsePublicKey(""))).toEqual({ messageKey: "credentials.key.empty" });
    expect(refusal(await parsePublicKey("   \n  "))).toEqual({ messageKey: "credentials.key.empty" });
  });

  it("refuses a JWK of an unknown key type, naming it", async () => {
    expect(refusal(await parsePublicKey(JSON.stringify({ kty: "DSA", y: "AQAB" })))).toEqual({ messageKey: "credentials.key.type", params: { type: "DSA" } });
    expect(refusal(await parsePublicKey(JSON.stringify({ x: "AQAB" })))).toEqual({ messageKey: "credentials.key.type", params: { type: "?" } });
  });
});
