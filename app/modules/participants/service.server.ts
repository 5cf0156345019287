import { and, asc, count, desc, eq, gte, inArray, isNull, or, sql } from "drizzle-orm";
import { hongKongDay } from "~/lib/hong-kong-time";
import { offsetOf, type PageInfo, type Paging } from "~/lib/paging";
import { likePattern } from "~/lib/like";
import { z } from "zod";
import type { DbOrTx, Transaction } from "../../../db/client.server";
import {
  clearingAgreements,
  ocpServices,
  participantContacts,
  participantServices,
  participants,
  type OcpService,
  type Participant,
  type ParticipantContact,
  type ParticipantStatus,
  type ParticipantType,
} from "../../../db/schema";
import { AppError, notFound } from "~/lib/errors";
import type { MessageKey } from "~/i18n/messages";
import { diffFields } from "../audit/service.server";
import { defineCommand, platformWide, type CommandContext } from "../command.server";
import type { ServiceContext } from "../context.server";
import { CASE_STATUS_EVENTS, openCase, recomputeParticipantStatus } from "../onboarding/service.server";
import { mayOn, whereTenant } from "../tenancy.server";
import { PICKER_MENU_LIMIT } from "../users/picker.server";
import { createParticipantSchema, participantIdSchema, suspensionSchema, updateParticipantSchema } from "./schemas";

export interface ParticipantFilters {
  type?: ParticipantType;
  status?: ParticipantStatus;
  /** Part of the participant ID or of its English or Chinese name. */
  q?: string;
}

function participantFilter(ctx: ServiceContext, filters: ParticipantFilters) {
  const pattern = filters.q ? likePattern(filters.q) : null;
  return and(
    whereTenant(ctx.actor, "participant:read", participants.id),
    filters.type ? eq(participants.type, filters.type) : undefined,
    filters.status ? eq(participants.status, filters.status) : undefined,
    // The expression of the trigram index participants_search_trgm (migration 0011).
    pattern ? sql`(lower(${participants.id}) || ' ' || lower(${participants.nameEn}) || ' ' || ${participants.nameZh}) like ${pattern} escape '\\'` : undefined,
  );
}

export const PARTICIPANT_SORTS = ["id", "nameEn", "type", "status", "updatedAt"] as const;
export type ParticipantSort = (typeof PARTICIPANT_SORTS)[number];

/** One page of the participant list with its total (issue 13), sorted by a column and then by ID. */
export async function pageParticipants(ctx: ServiceContext, filters: ParticipantFilters, paging: Paging<ParticipantSort>): Promise<{ rows: Participant[]; info: PageInfo }> {
  const where = participantFilter(ctx, filters);
  const column = { id: participants.id, nameEn: participants.nameEn, type: participants.type, status: participants.status, updatedAt: participants.updatedAt }[paging.sort];
  const direction = paging.dir === "asc" ? asc : desc;
  const [{ total } = { total: 0 }] = await ctx.db.select({ total: count() }).from(participants).where(where);
  const rows = await ctx.db.select().from(participants).where(where).orderBy(direction(column), asc(participants.id)).limit(paging.size).offset(offsetOf(paging));
  return { rows, info: { total: Number(total), page: paging.page, size: paging.size } };
}

export async function listParticipants(ctx: ServiceContext, filters: ParticipantFilters = {}): Promise<Participant[]> {
  return ctx.db
    .select()
    .from(participants)
    .where(participantFilter(ctx, filters))
    .orderBy(asc(participants.id));
}

/**
 * The participant picker of an officer's forms (a new user, a bulk import): a menu while the market has at most
 * PICKER_MENU_LIMIT participants, else null and the form asks for the participant's ID (the market's thousand firms
 * in a menu would be most of the page, sent on every view).
 */
export async function participantPicker(ctx: ServiceContext): Promise<{ id: string; nameEn: string; nameZh: string }[] | null> {
  const rows = await ctx.db
    .select({ id: participants.id, nameEn: participants.nameEn, nameZh: participants.nameZh })
    .from(participants)
    .where(participantFilter(ctx, {}))
    .orderBy(asc(participants.id))
    .limit(PICKER_MENU_LIMIT + 1);
  return rows.length > PICKER_MENU_LIMIT ? null : rows;
}

/** Participants whose ID or name (English or Chinese) contains `q`, for the global search: a few and the total. */
export async function searchParticipants(ctx: ServiceContext, q: string, limit: number): Promise<{ rows: Participant[]; total: number }> {
  if (!mayOn(ctx.actor, "participant:read", ctx.actor.participantId)) return { rows: [], total: 0 };
  const { rows, info } = await pageParticipants(ctx, { q }, { page: 1, size: limit, sort: "id", dir: "asc" });
  return { rows, total: info.total };
}

