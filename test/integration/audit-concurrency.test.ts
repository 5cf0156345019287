import { asc, count, max } from "drizzle-orm";
import { expect, it } from "vitest";
import { openDatabase, type DatabaseHandle } from "../../db/client.server";
import { auditEvents } from "../../db/schema";
import { appendAuditEvent, verifyAuditChains } from "../../app/modules/audit/service.server";
import { SYSTEM_ACTOR } from "../../app/modules/context.server";
import { describeEachDatabase } from "../support/databases";

const WRITERS = 8;
const TRANSACTIONS_PER_WRITER = 20;
const CHAINS = ["K00001", "K00002", null] as const; // null: the platform chain

describeEachDatabase("audit chains under concurrent writers", (use) => {
  it("stay intact, with contiguous seqs, when separate server processes write at once", async (ctx) => {
    // PGlite is one embedded process with one connection: there is no concurrency to test.
    if (use().kind !== "postgres") ctx.skip();
    const { url, db } = use();

    // One pool per writer, as each server process behind a load balancer would have.
    const pools: DatabaseHandle[] = Array.from({ length: WRITERS }, () =>
      openDatabase({ databaseUrl: url!, maxConnections: 2 }),
    );
    let written = 0;
    try {
      await Promise.all(
        pools.map(async (pool, writer) => {
          for (let i = 0; i < TRANSACTIONS_PER_WRITER; i++) {
            const participantId = CHAINS[(writer + i) % CHAINS.length]!;
            // Some transactions append two events to the same chain, as a service recording two changes does.
            const events = i % 4 === 0 ? 2 : 1;
            await pool.db.transaction(async (tx) => {
              for (let n = 0; n < events; n++) {
                await appendAuditEvent(
                  tx,
                  { actor: SYSTEM_ACTOR, requestId: `w${writer}-t${i}`, ip: null, userAgent: null },
                  {
                    action: "participant.updated",
                    entityType: "test",
                    entityId: `${writer}:${i}:${n}`,
                    participantId,
                    metadata: { writer, i, n },
                  },
                );
              }
            });
            written += events;
          }
        }),
      );
    } finally {
      await Promise.all(pools.map((p) => p.close()));
    }
    expect(written).toBe(WRITERS * (TRANSACTIONS_PER_WRITER + TRANSACTIONS_PER_WRITER / 4));

    const reports = await verifyAuditChains(db);
    expect(reports.map((r) => r.chainKey)).toEqual(["K00001", "K00002", "platform"]);
    for (const r of reports) expect(r, r.chainKey).toMatchObject({ ok: true });

    const perChain = await db
      .select({ chainKey: auditEvents.chainKey, n: count(), last: max(auditEvents.seq) })
      .from(auditEvents)
      .groupBy(auditEvents.chainKey)
      .orderBy(asc(auditEvents.chainKey));
    for (const chain of perChain) expect(Number(chain.last), chain.chainKey).toBe(Number(chain.n));
    expect(perChain.reduce((sum, c) => sum + Number(c.n), 0)).toBe(written);
  });
});
