import { generateKeyPairSync, randomBytes } from "node:crypto";
import { and, eq, sql } from "drizzle-orm";
import { SignJWT } from "jose";
import { afterAll, beforeAll, expect, it } from "vitest";
import { openDatabase, type Database, type DatabaseHandle } from "../../db/client.server";
import { apiKeys, grantRequests, participants, reviewItems, roleGrants, users } from "../../db/schema";
import { AppError } from "../../app/lib/errors";
import { verifyAuditChains } from "../../app/modules/audit/service.server";
import type { ServiceContext } from "../../app/modules/context.server";
import { POP_AUDIENCE } from "../../app/modules/credentials/claim-rules";
import { createClient, issueChallenge, registerKey, revokeKey } from "../../app/modules/credentials/service.server";
import { reinstateParticipant, suspendParticipant } from "../../app/modules/participants/service.server";
import { closeCampaign, decideItem, openCampaign } from "../../app/modules/reviews/service.server";
import { cancelRequest, decideRequest, revokeGrant } from "../../app/modules/roles/service.server";
import { changeUserStatus, createUser, updateUser } from "../../app/modules/users/service.server";
import { performSupportAction } from "../../app/modules/users/support.server";
import { contextFor } from "../factories";
import { describeEachDatabase } from "../support/databases";

/**
 * The lock order (docs/decisions/014-lock-order.md), tested: every pair of commands that lock the same rows runs
 * concurrently, each on a connection pool of its own, LOCK_ROUNDS times (10 on PostgreSQL in CI). Each side either
 * succeeds or is refused with a clear answer (400/403/404/409, the last also for "busy" after the bounded retries),
 * never an unexpected error; the outcome is one of the serial orders; and every audit chain verifies afterwards.
 */

const B = "B01234";
const REFUSALS = [400, 403, 404, 409];