/** One participant, or 404 when it does not exist or lies outside the actor's scope: the two look the same. */
export async function getParticipant(ctx: ServiceContext, id: string): Promise<Participant> {
  const parsed = participantIdSchema.safeParse(id);
  if (!parsed.success) throw notFound();
  const [row] = await ctx.db
    .select()
    .from(participants)
    .where(and(eq(participants.id, parsed.data), whereTenant(ctx.actor, "participant:read", participants.id)))
    .limit(1);
  if (!row) throw notFound();
  return row;
}

export interface ParticipantProfile {
  participant: Participant;
  services: string[];
  contacts: ParticipantContact[];
}

async function loadProfile(db: DbOrTx, participant: Participant): Promise<ParticipantProfile> {
  const [services, contacts] = await Promise.all([
    db
      .select({ code: participantServices.serviceCode })
      .from(participantServices)
      .where(eq(participantServices.participantId, participant.id))
      .orderBy(asc(participantServices.serviceCode)),
    db
      .select()
      .from(participantContacts)
      .where(eq(participantContacts.participantId, participant.id))
      .orderBy(asc(participantContacts.position)),
  ]);
  return {
    participant,
    services: services.map((s) => s.code),
    contacts,
  };
}

/** A participant with its services and contacts, within the actor's scope (else 404). */
export async function getParticipantProfile(ctx: ServiceContext, id: string): Promise<ParticipantProfile> {
  return loadProfile(ctx.db, await getParticipant(ctx, id));
}

export async function listServiceCatalogue(db: DbOrTx): Promise<OcpService[]> {
  return db.select().from(ocpServices).orderBy(asc(ocpServices.sortOrder));
}

type ParticipantDetails = {
  id: string;
  type: ParticipantType;
  services: string[];
};

/**
 * Rules that need the database: services from the catalogue; a GCP with clearing agreements not yet ended stays a
 * GCP until they end. Field messages name what is wrong.
 */
async function checkReferences(tx: DbOrTx, details: ParticipantDetails, today: string): Promise<void> {
  const fieldErrors: Record<string, MessageKey> = {};
  const services = [...new Set(details.services)];
  if (services.length > 0) {
    const known = await tx.select({ code: ocpServices.code }).from(ocpServices).where(inArray(ocpServices.code, services));
    if (known.length !== services.length) fieldErrors.services = "participant.error.serviceUnknown";
  }
  if (details.type !== "GCP") {
    const [running] = await tx
      .select({ id: clearingAgreements.id })
      .from(clearingAgreements)
      .where(and(eq(clearingAgreements.gcpId, details.id), or(isNull(clearingAgreements.endsOn), gte(clearingAgreements.endsOn, today))))
      .limit(1);
    if (running) fieldErrors.type = "ncp.error.typeHasNcps";
  }
  if (Object.keys(fieldErrors).length > 0) throw new AppError(400, "error.badRequest", fieldErrors);
}

async function writeDetails(
  tx: Transaction,
  participantId: string,
  details: { services: string[]; contacts: { name: string; email: string; phone: string | null; title: string | null }[] },
) {
  await tx.delete(participantServices).where(eq(participantServices.participantId, participantId));
  const services = [...new Set(details.services)];
  if (services.length) {
    await tx.insert(participantServices).values(services.map((serviceCode) => ({ participantId, serviceCode })));
  }
  await tx.delete(participantContacts).where(eq(participantContacts.participantId, participantId));
  if (details.contacts.length) {
    await tx
      .insert(participantContacts)
      .values(details.contacts.map((c, position) => ({ participantId, position, ...c })));
  }
}

const AUDITED_FIELDS = ["nameEn", "nameZh", "type", "bic", "services", "contacts"] as const;

function auditView(p: Pick<Participant, "nameEn" | "nameZh" | "type" | "bic">, details: { services: string[]; contacts: { name: string; email: string; phone: string | null; title: string | null }[] }) {
  return {
    nameEn: p.nameEn,
    nameZh: p.nameZh,
    type: p.type,
    bic: p.bic,
    services: [...new Set(details.services)].sort(),
    contacts: details.contacts.map(({ name, email, phone, title }) => ({ name, email, phone, title })),
  };
}

