import { and, asc, desc, eq, gte, isNull, lte, or, sql } from "drizzle-orm";
import type { z } from "zod";
import type { DbOrTx, Transaction } from "../../../db/client.server";
import { clearingAgreements, participants, type ClearingAgreement } from "../../../db/schema";
import { AppError, notFound } from "~/lib/errors";
import { hongKongDay } from "~/lib/hong-kong-time";
import { diffFields } from "../audit/service.server";
import { defineCommand } from "../command.server";
import type { ServiceContext } from "../context.server";
import { assertTenant, mayOn } from "../tenancy.server";
import { addNcpSchema, endNcpSchema, renameNcpSchema } from "./schemas";
import { getParticipant } from "./service.server";

/**
 * A General Clearing Participant's Non-Clearing Participants (SPEC §2): clearing agreements with exchange
 * participants who are not clearing participants of this console, each under its own exchange participant ID and
 * names, running from a start day to an end day (Hong Kong calendar days, both included). The agreements in force
 * on a day are the NCP/GCP mapping the reference-data service publishes. An officer records them; the GCP's own
 * users read them. docs/decisions/019-non-clearing-participants.md.
 */

/** Whether an agreement is in force on a Hong Kong day (YYYY-MM-DD). */
export function inForceOn(agreement: Pick<ClearingAgreement, "startsOn" | "endsOn">, day: string): boolean {
  return agreement.startsOn <= day && (agreement.endsOn === null || agreement.endsOn >= day);
}

export type AgreementState = "active" | "upcoming" | "ended";

export function agreementState(agreement: Pick<ClearingAgreement, "startsOn" | "endsOn">, day: string): AgreementState {
  if (agreement.startsOn > day) return "upcoming";
  return inForceOn(agreement, day) ? "active" : "ended";
}

/** The clearing agreements of a participant, newest start first; 404 outside the reader's tenant. */
export async function listClearingAgreements(ctx: ServiceContext, participantId: string, now = new Date()) {
  const participant = await getParticipant(ctx, participantId);
  const today = hongKongDay(now);
  const rows = await ctx.db
    .select()
    .from(clearingAgreements)
    .where(eq(clearingAgreements.gcpId, participant.id))
    .orderBy(desc(clearingAgreements.startsOn), asc(clearingAgreements.ncpId), asc(clearingAgreements.id));
  // Running agreements first, then upcoming, then ended: the list reads as "who we clear for now".
  const order: Record<AgreementState, number> = { active: 0, upcoming: 1, ended: 2 };
  const agreements = rows
    .map((a) => ({ ...a, state: agreementState(a, today) }))
    .sort((a, b) => order[a.state] - order[b.state]);
  return { participant, agreements, today, canManage: participant.type === "GCP" && mayOn(ctx.actor, "participant:update", participant.id) };
}

/** The NCP/GCP mapping on a Hong Kong day: every agreement in force that day, by NCP. For the simulator's reference data. */
export async function ncpGcpMapping(db: DbOrTx, day: string) {
  return db
    .select({
      ncpId: clearingAgreements.ncpId,
      ncpNameEn: clearingAgreements.ncpNameEn,
      ncpNameZh: clearingAgreements.ncpNameZh,
      gcpId: clearingAgreements.gcpId,
      from: clearingAgreements.startsOn,
      to: clearingAgreements.endsOn,
    })
    .from(clearingAgreements)
    .where(and(lte(clearingAgreements.startsOn, day), or(isNull(clearingAgreements.endsOn), gte(clearingAgreements.endsOn, day))))
    .orderBy(asc(clearingAgreements.ncpId), asc(clearingAgreements.gcpId));
}

/** The GCP an agreement command names: it must exist and the agreement must be its (else 404 either way). */
async function gcpOfAgreement(tx: Transaction, input: { participantId: string; agreementId: number }): Promise<string> {
  const [row] = await tx.select({ gcpId: clearingAgreements.gcpId }).from(clearingAgreements).where(eq(clearingAgreements.id, input.agreementId));
  if (!row || row.gcpId !== input.participantId) throw notFound();
  return row.gcpId;
}

async function lockedAgreement(tx: Transaction, input: { agreementId: number; version: number }): Promise<ClearingAgreement> {
  const [row] = await tx.select().from(clearingAgreements).where(eq(clearingAgreements.id, input.agreementId)).for("update");
  if (!row) throw notFound();
  if (row.version !== input.version) throw new AppError(409, "error.conflict");
  return row;
}

const AUDITED = ["ncpId", "ncpNameEn", "ncpNameZh", "startsOn", "endsOn"] as const;

/**
 * An officer records that a GCP clears for an NCP from a day (and, if known, until a day). Only a GCP clears for
 * NCPs; an NCP is cleared by one GCP at a time, so an agreement whose days overlap another agreement of the same
 * NCP (under this GCP or another) is refused, naming the GCP and its days.
 */
