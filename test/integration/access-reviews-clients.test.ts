import { eq } from "drizzle-orm";
import { generateKeyPairSync } from "node:crypto";
import { SignJWT } from "jose";
import { beforeAll, expect, it } from "vitest";
import { apiClients, apiKeys, auditEvents } from "../../db/schema";
import { type AppError } from "../../app/lib/errors";
import { systemContext } from "../../app/modules/context.server";
import { POP_AUDIENCE } from "../../app/modules/credentials/claim-rules";
import { createClient, issueChallenge, jwks, registerKey } from "../../app/modules/credentials/service.server";
import { closeCampaign, decideItem, getCampaign, openCampaign } from "../../app/modules/reviews/service.server";
import { contextFor, createConsoleUser, registerParticipant } from "../factories";
import { describeEachDatabase } from "../support/databases";
import { TestClock } from "../support/clock";

const inDays = (days: number) => new Date(Date.now() + days * 24 * 3600 * 1000 + 8 * 3600 * 1000).toISOString().slice(0, 10);

describeEachDatabase("access reviews of API clients and their owners (SPEC §8)", (use) => {
  beforeAll(async () => {
    const db = use().db;
    await registerParticipant(db, { id: "R00001" });
    for (const [email, role] of [
      ["maker@r00001.test", "da_maker"],
      ["checker@r00001.test", "da_checker"],
      ["compliance@r00001.test", "compliance_reviewer"],
    ] as const) {
      await createConsoleUser(db, { email, participantId: role === "compliance_reviewer" ? null : "R00001", password: null, roleCodes: [role] });
    }
  });

  /** An active simulator client of R00001 owned by the maker, with one registered key. */
  async function clientWithKey(name: string) {
    const db = use().db;
    const maker = await contextFor(db, "maker@r00001.test");
    const system = systemContext(db);
    const client = await createClient(system, { participantId: maker.actor.participantId!, environment: "simulator", name, ownerUserId: maker.actor.userId! });
    const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const { nonce } = await issueChallenge(system, { clientId: client.id });
    const proof = await new SignJWT({ nonce }).setProtectedHeader({ alg: "ES256" }).setAudience(POP_AUDIENCE).setSubject(client.clientId).setIssuedAt().setExpirationTime("5m").sign(privateKey);
    const key = await registerKey(system, { clientId: client.id, publicKey: publicKey.export({ type: "spki", format: "pem" }).toString(), proof, nonce, expiresOn: inDays(90) });
    return { client, key };
  }

  it("reviews each active client with its owner; a revocation ends the client and its keys at once; the owner cannot review it", async () => {
    const db = use().db;
    const { client, key } = await clientWithKey("Reviewed feed");
    const compliance = await contextFor(db, "compliance@r00001.test");
    const campaign = await openCampaign(compliance, { name: "Client review", participantIds: ["R00001"], deadline: inDays(10), deadlinePolicy: "flag", includeApiClients: true });
    const checker = await contextFor(db, "checker@r00001.test");
    const maker = await contextFor(db, "maker@r00001.test");
    const { items } = await getCampaign(checker, campaign.id);
    const item = items.find((i) => i.apiClientId === client.id)!;
    expect(item).toMatchObject({ kind: "api_client", userId: maker.actor.userId, grantId: null });
    expect(item.roleName).toContain(client.clientId);

    const own = await decideItem(maker, { itemId: item.id, decision: "keep" }).catch((e: unknown) => e);
    expect((own as AppError).messageKey).toBe("review.error.ownAccess");
    await decideItem(checker, { itemId: item.id, decision: "revoke", comment: "The feed is no longer used." });
    const [after] = await db.select().from(apiClients).where(eq(apiClients.id, client.id));
    expect(after!.status).toBe("revoked");
    expect((await db.select().from(apiKeys).where(eq(apiKeys.id, key.id)))[0]!.status).toBe("revoked");
    expect((await jwks(db, "simulator")).keys.map((k) => k.kid)).not.toContain(key.kid);
    const actions = (await db.select().from(auditEvents).where(eq(auditEvents.entityId, client.id))).map((e) => e.action);
    expect(actions).toContain("credential.client.revoked");
  });

  it("a campaign without API clients has no client items; the revoke policy ends an undecided client at the deadline", async () => {
    const db = use().db;
    const { client } = await clientWithKey("Forgotten feed");
    const compliance = await contextFor(db, "compliance@r00001.test");
    const without = await openCampaign(compliance, { name: "Roles only", participantIds: ["R00001"], deadline: inDays(3), deadlinePolicy: "revoke" });
    expect((await getCampaign(compliance, without.id)).items.some((i) => i.kind === "api_client")).toBe(false);

    const withClients = await openCampaign(compliance, { name: "With clients", participantIds: ["R00001"], deadline: inDays(3), deadlinePolicy: "revoke", includeApiClients: true });
    const clock = new TestClock(Date.now() + 5 * 24 * 3600 * 1000).start();
    try {
      await closeCampaign(compliance, { campaignId: withClients.id });
    } finally {
      clock.stop();
    }
    const { items } = await getCampaign(compliance, withClients.id);
    expect(items.find((i) => i.apiClientId === client.id)!.outcome).toBe("auto_revoked");
    expect((await db.select().from(apiClients).where(eq(apiClients.id, client.id)))[0]!.status).toBe("revoked");
  });
});
