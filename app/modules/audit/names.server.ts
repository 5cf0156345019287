import { and, eq, inArray, sql } from "drizzle-orm";
import { apiClients, ocpServices, participants, roles, users, type AuditEvent } from "../../../db/schema";
import type { DbOrTx } from "../../../db/client.server";
import type { ServiceContext } from "../context.server";
import type { AuditEventInput } from "./service.server";
import { whereTenant } from "../tenancy.server";
import { likePattern } from "~/lib/like";

/**
 * The names an audit page mentions, looked up at read time in one batch per kind (users, roles, participants, API
 * clients) for the whole page, never per row. An event keeps its own actor name as written (a renamed user keeps the
 * name the event had); everything else is named as it is now.
 */
export interface EventNames {
  users: Record<string, { name: string; email: string }>;
  roles: Record<string, { en: string; zh: string }>;
  participants: Record<string, { en: string; zh: string }>;
  clients: Record<string, { name: string; clientId: string }>;
  services?: Record<string, { en: string; zh: string }>;
}

/** Fields of `changes` and `metadata` whose values are user ids. */
export const USER_ID_FIELDS = new Set(["submittedBy", "decidedBy", "ownerUserId", "userId", "requestedBy", "approvedBy", "revokedBy", "createdBy"]);

/** Fields of `changes` whose values are OCP service codes. */
const SERVICE_FIELDS = new Set(["services", "serviceCodes", "service", "serviceCode"]);

const asString = (v: unknown): string | null => (typeof v === "string" && v.length > 0 && v.length <= 200 ? v : null);

/** What one event refers to: its subject user, role, participant and API client, from its columns and metadata. */
export function referencesOf(e: Pick<AuditEvent, "entityType" | "entityId" | "metadata" | "changes" | "participantId" | "onBehalfOfUserId">) {
  const meta = e.metadata ?? {};
  const changes = e.changes ?? {};
  const changed = (field: string) => asString(changes[field]?.after) ?? asString(changes[field]?.before);
  return {
    userId: e.entityType === "user" ? asString(e.entityId) : (asString(meta.userId) ?? changed("userId") ?? asString(e.onBehalfOfUserId)),
    roleCode: asString(meta.roleCode) ?? changed("roleCode"),
    participantId: asString(e.participantId),
    clientId: e.entityType === "api_client" ? asString(e.entityId) : (asString(meta.apiClientId) ?? changed("apiClientId")),
    stepKey: e.entityType === "onboarding_step" && e.entityId ? (e.entityId.split("/")[1] ?? null) : null,
  };
}

/**
 * The names an event's subject had when it was written (`metadata.names`, since issue 14): the subject user's name,
 * the role's and the participant's names in both languages, the API client's name. The explorer prefers these to
 * the names of today, so that an event about a renamed user still reads with the name it had; older events, which
 * have none, are named at read time.
 */
export interface FrozenNames {
  user?: string;
  role?: { en: string; zh: string };
  participant?: { en: string; zh: string };
  client?: string;
}

const bilingual = (v: unknown): { en: string; zh: string } | undefined => {
  if (!v || typeof v !== "object") return undefined;
  const { en, zh } = v as { en?: unknown; zh?: unknown };
  return typeof en === "string" && typeof zh === "string" ? { en, zh } : undefined;
};

/** The names frozen into an event, or null for an event written without them. */
export function frozenNamesOf(e: Pick<AuditEvent, "metadata">): FrozenNames | null {
  const raw = e.metadata?.names;
  if (!raw || typeof raw !== "object") return null;
  const n = raw as Record<string, unknown>;
  const frozen: FrozenNames = {};
  if (typeof n.user === "string") frozen.user = n.user;
  if (typeof n.client === "string") frozen.client = n.client;
  const role = bilingual(n.role);
  if (role) frozen.role = role;
  const participant = bilingual(n.participant);
  if (participant) frozen.participant = participant;
  return Object.keys(frozen).length ? frozen : null;
}

/**
 * Writes into each event's metadata the names of what it is about, as they are now, inside the command's
 * transaction (so a name changed by the command itself is the new one). Called once per command, for all its
 * events, by the command wrapper (app/modules/command.server.ts): one query per kind of name, whatever the number
 * of events. An event that already names its subject keeps what it says.
 */
export async function freezeNames(tx: DbOrTx, events: AuditEventInput[]): Promise<void> {
  if (events.length === 0) return;
  const refs = events.map((e) =>
    referencesOf({
      entityType: e.entityType,
      entityId: e.entityId ?? null,
      metadata: e.metadata ?? null,
      changes: e.changes ?? null,
      participantId: e.participantId ?? null,
      onBehalfOfUserId: e.onBehalfOfUserId ?? null,
    }),
  );
  const ids = (pick: (r: (typeof refs)[number]) => string | null) => [...new Set(refs.map(pick).filter((v): v is string => Boolean(v)))];
  const [userIds, roleCodes, participantIds, clientIds] = [ids((r) => r.userId), ids((r) => r.roleCode), ids((r) => r.participantId), ids((r) => r.clientId)];
  const [u, r, p, c] = await Promise.all([
    userIds.length ? tx.select({ id: users.id, name: users.displayName }).from(users).where(inArray(users.id, userIds)) : [],
    roleCodes.length ? tx.select({ code: roles.code, en: roles.nameEn, zh: roles.nameZh }).from(roles).where(inArray(roles.code, roleCodes)) : [],
    participantIds.length ? tx.select({ id: participants.id, en: participants.nameEn, zh: participants.nameZh }).from(participants).where(inArray(participants.id, participantIds)) : [],
    clientIds.length ? tx.select({ id: apiClients.id, name: apiClients.name }).from(apiClients).where(inArray(apiClients.id, clientIds)) : [],
  ]);
  events.forEach((e, i) => {
    if (e.metadata?.names !== undefined) return;
    const ref = refs[i]!;
    const names: FrozenNames = {};
    const user = u.find((x) => x.id === ref.userId);
    if (user) names.user = user.name;
    const role = r.find((x) => x.code === ref.roleCode);
    if (role) names.role = { en: role.en, zh: role.zh };
    const participant = p.find((x) => x.id === ref.participantId);
    if (participant) names.participant = { en: participant.en, zh: participant.zh };
    const client = c.find((x) => x.id === ref.clientId);
    if (client) names.client = client.name;
    if (Object.keys(names).length) e.metadata = { ...(e.metadata ?? {}), names };
  });
}

