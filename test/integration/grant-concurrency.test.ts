import { and, eq } from "drizzle-orm";
import { afterAll, beforeAll, expect, it } from "vitest";
import { openDatabase, type Database, type DatabaseHandle } from "../../db/client.server";
import { auditEvents, grantRequests, roleGrants, users } from "../../db/schema";
import { AppError } from "../../app/lib/errors";
import type { ServiceContext } from "../../app/modules/context.server";
import { activeAdministrators, heldRoleCodes } from "../../app/modules/roles/facts.server";
import { decideRequest, requestGrant, revokeGrant } from "../../app/modules/roles/service.server";
import { changeUserStatus, updateUser } from "../../app/modules/users/service.server";
import { createFirm, type Firm } from "../support/access";
import { describeEachDatabase } from "../support/databases";

/**
 * Two people acting on the same thing at the same moment, each through their own connection pool (as two server
 * processes behind a load balancer would). PGlite is one embedded process with one connection, so these run on
 * PostgreSQL only. Each case is repeated so that the two transactions really overlap in most rounds.
 */
const ROUNDS = 8;

describeEachDatabase("Login Management under concurrency", (use) => {
  let poolA: DatabaseHandle | null = null;
  let poolB: DatabaseHandle | null = null;
  const db = () => use().db;

  beforeAll(() => {
    const { url } = use();
    if (!url) return;
    poolA = openDatabase({ databaseUrl: url, maxConnections: 4 });
    poolB = openDatabase({ databaseUrl: url, maxConnections: 4 });
  });
  afterAll(async () => {
    await poolA?.close();
    await poolB?.close();
  });

  /** The same person, acting through another pool. */
  const through = (pool: DatabaseHandle | null, ctx: ServiceContext): ServiceContext => ({ ...ctx, db: pool!.db as Database });

  function settle<T>(results: PromiseSettledResult<T>[]) {
    const won = results.filter((r): r is PromiseFulfilledResult<T> => r.status === "fulfilled");
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === "rejected").map((r) => r.reason as unknown);
    for (const reason of lost) expect(reason, String(reason)).toBeInstanceOf(AppError);
    return { won: won.map((w) => w.value), lost: lost as AppError[] };
  }

  async function firmWithTwo(role: "da_checker" | "da_maker"): Promise<{ firm: Firm; first: ServiceContext; second: ServiceContext }> {
    const firm = await createFirm(db());
    const second = await firm.addAdministrator(role, `Second ${role}`);
    return { firm, first: role === "da_checker" ? firm.checker : firm.maker, second };
  }

  it("lets exactly one of two checkers approve the same request; the other is told it is already decided", async (ctx) => {
    if (use().kind !== "postgres") ctx.skip();
    const { firm, first, second } = await firmWithTwo("da_checker");
    for (let round = 0; round < ROUNDS; round++) {
      const userId = await firm.addUser([], `Round ${round}`);
      const request = await requestGrant(firm.maker, { userId, roleCode: "trade_info_viewer" });
      const { won, lost } = settle(
        await Promise.allSettled([
          decideRequest(through(poolA, first), { requestId: request.id, decision: "approve", comment: "First checker" }),
          decideRequest(through(poolB, second), { requestId: request.id, decision: "approve", comment: "Second checker" }),
        ]),
      );
      expect(won, `round ${round}`).toHaveLength(1);
      expect(lost.map((e) => [e.status, e.messageKey])).toEqual([[409, "access.refused.alreadyDecided"]]);

      const grants = await db().select().from(roleGrants).where(eq(roleGrants.requestId, request.id));
      expect(grants).toHaveLength(1);
      expect(grants[0]!.approvedBy).toBe(won[0]!.decidedBy);
      const [row] = await db().select().from(grantRequests).where(eq(grantRequests.id, request.id));
      expect(row).toMatchObject({ status: "approved", decidedBy: won[0]!.decidedBy, grantId: grants[0]!.id, version: request.version + 1 });
      const approvals = await db()
        .select()
        .from(auditEvents)
        .where(and(eq(auditEvents.entityId, request.id), eq(auditEvents.action, "role.grant.approved")));
      expect(approvals).toHaveLength(1);
      expect(await heldRoleCodes(db(), userId, new Date())).toEqual(["trade_info_viewer"]);
    }
  });

  it("lets exactly one decision stand when one checker approves and another rejects at the same moment", async (ctx) => {
    if (use().kind !== "postgres") ctx.skip();
    const { firm, first, second } = await firmWithTwo("da_checker");
    for (let round = 0; round < ROUNDS; round++) {
      const userId = await firm.addUser();
      const request = await requestGrant(firm.maker, { userId, roleCode: "ref_data_viewer" });
      const { won, lost } = settle(
        await Promise.allSettled([
          decideRequest(through(poolA, first), { requestId: request.id, decision: "approve" }),
          decideRequest(through(poolB, second), { requestId: request.id, decision: "reject", comment: "No form." }),
        ]),
      );
      expect(won).toHaveLength(1);
      expect(lost.map((e) => e.messageKey)).toEqual(["access.refused.alreadyDecided"]);
      const grants = await db().select().from(roleGrants).where(eq(roleGrants.requestId, request.id));
      expect(grants).toHaveLength(won[0]!.status === "approved" ? 1 : 0);
      expect(await heldRoleCodes(db(), userId, new Date())).toEqual(won[0]!.status === "approved" ? ["ref_data_viewer"] : []);
    }
  });

  it("lets one of two makers editing the same user win; the other gets 409 and nothing is lost silently", async (ctx) => {
    if (use().kind !== "postgres") ctx.skip();
    const { firm, first, second } = await firmWithTwo("da_maker");
    for (let round = 0; round < ROUNDS; round++) {
      const userId = await firm.addUser([], `Original ${round}`);
      const [user] = await db().select().from(users).where(eq(users.id, userId));
      const names = [`Edited by first ${round}`, `Edited by second ${round}`];
      const { won, lost } = settle(
        await Promise.allSettled([
          updateUser(through(poolA, first), { userId, version: user!.version, displayName: names[0]! }),
          updateUser(through(poolB, second), { userId, version: user!.version, displayName: names[1]! }),
        ]),
      );
      expect(won, `round ${round}`).toHaveLength(1);
      expect(lost.map((e) => [e.status, e.messageKey])).toEqual([[409, "error.conflict"]]);
      const [after] = await db().select().from(users).where(eq(users.id, userId));
      expect(after).toMatchObject({ displayName: won[0]!.displayName, version: user!.version + 1 });
      expect(names).toContain(after!.displayName);
      const edits = await db()
        .select()
        .from(auditEvents)
        .where(and(eq(auditEvents.entityId, userId), eq(auditEvents.action, "user.updated")));
      expect(edits.map((e) => e.changes)).toEqual([{ displayName: { before: `Original ${round}`, after: after!.displayName } }]);
    }
  });

  it("keeps one active checker when both checkers are revoked at the same moment", async (ctx) => {
    if (use().kind !== "postgres") ctx.skip();
    for (let round = 0; round < ROUNDS / 2; round++) {
      const { firm, first, second } = await firmWithTwo("da_checker");
      const grantOf = async (userId: string) =>
        (await db().select().from(roleGrants).where(and(eq(roleGrants.userId, userId), eq(roleGrants.roleCode, "da_checker"))))[0]!;
      const [g1, g2] = [await grantOf(first.actor.userId!), await grantOf(second.actor.userId!)];
      const { won, lost } = settle(
        await Promise.allSettled([
          // The maker revokes the first checker while the first checker revokes the second.
          revokeGrant(through(poolA, firm.maker), { grantId: g1.id, reason: "Restructuring (A)" }),
          revokeGrant(through(poolB, first), { grantId: g2.id, reason: "Restructuring (B)" }),
        ]),
      );
      expect(won).toHaveLength(1);
      expect(lost.map((e) => [e.status, e.messageKey])).toEqual([[400, "access.refused.lastAdministrator"]]);
      const admins = await activeAdministrators(db(), firm.participant.id, new Date());
      expect(admins.filter((a) => a.roleCode === "da_checker")).toHaveLength(1);
    }
  });

  it("keeps one active checker when both checkers are suspended at the same moment", async (ctx) => {
    if (use().kind !== "postgres") ctx.skip();
    for (let round = 0; round < ROUNDS / 2; round++) {
      const { firm, first, second } = await firmWithTwo("da_checker");
      const rows = await db().select().from(users).where(eq(users.participantId, firm.participant.id));
      const versionOf = (id: string) => rows.find((r) => r.id === id)!.version;
      const { won, lost } = settle(
        await Promise.allSettled([
          changeUserStatus(through(poolA, firm.maker), { userId: first.actor.userId!, action: "suspend", version: versionOf(first.actor.userId!), reason: "On leave (A)" }),
          changeUserStatus(through(poolB, firm.maker), { userId: second.actor.userId!, action: "suspend", version: versionOf(second.actor.userId!), reason: "On leave (B)" }),
        ]),
      );
      expect(won).toHaveLength(1);
      expect(lost.map((e) => e.messageKey)).toEqual(["access.refused.lastAdministrator"]);
      const admins = await activeAdministrators(db(), firm.participant.id, new Date());
      expect(admins.filter((a) => a.roleCode === "da_checker")).toHaveLength(1);
    }
  });

  it("never lets two makers put a blocking pair together by asking for each half at the same moment", async (ctx) => {
    if (use().kind !== "postgres") ctx.skip();
    const { firm, first, second } = await firmWithTwo("da_maker");
    for (let round = 0; round < ROUNDS; round++) {
      const userId = await firm.addUser();
      const { won, lost } = settle(
        await Promise.allSettled([
          requestGrant(through(poolA, first), { userId, roleCode: "si_maker" }),
          requestGrant(through(poolB, second), { userId, roleCode: "si_checker" }),
        ]),
      );
      expect(won).toHaveLength(1);
      expect(lost.map((e) => [e.status, e.messageKey])).toEqual([[400, "access.sod.blocked"]]);
      const pending = await db().select().from(grantRequests).where(eq(grantRequests.userId, userId));
      expect(pending).toHaveLength(1);
    }
  });

  it("records one request when two makers ask for the same role at the same moment", async (ctx) => {
    if (use().kind !== "postgres") ctx.skip();
    const { firm, first, second } = await firmWithTwo("da_maker");
    for (let round = 0; round < ROUNDS; round++) {
      const userId = await firm.addUser();
      const { won, lost } = settle(
        await Promise.allSettled([
          requestGrant(through(poolA, first), { userId, roleCode: "trade_info_viewer" }),
          requestGrant(through(poolB, second), { userId, roleCode: "trade_info_viewer" }),
        ]),
      );
      expect(won).toHaveLength(1);
      expect(lost.map((e) => [e.status, e.messageKey])).toEqual([[400, "access.refused.alreadyRequested"]]);
      expect(await db().select().from(grantRequests).where(eq(grantRequests.userId, userId))).toHaveLength(1);
    }
  });
});
