import { generateKeyPairSync, randomUUID, type KeyObject } from "node:crypto";
import { SignJWT } from "jose";
import type { ApiClient } from "../../db/schema";
import { CLAIM_RULES, POP_AUDIENCE } from "../../app/modules/credentials/claim-rules";
import { createClient, issueChallenge, registerKey } from "../../app/modules/credentials/service.server";
import type { ServiceContext } from "../../app/modules/context.server";

/** An API client with a key whose private half the test keeps, and a signer of gateway tokens for it. */
export interface SignedClient {
  client: ApiClient;
  kid: string;
  token(overrides?: { audience?: string; expiresIn?: string }): Promise<string>;
}

export async function clientWithPrivateKey(maker: ServiceContext, participantId: string, environment: "simulator" | "test" = "simulator"): Promise<SignedClient> {
  const client = await createClient(maker, { participantId, environment, name: `Signed ${randomUUID().slice(0, 6)}`, ownerUserId: maker.actor.userId! });
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const { nonce } = await issueChallenge(maker, { clientId: client.id });
  const proof = await new SignJWT({ nonce }).setProtectedHeader({ alg: "ES256" }).setAudience(POP_AUDIENCE).setSubject(client.clientId).setIssuedAt().setExpirationTime("10m").sign(privateKey);
  const expiresOn = new Date(Date.now() + 200 * 24 * 3600 * 1000).toISOString().slice(0, 10);
  const key = await registerKey(maker, { clientId: client.id, publicKey: publicKey.export({ type: "spki", format: "pem" }).toString(), proof, nonce, expiresOn });
  return { client, kid: key.kid, token: (o = {}) => gatewayToken(privateKey, client.clientId, key.kid, o.audience ?? CLAIM_RULES[environment].audience, o.expiresIn ?? "5m") };
}

export function gatewayToken(privateKey: KeyObject, clientId: string, kid: string, audience: string, expiresIn: string): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: "ES256", kid, typ: "JWT" })
    .setIssuer(clientId)
    .setSubject(clientId)
    .setAudience(audience)
    .setIssuedAt()
    .setJti(randomUUID())
    .setExpirationTime(expiresIn)
    .sign(privateKey);
}