export const addNcpAgreement = defineCommand({
  name: "participants.addNcp",
  permission: "participant:update",
  input: addNcpSchema,
  events: ["participant.ncp.added"],
  async tenant(tx, input) {
    const [p] = await tx.select({ id: participants.id }).from(participants).where(eq(participants.id, input.participantId));
    if (!p) throw notFound();
    return p.id;
  },
  async run(cx): Promise<ClearingAgreement> {
    const { tx, input } = cx;
    const [gcp] = await tx.select().from(participants).where(eq(participants.id, input.participantId));
    if (gcp!.type !== "GCP") throw new AppError(400, "ncp.refused.notGcp");
    if (input.ncpId === gcp!.id) throw new AppError(400, "error.badRequest", { ncpId: "ncp.error.self" });
    const [registered] = await tx.select({ id: participants.id }).from(participants).where(eq(participants.id, input.ncpId));
    if (registered) throw new AppError(400, "error.badRequest", { ncpId: "ncp.error.registered" }, { ncpId: input.ncpId });
    // Agreements of one NCP under different GCPs lock different participant rows: one lock per NCP makes two
    // officers recording the same NCP at once take turns, so the overlap check below sees the other's agreement.
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`clearing-agreement:${input.ncpId}`}))`);
    const [overlap] = await tx
      .select()
      .from(clearingAgreements)
      .where(
        and(
          eq(clearingAgreements.ncpId, input.ncpId),
          sql`daterange(${clearingAgreements.startsOn}, ${clearingAgreements.endsOn}, '[]') && daterange(${input.startsOn}::date, ${input.endsOn}::date, '[]')`,
        ),
      )
      .orderBy(asc(clearingAgreements.startsOn))
      .limit(1);
    if (overlap) {
      throw new AppError(
        400,
        "error.badRequest",
        { ncpId: "ncp.error.overlap" },
        { ncpId: input.ncpId, gcp: overlap.gcpId, from: overlap.startsOn, to: overlap.endsOn ?? "—" },
      );
    }
    const [added] = await tx
      .insert(clearingAgreements)
      .values({ gcpId: gcp!.id, ncpId: input.ncpId, ncpNameEn: input.nameEn, ncpNameZh: input.nameZh, startsOn: input.startsOn, endsOn: input.endsOn, createdAt: cx.now, updatedAt: cx.now })
      .returning();
    cx.audit({
      action: "participant.ncp.added",
      entityType: "clearing_agreement",
      entityId: String(added!.id),
      participantId: gcp!.id,
      changes: diffFields(null, added!, AUDITED),
    });
    return added!;
  },
});

/** An agreement ends once, on a day no earlier than its start. */
function assertMayEnd(agreement: Pick<ClearingAgreement, "startsOn" | "endsOn">, endsOn: string): void {
  if (agreement.endsOn !== null) throw new AppError(409, "ncp.refused.alreadyEnded", {}, { endsOn: agreement.endsOn });
  if (endsOn < agreement.startsOn) throw new AppError(400, "error.badRequest", { endsOn: "ncp.error.endsBeforeStart" });
}

/**
 * The agreement an officer is about to end, named in the question asked first; refused as the command refuses
 * (404 outside the officer's tenant, changed since, already ended, a day before its start), so the question never
 * names an end that would fail.
 */
export async function describeNcpEnd(ctx: ServiceContext, input: z.output<typeof endNcpSchema>) {
  const [row] = await ctx.db.select().from(clearingAgreements).where(eq(clearingAgreements.id, input.agreementId));
  if (!row || row.gcpId !== input.participantId) throw notFound();
  assertTenant(ctx.actor, "participant:update", row.gcpId);
  if (row.version !== input.version) throw new AppError(409, "error.conflict");
  assertMayEnd(row, input.endsOn);
  return { ncpId: row.ncpId, ncpNameEn: row.ncpNameEn, ncpNameZh: row.ncpNameZh, startsOn: row.startsOn, endsOn: input.endsOn };
}

/** An officer ends an agreement on a day (the last day the GCP clears for the NCP); an ended agreement stays ended. */
export const endNcpAgreement = defineCommand({
  name: "participants.endNcp",
  permission: "participant:update",
  input: endNcpSchema,
  events: ["participant.ncp.ended"],
  tenant: gcpOfAgreement,
  async run(cx): Promise<ClearingAgreement> {
    const { tx, input } = cx;
    const before = await lockedAgreement(tx, input);
    assertMayEnd(before, input.endsOn);
    const [after] = await tx
      .update(clearingAgreements)
      .set({ endsOn: input.endsOn, version: before.version + 1, updatedAt: cx.now })
      .where(eq(clearingAgreements.id, before.id))
      .returning();
    cx.audit({
      action: "participant.ncp.ended",
      entityType: "clearing_agreement",
      entityId: String(before.id),
      participantId: before.gcpId,
      changes: diffFields(before, after!, ["endsOn"]),
      metadata: { ncpId: before.ncpId },
    });
    return after!;
  },
});

/** An officer corrects an NCP's names on an agreement (a typo, a renamed firm); its ID and days stay. */
export const renameNcpAgreement = defineCommand({
  name: "participants.renameNcp",
  permission: "participant:update",
  input: renameNcpSchema,
  events: ["participant.ncp.renamed"],
  tenant: gcpOfAgreement,
  async run(cx): Promise<ClearingAgreement> {
    const { tx, input } = cx;
    const before = await lockedAgreement(tx, input);
    const changes = diffFields(before, { ...before, ncpNameEn: input.nameEn, ncpNameZh: input.nameZh }, ["ncpNameEn", "ncpNameZh"]);
    if (Object.keys(changes).length === 0) return before;
    const [after] = await tx
      .update(clearingAgreements)
      .set({ ncpNameEn: input.nameEn, ncpNameZh: input.nameZh, version: before.version + 1, updatedAt: cx.now })
      .where(eq(clearingAgreements.id, before.id))
      .returning();
    cx.audit({
      action: "participant.ncp.renamed",
      entityType: "clearing_agreement",
      entityId: String(before.id),
      participantId: before.gcpId,
      changes,
      metadata: { ncpId: before.ncpId },
    });
    return after!;
  },
});