export async function namesForEvents(ctx: ServiceContext, events: AuditEvent[]): Promise<EventNames> {
  const userIds = new Set<string>();
  const roleCodes = new Set<string>();
  const participantIds = new Set<string>();
  const clientIds = new Set<string>();
  let mentionsServices = false;
  for (const e of events) {
    const refs = referencesOf(e);
    if (refs.userId) userIds.add(refs.userId);
    if (refs.roleCode) roleCodes.add(refs.roleCode);
    if (refs.participantId) participantIds.add(refs.participantId);
    if (refs.clientId) clientIds.add(refs.clientId);
    for (const id of [e.actorUserId, e.onBehalfOfUserId]) if (id) userIds.add(id);
    for (const [field, change] of Object.entries(e.changes ?? {})) {
      if (SERVICE_FIELDS.has(field)) mentionsServices = true;
      for (const v of [change.before, change.after]) {
        const s = asString(v);
        if (!s) continue;
        if (USER_ID_FIELDS.has(field)) userIds.add(s);
        if (field === "roleCode") roleCodes.add(s);
      }
      for (const v of [change.before, change.after]) if (field === "roles" && Array.isArray(v)) for (const r of v) if (typeof r === "string") roleCodes.add(r);
    }
  }
  const [u, r, p, c, s] = await Promise.all([
    userIds.size ? ctx.db.select({ id: users.id, name: users.displayName, email: users.email }).from(users).where(inArray(users.id, [...userIds])) : [],
    roleCodes.size ? ctx.db.select({ code: roles.code, en: roles.nameEn, zh: roles.nameZh }).from(roles).where(inArray(roles.code, [...roleCodes])) : [],
    participantIds.size ? ctx.db.select({ id: participants.id, en: participants.nameEn, zh: participants.nameZh }).from(participants).where(inArray(participants.id, [...participantIds])) : [],
    clientIds.size ? ctx.db.select({ id: apiClients.id, name: apiClients.name, clientId: apiClients.clientId }).from(apiClients).where(inArray(apiClients.id, [...clientIds])) : [],
    // The service catalogue is a handful of rows: read whole, and only when a page's events change services.
    mentionsServices ? ctx.db.select({ code: ocpServices.code, en: ocpServices.nameEn, zh: ocpServices.nameZh }).from(ocpServices) : [],
  ]);
  return {
    users: Object.fromEntries(u.map((x) => [x.id, { name: x.name, email: x.email }])),
    roles: Object.fromEntries(r.map((x) => [x.code, { en: x.en, zh: x.zh }])),
    participants: Object.fromEntries(p.map((x) => [x.id, { en: x.en, zh: x.zh }])),
    clients: Object.fromEntries(c.map((x) => [x.id, { name: x.name, clientId: x.clientId }])),
    services: Object.fromEntries(s.map((x) => [x.code, { en: x.en, zh: x.zh }])),
  };
}

export interface PersonMatch {
  id: string;
  name: string;
  email: string;
}

const UUIDISH = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The users a person typed into the actor or user filter: an id, an email, or part of a name or email, among the
 * users the reader may see (a participant administrator, their own participant's). At most `limit` matches; an
 * exact email or id wins outright.
 */
export async function findPeople(ctx: ServiceContext, text: string, limit = 8): Promise<PersonMatch[]> {
  const q = text.trim().slice(0, 100);
  if (q.length < 2) return [];
  const scope = whereTenant(ctx.actor, "audit:read", users.participantId);
  const columns = { id: users.id, name: users.displayName, email: users.email };
  if (UUIDISH.test(q) || q.includes("@")) {
    const exact = await ctx.db
      .select(columns)
      .from(users)
      // Emails are stored in lower case (a check constraint): the unique index finds the typed one.
      .where(and(scope, UUIDISH.test(q) ? eq(users.id, q.toLowerCase()) : eq(users.email, q.toLowerCase())))
      .limit(1);
    if (exact.length) return exact;
  }
  const pattern = likePattern(q);
  return ctx.db
    .select(columns)
    .from(users)
    // The expression of the trigram index users_search_trgm (migration 0011), as the Users list searches: name,
    // email or participant ID. `ilike` on the two columns read all 55,000 users of the market (150 ms).
    .where(and(scope, sql`(lower(${users.email}) || ' ' || lower(${users.displayName}) || ' ' || lower(coalesce(${users.participantId}, ''))) like ${pattern} escape '\\'`))
    .orderBy(users.displayName)
    .limit(limit);
}

/** The person a filter names by id (the explorer's `userId` and `actorUserId`), within the reader's scope. */
export async function personById(ctx: ServiceContext, id: string): Promise<PersonMatch | undefined> {
  const [match] = await ctx.db
    .select({ id: users.id, name: users.displayName, email: users.email })
    .from(users)
    .where(and(whereTenant(ctx.actor, "audit:read", users.participantId), eq(users.id, id)))
    .limit(1);
  return match;
}
