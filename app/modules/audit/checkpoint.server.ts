import { randomUUID } from "node:crypto";
import { CompactSign, compactVerify } from "jose";
import { and, desc, eq, sql } from "drizzle-orm";
import type { Database } from "../../../db/client.server";
import { auditCheckpoints, auditEvents, type AuditCheckpoint } from "../../../db/schema";
import { z } from "zod";
import { AppError } from "~/lib/errors";
import { defineCommand, platformWide } from "../command.server";
import { verifyAuditChains, type ChainReport } from "./service.server";

export interface CheckpointHead {
  chainKey: string;
  seq: number;
  hash: string;
}

interface CheckpointPayload {
  v: 1;
  id: string;
  createdAt: string;
  heads: CheckpointHead[];
}

function keyBytes(key: string): Uint8Array {
  return new TextEncoder().encode(key);
}

/** Each chain's last event, read from the events themselves (not the heads table, which is only a lock). */
async function currentHeads(db: Database): Promise<CheckpointHead[]> {
  const rows = await db.execute<{ chain_key: string; seq: number | string; hash: string }>(sql`
    select distinct on (chain_key) chain_key, seq, hash
    from ${auditEvents}
    order by chain_key, seq desc`);
  const list = (Array.isArray(rows) ? rows : (rows as { rows: unknown[] }).rows) as { chain_key: string; seq: number | string; hash: string }[];
  return list.map((r) => ({ chainKey: r.chain_key, seq: Number(r.seq), hash: r.hash }));
}

/**
 * Signs the current head of every chain (HS256, key from configuration) and keeps it. A later verification that
 * finds a different hash at a checkpointed position has caught a chain rewritten with recomputed hashes.
 */
export const createCheckpoint = defineCommand({
  name: "audit.createCheckpoint",
  permission: "audit:manage",
  // The key comes from configuration, never from a form.
  input: z.object({ key: z.string().nullable() }),
  events: ["audit.checkpoint.created"],
  tenant: platformWide,
  async run(cx): Promise<{ checkpoint: AuditCheckpoint; jws: string }> {
    const { tx, input: { key } } = cx;
    if (!key) throw new AppError(400, "integrity.noKey");
    // The heads are read inside the transaction that records the checkpoint, so they are a consistent cut.
    const heads = await currentHeads(tx as unknown as Database);
    const payload: CheckpointPayload = { v: 1, id: randomUUID(), createdAt: new Date().toISOString(), heads };
    const jws = await new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
      .setProtectedHeader({ alg: "HS256", typ: "ocp-audit-checkpoint" })
      .sign(keyBytes(key));
    const [checkpoint] = await tx
      .insert(auditCheckpoints)
      .values({ id: payload.id, createdAt: new Date(payload.createdAt), createdBy: cx.actor.userId, heads, signature: jws })
      .returning();
    cx.audit({
      action: "audit.checkpoint.created",
      entityType: "audit_checkpoint",
      entityId: payload.id,
      metadata: { chains: heads.length, events: heads.reduce((n, h) => n + h.seq, 0) },
    });
    return { checkpoint: checkpoint!, jws };
  },
});

export interface CheckpointReport {
  checkpointId: string | null;
  createdAt: string | null;
  signatureValid: boolean;
  problems: { chainKey: string; seq: number; problem: string }[];
}

/**
 * Compares the chains with a signed checkpoint: its signature must verify with the configured key, and at every
 * checkpointed head the chain must still hold an event with that very hash.
 */
export async function verifyCheckpoint(db: Database, jws: string, key: string | null): Promise<CheckpointReport> {
  if (!key) return { checkpointId: null, createdAt: null, signatureValid: false, problems: [{ chainKey: "*", seq: 0, problem: "no checkpoint key is configured" }] };
  let payload: CheckpointPayload;
  try {
    const verified = await compactVerify(jws.trim(), keyBytes(key), { algorithms: ["HS256"] });
    payload = JSON.parse(new TextDecoder().decode(verified.payload)) as CheckpointPayload;
  } catch {
    return { checkpointId: null, createdAt: null, signatureValid: false, problems: [{ chainKey: "*", seq: 0, problem: "the checkpoint's signature does not verify: it was altered or signed with another key" }] };
  }
  const problems: CheckpointReport["problems"] = [];
  for (const head of payload.heads) {
    const [event] = await db
      .select({ hash: auditEvents.hash })
      .from(auditEvents)
      .where(and(eq(auditEvents.chainKey, head.chainKey), eq(auditEvents.seq, head.seq)));
    if (!event) problems.push({ chainKey: head.chainKey, seq: head.seq, problem: `event #${head.seq} recorded in the checkpoint is missing` });
    else if (event.hash !== head.hash) {
      problems.push({ chainKey: head.chainKey, seq: head.seq, problem: `event #${head.seq} differs from the checkpoint: the chain was rewritten up to here` });
    }
  }
  return { checkpointId: payload.id, createdAt: payload.createdAt, signatureValid: true, problems };
}

export async function latestCheckpoint(db: Database): Promise<AuditCheckpoint | null> {
  const [row] = await db.select().from(auditCheckpoints).orderBy(desc(auditCheckpoints.createdAt)).limit(1);
  return row ?? null;
}

export interface IntegrityReport {
  chains: ChainReport[];
  checkpoint: CheckpointReport | null;
  ok: boolean;
}

/** Every chain walked and, when there is one, compared with the latest signed checkpoint. */
export async function integrityReport(db: Database, key: string | null): Promise<IntegrityReport> {
  const chains = await verifyAuditChains(db);
  const latest = await latestCheckpoint(db);
  const checkpoint = latest ? await verifyCheckpoint(db, latest.signature, key) : null;
  const ok = chains.every((c) => c.ok) && (!checkpoint || (checkpoint.signatureValid && checkpoint.problems.length === 0));
  return { chains, checkpoint, ok };
}
