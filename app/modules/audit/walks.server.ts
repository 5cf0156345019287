import { randomUUID } from "node:crypto";
import { and, desc, eq, isNotNull, isNull, lt, sql } from "drizzle-orm";
import type { Logger } from "pino";
import { z } from "zod";
import type { Database } from "../../../db/client.server";
import { auditIntegrityWalks, type AuditIntegrityWalk, type StoredChainReport, type StoredCheckpointReport } from "../../../db/schema";
import { AppError, notFound } from "~/lib/errors";
import { defineCommand, platformWide } from "../command.server";
import { systemContext, type ServiceContext } from "../context.server";
import { integrityReport } from "./checkpoint.server";

/**
 * Integrity walks (issue 16). Walking every audit chain takes seconds at volume (about 20 s at 1.5M events), so the
 * Integrity page no longer walks on view: a walk is started by the scheduled job (hourly), by `npm run
 * audit:verify`, or by a compliance reviewer's "Verify now", runs in the background, and is recorded in
 * audit_integrity_walks; the page reads the latest finished walk and the running one. One walk runs at a time
 * across every process: starting takes a transaction-scoped advisory lock and the table's partial unique index
 * admits one unfinished walk.
 */

/** How often the scheduled job walks the chains. */
export const WALK_EVERY_MINUTES = 60;
/** A walk unfinished after this long belonged to a process that stopped: the next start closes it as abandoned. */
export const WALK_ABANDONED_AFTER_MINUTES = 60;
/** The advisory lock key under which walks start (any constant; hashtext of a name keeps it readable). */
const START_LOCK = sql`pg_advisory_xact_lock(hashtext('audit_integrity_walk_start'))`;

export type WalkVia = "person" | "job" | "cli";

const chainReportSchema = z.object({
  chainKey: z.string(),
  events: z.number().int().min(0),
  ok: z.boolean(),
  firstBreak: z.object({ seq: z.number().int(), eventId: z.number().int().nullable(), problem: z.string() }).optional(),
});
const checkpointReportSchema = z.object({
  checkpointId: z.string().nullable(),
  createdAt: z.string().nullable(),
  signatureValid: z.boolean(),
  problems: z.array(z.object({ chainKey: z.string(), seq: z.number().int(), problem: z.string() })),
});

/**
 * Records the start of a walk: refused (409, integrity.walk.running) while another walk runs. With `ifDueMinutes`
 * (the scheduled job) it starts only when no walk started within that many minutes, and answers null otherwise.
 */
export const startIntegrityWalk = defineCommand({
  name: "audit.startIntegrityWalk",
  permission: "audit:manage",
  input: z.object({ via: z.enum(["person", "job", "cli"]), ifDueMinutes: z.number().int().positive().optional() }),
  events: ["audit.integrity.walk.started", "audit.integrity.walk.abandoned"],
  tenant: platformWide,
  async run(cx): Promise<AuditIntegrityWalk | null> {
    const { tx, input, now } = cx;
    // Starts take turns across processes; a walk's own writes never wait on this lock.
    await tx.execute(sql`select ${START_LOCK}`);
    const abandonedBefore = new Date(now.getTime() - WALK_ABANDONED_AFTER_MINUTES * 60_000);
    const abandoned = await tx
      .update(auditIntegrityWalks)
      .set({ finishedAt: now, ok: false, failure: `abandoned: not finished within ${WALK_ABANDONED_AFTER_MINUTES} minutes (its process stopped)` })
      .where(and(isNull(auditIntegrityWalks.finishedAt), lt(auditIntegrityWalks.startedAt, abandonedBefore)))
      .returning({ id: auditIntegrityWalks.id });
    for (const a of abandoned) cx.audit({ action: "audit.integrity.walk.abandoned", entityType: "audit_integrity_walk", entityId: a.id });
    const [running] = await tx.select({ id: auditIntegrityWalks.id }).from(auditIntegrityWalks).where(isNull(auditIntegrityWalks.finishedAt)).limit(1);
    if (running) {
      if (input.ifDueMinutes) return null;
      throw new AppError(409, "integrity.walk.alreadyRunning");
    }
    if (input.ifDueMinutes) {
      const [latest] = await tx
        .select({ startedAt: auditIntegrityWalks.startedAt })
        .from(auditIntegrityWalks)
        .orderBy(desc(auditIntegrityWalks.startedAt))
        .limit(1);
      if (latest && latest.startedAt.getTime() > now.getTime() - input.ifDueMinutes * 60_000) return null;
    }
    const [walk] = await tx
      .insert(auditIntegrityWalks)
      .values({
        id: randomUUID(),
        startedAt: now,
        startedVia: input.via,
        startedBy: cx.actor.userId,
        startedByName: cx.actor.userId ? cx.actor.displayName : null,
      })
      // The partial unique index admits one unfinished walk: a start that slipped past the lock still loses here.
      .onConflictDoNothing()
      .returning();
    if (!walk) throw new AppError(409, "integrity.walk.alreadyRunning");
    cx.audit({ action: "audit.integrity.walk.started", entityType: "audit_integrity_walk", entityId: walk.id, metadata: { via: walk.startedVia } });
    return walk;
  },
});