describeEachDatabase("the lock order holds under concurrent commands", { demo: true }, (use) => {
  let db: Database;
  let other: DatabaseHandle | null = null;
  let second: Database;
  const as: Record<string, ServiceContext> = {};
  let rounds = 2;

  beforeAll(async () => {
    const current = use();
    db = current.db;
    other = current.url ? openDatabase({ databaseUrl: current.url, maxConnections: 6 }) : null;
    second = other?.db ?? db;
    rounds = current.kind === "postgres" ? Number(process.env.LOCK_ROUNDS ?? 10) : 2;
    for (const email of ["maker@b01234.demo", "checker@b01234.demo", "officer@hkex.demo", "helpdesk@hkex.demo", "compliance@hkex.demo"]) {
      as[email.split("@")[0]!] = await contextFor(db, email);
    }
  });
  afterAll(async () => {
    await other?.close();
  });

  /** The first side runs on the test's pool, the second on another: two requests of two servers. */
  const onSecond = (ctx: ServiceContext): ServiceContext => ({ ...ctx, db: second });

  /** A fresh user of B01234 with two pending requests (SI maker, trade info viewer) and, with `granted`, the first approved. */
  async function freshUser(granted = false) {
    const { user, requests } = await createUser(as.maker!, {
      participantId: B,
      email: `lock-${randomBytes(4).toString("hex")}@harbourview.example`,
      displayName: "Lock Order",
      roles: ["si_maker", "trade_info_viewer"],
    });
    let grantId: string | null = null;
    if (granted) grantId = (await decideRequest(as.checker!, { requestId: requests[0]!, decision: "approve" })).grantId;
    return { userId: user.id, requests: requests as string[], grantId };
  }

  const versionOf = async (table: "users" | "participants", id: string) => {
    const t = table === "users" ? users : participants;
    const [row] = await db.select({ version: t.version }).from(t).where(eq(t.id, id));
    return row!.version;
  };

  async function activeGrants(userId: string) {
    return db.select().from(roleGrants).where(and(eq(roleGrants.userId, userId), eq(roleGrants.status, "active")));
  }

  type Outcome = PromiseSettledResult<unknown>;
  const failures: string[] = [];
  function judge(pair: string, round: number, outcomes: Outcome[]): boolean[] {
    return outcomes.map((o, i) => {
      if (o.status === "fulfilled") return true;
      const e = o.reason as unknown;
      if (!(e instanceof AppError) || !REFUSALS.includes(e.status)) failures.push(`${pair}, round ${round}, side ${i + 1}: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
      return false;
    });
  }

  interface Pair {
    name: string;
    round(n: number): Promise<void>;
  }
  const PAIRS: Pair[] = [
    {
      name: "approve a request ↔ the helpdesk resets the user to baseline",
      async round(n) {
        const u = await freshUser();
        const [approved, reset] = judge(this.name, n, await Promise.allSettled([
          decideRequest(as.checker!, { requestId: u.requests[0]!, decision: "approve" }),
          performSupportAction(onSecond(as.helpdesk!), { userId: u.userId, action: "reset_roles", ticketRef: "INC-1401", reason: "Back to the baseline" }),
        ]));
        // The GCP baseline has no SI maker: whichever came first, a reset that happened leaves none.
        if (reset) expect((await activeGrants(u.userId)).filter((g) => g.roleCode === "si_maker"), `${this.name} ${n} (approved: ${approved})`).toEqual([]);
      },
    },
    {
      name: "approve a request ↔ deactivate the user",
      async round(n) {
        const u = await freshUser();
        const [, deactivated] = judge(this.name, n, await Promise.allSettled([
          decideRequest(as.checker!, { requestId: u.requests[0]!, decision: "approve" }),
          changeUserStatus(onSecond(as.maker!), { userId: u.userId, action: "deactivate", version: await versionOf("users", u.userId), reason: "Left the firm" }),
        ]));
        if (deactivated) {
          expect(await activeGrants(u.userId), `${this.name} ${n}`).toEqual([]);
          expect((await db.select().from(grantRequests).where(eq(grantRequests.userId, u.userId))).filter((r) => r.status === "pending")).toEqual([]);
        }
      },
    },
    {
      name: "approve a request ↔ suspend the participant",
      async round(n) {
        const u = await freshUser();
        const [, suspended] = judge(this.name, n, await Promise.allSettled([
          decideRequest(as.checker!, { requestId: u.requests[0]!, decision: "approve" }),
          suspendParticipant(onSecond(as.officer!), { participantId: B, version: await versionOf("participants", B), reason: "Regulatory hold" }),
        ]));
        if (suspended) await reinstateParticipant(as.officer!, { participantId: B, version: await versionOf("participants", B), reason: "Hold lifted" });
      },
    },
    {
      name: "revoke a grant ↔ approve another request of the same user",
      async round(n) {
        const u = await freshUser(true);
        judge(this.name, n, await Promise.allSettled([
          revokeGrant(as.maker!, { grantId: u.grantId!, reason: "No longer needed" }),
          decideRequest(onSecond(as.checker!), { requestId: u.requests[1]!, decision: "approve" }),
        ]));
      },
    },
    {
      name: "revoke a grant ↔ reset the user to baseline (the same grant)",
      async round(n) {
        const u = await freshUser(true);
        const [revoked, reset] = judge(this.name, n, await Promise.allSettled([
          revokeGrant(as.maker!, { grantId: u.grantId!, reason: "No longer needed" }),
          performSupportAction(onSecond(as.helpdesk!), { userId: u.userId, action: "reset_roles", ticketRef: "INC-1402", reason: "Back to the baseline" }),
        ]));
        expect(revoked || reset, `${this.name} ${n}: one of them ends the grant`).toBe(true);
        expect((await activeGrants(u.userId)).filter((g) => g.id === u.grantId)).toEqual([]);
      },
    },
    {
      name: "approve a request ↔ its maker withdraws it",
      async round(n) {
        const u = await freshUser();
        const [approved, withdrawn] = judge(this.name, n, await Promise.allSettled([
          decideRequest(as.checker!, { requestId: u.requests[0]!, decision: "approve" }),
          cancelRequest(onSecond(as.maker!), { requestId: u.requests[0]! }),
        ]));
        expect(approved && withdrawn, `${this.name} ${n}: not both`).toBe(false);
      },
    },
    {
      name: "deactivate the user ↔ the helpdesk ends the user's sessions",
      async round(n) {
        const u = await freshUser(true);
        judge(this.name, n, await Promise.allSettled([
          changeUserStatus(as.maker!, { userId: u.userId, action: "deactivate", version: await versionOf("users", u.userId), reason: "Left the firm" }),
          performSupportAction(onSecond(as.helpdesk!), { userId: u.userId, action: "revoke_sessions", ticketRef: "INC-1403", reason: "Lost laptop" }),
        ]));
      },
    },
    {
      name: "rename the user ↔ deactivate the user (the same version)",
      async round(n) {
        const u = await freshUser();
        const version = await versionOf("users", u.userId);
        const [renamed, deactivated] = judge(this.name, n, await Promise.allSettled([
          updateUser(as.maker!, { userId: u.userId, version, displayName: "Renamed" }),
          changeUserStatus(onSecond(as.maker!), { userId: u.userId, action: "deactivate", version, reason: "Left the firm" }),
        ]));
        expect(renamed && deactivated, `${this.name} ${n}: both saw version ${version}`).toBe(false);
      },
    },
    {
      name: "a reviewer revokes an item ↔ compliance closes the campaign (revoke policy)",
      async round(n) {
        const u = await freshUser(true);
        const campaign = await openCampaign(as.compliance!, { name: `Lock order ${n}`, participantIds: [B], roleCodes: ["si_maker"], deadline: "2099-12-31", deadlinePolicy: "revoke" });
        // Past its deadline, so that it may be closed now (the test's own shortcut; the console waits for the day).
        await db.execute(sql`update review_campaigns set deadline = now() - interval '1 minute' where id = ${campaign.id}`);
        const [item] = await db.select().from(reviewItems).where(and(eq(reviewItems.campaignId, campaign.id), eq(reviewItems.grantId, u.grantId!)));
        judge(this.name, n, await Promise.allSettled([
          decideItem(as.checker!, { itemId: item!.id, decision: "revoke", comment: "Not needed" }),
          closeCampaign(onSecond(as.compliance!), { campaignId: campaign.id }),
        ]));
        expect((await activeGrants(u.userId)).filter((g) => g.id === u.grantId), `${this.name} ${n}`).toEqual([]);
      },
    },
  ];

  /** A registered key of a new simulator client of B01234 (a key per round). */
  async function freshKey(): Promise<string> {
    const client = await createClient(as.maker!, { participantId: B, environment: "simulator", name: `Lock order ${randomBytes(3).toString("hex")}`, ownerUserId: as.maker!.actor.userId! });
    const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const { nonce } = await issueChallenge(as.maker!, { clientId: client.id });
    const proof = await new SignJWT({ nonce }).setProtectedHeader({ alg: "ES256" }).setAudience(POP_AUDIENCE).setSubject(client.clientId).setIssuedAt().setExpirationTime("10m").sign(privateKey);
    const expiresOn = new Date(Date.now() + 200 * 24 * 3600 * 1000).toISOString().slice(0, 10);
    const key = await registerKey(as.maker!, { clientId: client.id, publicKey: publicKey.export({ type: "spki", format: "pem" }).toString(), proof, nonce, expiresOn });
    return key.id;
  }

  PAIRS.push(
    {
      name: "revoke an API key ↔ suspend the participant",
      async round(n) {
        const keyId = await freshKey();
        const [revoked, suspended] = judge(this.name, n, await Promise.allSettled([
          revokeKey(as.maker!, { keyId, reason: "Key rotated out" }),
          suspendParticipant(onSecond(as.officer!), { participantId: B, version: await versionOf("participants", B), reason: "Regulatory hold" }),
        ]));
        const [key] = await db.select({ status: apiKeys.status }).from(apiKeys).where(eq(apiKeys.id, keyId));
        expect(key!.status === "revoked", `${this.name} ${n}`).toBe(revoked);
        if (suspended) await reinstateParticipant(as.officer!, { participantId: B, version: await versionOf("participants", B), reason: "Hold lifted" });
      },
    },
    {
      name: "compliance closes a campaign ↔ the helpdesk resets a reviewed user to baseline",
      async round(n) {
        const u = await freshUser(true);
        const campaign = await openCampaign(as.compliance!, { name: `Reset race ${n}`, participantIds: [B], roleCodes: ["si_maker"], deadline: "2099-12-31", deadlinePolicy: "revoke" });
        await db.execute(sql`update review_campaigns set deadline = now() - interval '1 minute' where id = ${campaign.id}`);
        judge(this.name, n, await Promise.allSettled([
          closeCampaign(as.compliance!, { campaignId: campaign.id }),
          performSupportAction(onSecond(as.helpdesk!), { userId: u.userId, action: "reset_roles", ticketRef: "INC-1404", reason: "Back to the baseline" }),
        ]));
        expect((await activeGrants(u.userId)).filter((g) => g.id === u.grantId), `${this.name} ${n}`).toEqual([]);
      },
    },
    {
      name: "the same campaign closed twice at once",
      async round(n) {
        await freshUser(true);
        const campaign = await openCampaign(as.compliance!, { name: `Close twice ${n}`, participantIds: [B], roleCodes: ["si_maker"], deadline: "2099-12-31", deadlinePolicy: "revoke" });
        await db.execute(sql`update review_campaigns set deadline = now() - interval '1 minute' where id = ${campaign.id}`);
        const [a, b] = judge(this.name, n, await Promise.allSettled([
          closeCampaign(as.compliance!, { campaignId: campaign.id }),
          closeCampaign(onSecond(as.compliance!), { campaignId: campaign.id }),
        ]));
        expect(a !== b, `${this.name} ${n}: closed once`).toBe(true);
      },
    },
  );

  it.each(PAIRS.map((p) => [p.name, p] as const))("%s", async (_name, pair) => {
    failures.length = 0;
    for (let n = 0; n < rounds; n++) await pair.round(n);
    expect(failures).toEqual([]);
    for (const report of await verifyAuditChains(db)) expect(report, report.chainKey).toMatchObject({ ok: true });
  }, 120_000);
});
