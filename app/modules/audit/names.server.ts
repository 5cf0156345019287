import { and, eq, ilike, inArray, or, sql } from "drizzle-orm";
import { apiClients, ocpServices, participants, roles, users, type AuditEvent } from "../../../db/schema";
import type { ServiceContext } from "../context.server";
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
      .where(and(scope, UUIDISH.test(q) ? eq(users.id, q.toLowerCase()) : sql`lower(${users.email}) = lower(${q})`))
      .limit(1);
    if (exact.length) return exact;
  }
  const pattern = likePattern(q);
  return ctx.db
    .select(columns)
    .from(users)
    .where(and(scope, or(ilike(users.displayName, pattern), ilike(users.email, pattern))))
    .orderBy(users.displayName)
    .limit(limit);
}