/** Registers a participant and opens its onboarding case (officer, or the console itself for the demo seed). */
export const createParticipant = defineCommand({
  name: "participants.create",
  permission: "participant:create",
  input: createParticipantSchema,
  events: ["participant.created", "case.opened"],
  // A new participant: nothing to hide yet, so an actor without the capability is told 403.
  tenant: platformWide,
  async run(cx): Promise<Participant> {
    const { tx, input: data } = cx;
    await checkReferences(tx, data, hongKongDay(cx.now));
    // Participant IDs are never reused: rows are never deleted, so the primary key refuses any reuse.
    const inserted = await tx
      .insert(participants)
      .values({ id: data.id, nameEn: data.nameEn, nameZh: data.nameZh, type: data.type, bic: data.bic })
      .onConflictDoNothing()
      .returning();
    const row = inserted[0];
    if (!row) throw new AppError(400, "error.badRequest", { id: "participant.error.idTaken" });
    await writeDetails(tx, row.id, data);
    cx.audit({
      action: "participant.created",
      entityType: "participant",
      entityId: row.id,
      participantId: row.id,
      changes: diffFields(null, { id: row.id, ...auditView(row, data) }, ["id", ...AUDITED_FIELDS]),
    });
    await openCase(cx, row.id);
    return row;
  },
});

/**
 * Locks a participant row for a change and checks that the editor saw its current version; a stale version is
 * a 409 and nothing is written, so concurrent edits never overwrite one another silently.
 */
async function lockForChange(tx: Transaction, id: string, version: number): Promise<Participant> {
  const [row] = await tx.select().from(participants).where(eq(participants.id, id)).for("update");
  if (!row) throw notFound();
  if (row.version !== version) throw new AppError(409, "error.conflict");
  return row;
}

async function existingParticipant(tx: DbOrTx, input: { participantId: string }): Promise<string> {
  const [p] = await tx.select({ id: participants.id }).from(participants).where(eq(participants.id, input.participantId));
  if (!p) throw notFound();
  return p.id;
}

const participantRef = { participantId: z.string().max(20) };

export const updateParticipant = defineCommand({
  name: "participants.update",
  permission: "participant:update",
  input: updateParticipantSchema.extend(participantRef),
  events: ["participant.updated"],
  tenant: existingParticipant,
  async run(cx): Promise<Participant> {
    const { tx, input: data } = cx;
    const id = data.participantId;
    const before = await lockForChange(tx, id, data.version);
    await checkReferences(tx, { id, ...data }, hongKongDay(cx.now));
    const beforeView = auditView(before, await loadProfile(tx, before));
    const afterView = auditView({ ...data }, data);
    const changes = diffFields(beforeView, afterView, AUDITED_FIELDS);
    if (Object.keys(changes).length === 0) return before;
    const [row] = await tx
      .update(participants)
      .set({ nameEn: data.nameEn, nameZh: data.nameZh, type: data.type, bic: data.bic, version: before.version + 1, updatedAt: cx.now })
      .where(eq(participants.id, id))
      .returning();
    await writeDetails(tx, id, data);
    cx.audit({ action: "participant.updated", entityType: "participant", entityId: id, participantId: id, changes });
    return row!;
  },
});

async function setSuspension(cx: CommandContext<z.output<typeof suspensionSchema> & { participantId: string }>, suspend: boolean): Promise<Participant> {
  const { tx, input: data } = cx;
  const id = data.participantId;
  const before = await lockForChange(tx, id, data.version);
  if (suspend === (before.suspendedAt !== null)) {
    throw new AppError(400, suspend ? "participant.error.alreadySuspended" : "participant.error.notSuspended");
  }
  await tx
    .update(participants)
    .set({ suspendedAt: suspend ? cx.now : null, suspensionReason: suspend ? data.reason : null, version: before.version + 1, updatedAt: cx.now })
    .where(eq(participants.id, id));
  cx.audit({
    action: suspend ? "participant.suspended" : "participant.reinstated",
    entityType: "participant",
    entityId: id,
    participantId: id,
    reason: data.reason,
    changes: { suspended: { before: !suspend, after: suspend } },
  });
  await recomputeParticipantStatus(cx, id);
  const [row] = await tx.select().from(participants).where(eq(participants.id, id));
  return row!;
}

/** Suspends a participant at any point of its onboarding, with a reason; its status shows "suspended". */
export const suspendParticipant = defineCommand({
  name: "participants.suspend",
  permission: "participant:update",
  input: suspensionSchema.extend(participantRef),
  events: ["participant.suspended", ...CASE_STATUS_EVENTS],
  tenant: existingParticipant,
  run: (cx) => setSuspension(cx, true),
});

/** Lifts a suspension; the status goes back to what the onboarding case says. */
export const reinstateParticipant = defineCommand({
  name: "participants.reinstate",
  permission: "participant:update",
  input: suspensionSchema.extend(participantRef),
  events: ["participant.reinstated", ...CASE_STATUS_EVENTS],
  tenant: existingParticipant,
  run: (cx) => setSuspension(cx, false),
});