/** Records what a walk found, once: a finished walk is never changed (the table's trigger refuses it too). */
export const finishIntegrityWalk = defineCommand({
  name: "audit.finishIntegrityWalk",
  permission: "audit:manage",
  input: z.object({
    walkId: z.string().min(1),
    chains: z.array(chainReportSchema).nullable(),
    checkpoint: checkpointReportSchema.nullable(),
    failure: z.string().nullable(),
  }),
  events: ["audit.integrity.walk.finished"],
  tenant: platformWide,
  async run(cx): Promise<AuditIntegrityWalk> {
    const { tx, input, now } = cx;
    const [walk] = await tx.select().from(auditIntegrityWalks).where(eq(auditIntegrityWalks.id, input.walkId)).for("update");
    if (!walk) throw notFound();
    if (walk.finishedAt) throw new AppError(409, "integrity.walk.finishedAlready");
    const chains = input.chains ?? [];
    const checkpointOk = !input.checkpoint || (input.checkpoint.signatureValid && input.checkpoint.problems.length === 0);
    const ok = input.failure === null && input.chains !== null && chains.every((c) => c.ok) && checkpointOk;
    const events = chains.reduce((n, c) => n + c.events, 0);
    const [finished] = await tx
      .update(auditIntegrityWalks)
      .set({
        finishedAt: now,
        chains: input.chains ? chains.length : null,
        events: input.chains ? events : null,
        ok,
        chainReports: input.chains as StoredChainReport[] | null,
        checkpoint: input.checkpoint as StoredCheckpointReport | null,
        failure: input.failure,
      })
      .where(eq(auditIntegrityWalks.id, walk.id))
      .returning();
    const firstBroken = chains.find((c) => !c.ok);
    cx.audit({
      action: "audit.integrity.walk.finished",
      entityType: "audit_integrity_walk",
      entityId: walk.id,
      metadata: {
        ok,
        chains: chains.length,
        events,
        brokenChains: chains.filter((c) => !c.ok).length,
        ...(firstBroken ? { firstBreak: { chainKey: firstBroken.chainKey, ...firstBroken.firstBreak } } : {}),
        ...(input.checkpoint && !checkpointOk ? { checkpointProblems: input.checkpoint.problems.length } : {}),
        ...(input.failure ? { failure: input.failure } : {}),
      },
    });
    return finished!;
  },
});

/** Walks every chain and compares the latest checkpoint, then records the result on the walk (as the console). */
export async function performIntegrityWalk(db: Database, walkId: string, key: string | null): Promise<AuditIntegrityWalk> {
  const system = systemContext(db, `integrity-walk-${walkId}`);
  let report: Awaited<ReturnType<typeof integrityReport>>;
  try {
    report = await integrityReport(db, key);
  } catch (error) {
    return finishIntegrityWalk(system, { walkId, chains: null, checkpoint: null, failure: error instanceof Error ? error.message.slice(0, 500) : "the walk failed" });
  }
  return finishIntegrityWalk(system, { walkId, chains: report.chains, checkpoint: report.checkpoint, failure: null });
}

/**
 * "Verify now": records the start (audited, as the person) and walks in the background; the request answers at
 * once and the page shows the walk running. Refused with 409 while another walk runs.
 */
export async function verifyNow(ctx: ServiceContext, key: string | null, logger?: Pick<Logger, "error">): Promise<AuditIntegrityWalk> {
  const walk = (await startIntegrityWalk(ctx, { via: "person" }))!;
  void performIntegrityWalk(ctx.db, walk.id, key).catch((error: unknown) => logger?.error({ err: error, walkId: walk.id }, "integrity walk failed"));
  return walk;
}

/** The scheduled walk: at most one per `everyMinutes` across every process; null when none was due or one runs. */
export async function runScheduledWalk(db: Database, key: string | null, everyMinutes = WALK_EVERY_MINUTES): Promise<AuditIntegrityWalk | null> {
  let walk: AuditIntegrityWalk | null;
  try {
    walk = await startIntegrityWalk(systemContext(db, `jobs-integrity-${Date.now()}`), { via: "job", ifDueMinutes: everyMinutes });
  } catch (error) {
    if (error instanceof AppError && error.status === 409) return null;
    throw error;
  }
  return walk ? performIntegrityWalk(db, walk.id, key) : null;
}

export type WalkSummary = Omit<AuditIntegrityWalk, "chainReports" | "checkpoint">;

export interface IntegrityPageData {
  /** The latest finished walk, with what it found: broken chains only (the intact ones are counted). */
  latest: (WalkSummary & { brokenChains: StoredChainReport[]; checkpoint: StoredCheckpointReport | null }) | null;
  running: WalkSummary | null;
  recent: WalkSummary[];
}

const summaryColumns = {
  id: auditIntegrityWalks.id,
  startedAt: auditIntegrityWalks.startedAt,
  finishedAt: auditIntegrityWalks.finishedAt,
  startedVia: auditIntegrityWalks.startedVia,
  startedBy: auditIntegrityWalks.startedBy,
  startedByName: auditIntegrityWalks.startedByName,
  chains: auditIntegrityWalks.chains,
  events: auditIntegrityWalks.events,
  ok: auditIntegrityWalks.ok,
  failure: auditIntegrityWalks.failure,
};

/** What the Integrity page shows, read from the recorded walks: three index reads, no walk. */
export async function integrityPageData(db: Database, recentLimit = 10): Promise<IntegrityPageData> {
  const [[latest], [running], recent] = await Promise.all([
    db
      .select()
      .from(auditIntegrityWalks)
      .where(isNotNull(auditIntegrityWalks.finishedAt))
      .orderBy(desc(auditIntegrityWalks.startedAt))
      .limit(1),
    db.select(summaryColumns).from(auditIntegrityWalks).where(isNull(auditIntegrityWalks.finishedAt)).limit(1),
    db.select(summaryColumns).from(auditIntegrityWalks).orderBy(desc(auditIntegrityWalks.startedAt)).limit(recentLimit),
  ]);
  return {
    latest: latest
      ? (({ chainReports, checkpoint, ...rest }) => ({ ...rest, brokenChains: (chainReports ?? []).filter((c) => !c.ok), checkpoint: checkpoint ?? null }))(latest)
      : null,
    running: running ?? null,
    recent,
  };
}
