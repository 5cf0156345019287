import { randomUUID } from "node:crypto";
import { and, asc, desc, eq, inArray, or, sql } from "drizzle-orm";
import {
  grantRequests,
  onboardingSteps,
  participants,
  roleGrants,
  roles,
  sessions,
  sodWaivers,
  users,
  type RoleGrant,
  type SodWaiver,
  type User,
} from "../../../db/schema";
import { hashPassword } from "~/auth/password.server";
import { scopeOf } from "~/auth/permissions";
import { AppError, forbidden, notFound } from "~/lib/errors";
import { validate } from "~/lib/validation";
import { appendAuditEvent, appendAuditEvents, diffFields, type AuditEventInput } from "../audit/service.server";
import type { ServiceContext } from "../context.server";
import { activeAdministrators, appointedAdministrators, loadSodRules } from "../roles/facts.server";
import { ADMINISTRATOR_ROLES, grantState, isDormant, lastAdministratorLost, lifecycleTarget, sodConflictsAmong } from "../roles/rules";
import { checkSod, insertGrant, listRequests, lockParticipantAccess, userInScope, type RequestRow } from "../roles/service.server";
import { lastConfirmations } from "../reviews/service.server";
import { issueLinks } from "../credentials/links.server";
import { createUserSchema, lifecycleSchema, updateUserSchema, type CreateUserInput, type LifecycleInput, type UpdateUserInput } from "./schemas";

export interface ProvisionUserInput {
  email: string;
  displayName: string;
  participantId: string | null;
  password: string | null;
  roleCodes: string[];
  isDemo?: boolean;
  /** An authenticator key the user comes enrolled with (demo accounts, tests); otherwise they enrol at first sign-in. */
  totpSecret?: string | null;
}

/**
 * Creates an active user with roles, already approved. Only the system may do this (demo seed, first
 * administrators); participant administrators go through the maker-checker path of Login Management.
 */
export async function provisionUser(ctx: ServiceContext, input: ProvisionUserInput): Promise<User> {
  if (ctx.actor.persona !== "system") throw forbidden();
  const email = input.email.trim().toLowerCase();
  const passwordHash = input.password ? await hashPassword(input.password) : null;
  return ctx.db.transaction(async (tx) => {
    const [existing] = await tx.select({ id: users.id }).from(users).where(eq(users.email, email)).limit(1);
    if (existing) throw new AppError(400, "error.badRequest", { email: "validation.invalid" });
    const [user] = await tx
      .insert(users)
      .values({
        id: randomUUID(),
        email,
        displayName: input.displayName,
        participantId: input.participantId,
        passwordHash,
        status: "active",
        isDemo: input.isDemo ?? false,
        totpSecret: input.totpSecret ?? null,
        mfaEnrolledAt: input.totpSecret ? new Date() : null,
      })
      .returning();
    if (!user) throw new Error("user not created");
    await appendAuditEvent(tx, ctx, {
      action: "user.created",
      entityType: "user",
      entityId: user.id,
      participantId: user.participantId,
      changes: diffFields(null, user, ["email", "displayName", "participantId", "status", "isDemo", "mfaEnrolledAt"]),
    });
    for (const roleCode of input.roleCodes) {
      const [role] = await tx.select().from(roles).where(eq(roles.code, roleCode)).limit(1);
      if (!role) throw new AppError(400, "error.badRequest", { roleCodes: "validation.invalid" });
      const expected = user.participantId ? "participant" : "hkex";
      if (role.population !== expected) throw new AppError(400, "error.badRequest", { roleCodes: "validation.invalid" });
      const [grant] = await tx
        .insert(roleGrants)
        .values({
          id: randomUUID(),
          userId: user.id,
          roleCode,
          participantId: user.participantId,
          status: "active",
          source: "seed",
          validFrom: new Date(),
          createdAt: new Date(),
        })
        .returning();
      if (!grant) throw new Error("grant not created");
      await appendAuditEvent(tx, ctx, {
        action: "role.grant.created",
        entityType: "role_grant",
        entityId: grant.id,
        participantId: user.participantId,
        changes: diffFields(null, grant, ["userId", "roleCode", "status", "source"]),
        metadata: { userId: user.id, roleCode },
      });
    }
    return user;
  });
}

export interface UserListFilters {
  q?: string;
  status?: User["status"];
  participantId?: string;
}

function likePattern(q: string): string {
  return `%${q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/**
 * Users the actor may see: a participant administrator their own participant's; HKEX staff (officer, compliance,
 * helpdesk) every participant's, searchable by name, email or participant.
 */
export async function listUsers(ctx: ServiceContext, filters: UserListFilters = {}, limit = 200): Promise<User[]> {
  const scope = scopeOf(ctx.actor.permissions, "user:read");
  if (!scope) throw forbidden();
  return ctx.db
    .select()
    .from(users)
    .where(
      and(
        scope === "own-participant" ? eq(users.participantId, ctx.actor.participantId ?? "") : undefined,
        filters.participantId ? eq(users.participantId, filters.participantId) : undefined,
        filters.status ? eq(users.status, filters.status) : undefined,
        filters.q
          ? or(
              sql`lower(${users.email}) like ${likePattern(filters.q)} escape '\\'`,
              sql`lower(${users.displayName}) like ${likePattern(filters.q)} escape '\\'`,
              sql`lower(coalesce(${users.participantId}, '')) like ${likePattern(filters.q)} escape '\\'`,
            )
          : undefined,
      ),
    )
    .orderBy(asc(users.participantId), asc(users.displayName))
    .limit(limit);
}

/**
 * Creates a participant's user in "invited" state (the activation link comes with credential issuance). A DA
 * maker's roles become requests for a checker; an officer may grant the DA roles of a participant's first
 * administrators directly, and nothing else.
 */
export async function createUser(ctx: ServiceContext, input: CreateUserInput): Promise<{ user: User; requests: string[]; grants: string[] }> {
  const data = validate(createUserSchema, input);
  const scope = scopeOf(ctx.actor.permissions, "user:create");
  if (!scope) throw forbidden();
  if (scope === "own-participant" && data.participantId !== ctx.actor.participantId) throw notFound();
  const officer = scope === "any";
  return ctx.db.transaction(async (tx) => {
    const [participant] = await tx.select().from(participants).where(eq(participants.id, data.participantId));
    if (!participant) throw new AppError(400, "error.badRequest", { participantId: "access.error.participant" });
    await lockParticipantAccess(tx, participant.id);
    const [taken] = await tx.select({ id: users.id }).from(users).where(eq(users.email, data.email));
    if (taken) throw new AppError(400, "error.badRequest", { email: "access.error.emailTaken" });
    const roleCodes = [...new Set(data.roles)];
    const now = new Date();
    if (officer && roleCodes.length > 0) {
      const admins = await appointedAdministrators(tx, participant.id, now);
      const firstAdministrators = !admins.some((a) => a.roleCode === "da_maker") || !admins.some((a) => a.roleCode === "da_checker");
      if (!firstAdministrators || roleCodes.some((r) => !(ADMINISTRATOR_ROLES as readonly string[]).includes(r))) {
        throw new AppError(400, "error.badRequest", { roles: "access.refused.firstAdministratorsOnly" });
      }
    }
    const [user] = await tx
      .insert(users)
      .values({ id: randomUUID(), email: data.email, displayName: data.displayName, participantId: participant.id, status: "invited" })
      .returning();
    await appendAuditEvent(tx, ctx, {
      action: "user.created",
      entityType: "user",
      entityId: user!.id,
      participantId: participant.id,
      changes: diffFields(null, user!, ["email", "displayName", "participantId", "status"]),
    });
    const requests: string[] = [];
    const grants: string[] = [];
    // The invitation link goes out now, except for first administrators an officer appoints before the onboarding
    // case's nomination step is approved: their links go out with that approval.
    const [nomination] = await tx
      .select({ state: onboardingSteps.state })
      .from(onboardingSteps)
      .where(and(eq(onboardingSteps.participantId, participant.id), eq(onboardingSteps.stepKey, "admin_nomination")));
    if (!(officer && roleCodes.length > 0 && nomination && nomination.state !== "approved")) {
      await issueLinks(tx, ctx, [user!], "invitation");
    }
    for (const roleCode of roleCodes) {
      const [role] = await tx.select().from(roles).where(eq(roles.code, roleCode));
      if (!role || !role.active || role.population !== "participant") {
        throw new AppError(400, "error.badRequest", { roles: "access.error.role" }, { role: roleCode });
      }
      await checkSod(tx, user!.id, roleCode, data.justification, now);
      if (officer) {
        const grant = await insertGrant(tx, {
          userId: user!.id,
          roleCode,
          participantId: participant.id,
          validFrom: now,
          validTo: null,
          source: "officer",
          requestId: null,
          requestedBy: ctx.actor.userId,
          approvedBy: ctx.actor.userId,
          sodJustification: null,
        });
        grants.push(grant.id);
        await appendAuditEvent(tx, ctx, {
          action: "role.grant.created",
          entityType: "role_grant",
          entityId: grant.id,
          participantId: participant.id,
          changes: diffFields(null, grant, ["userId", "roleCode", "validFrom", "requestedBy", "approvedBy", "source"]),
          metadata: { userId: user!.id, roleCode, firstAdministrator: true },
        });
      } else {
        const [request] = await tx
          .insert(grantRequests)
          .values({
            id: randomUUID(),
            participantId: participant.id,
            userId: user!.id,
            roleCode,
            sodJustification: data.justification,
            requestedBy: ctx.actor.userId,
            requestedAt: now,
          })
          .returning();
        requests.push(request!.id);
        await appendAuditEvent(tx, ctx, {
          action: "role.grant.requested",
          entityType: "grant_request",
          entityId: request!.id,
          participantId: participant.id,
          changes: diffFields(null, request!, ["userId", "roleCode", "status"]),
          metadata: { userId: user!.id },
        });
      }
    }
    return { user: user!, requests, grants };
  });
}

/** Edits a user's name. The editor's version must be current: two makers editing at once never lose an update. */
export async function updateUser(ctx: ServiceContext, userId: string, input: UpdateUserInput): Promise<User> {
  const data = validate(updateUserSchema, input);
  return ctx.db.transaction(async (tx) => {
    await userInScope(tx, ctx, userId, "user:update");
    const [before] = await tx.select().from(users).where(eq(users.id, userId)).for("update");
    if (!before) throw notFound();
    if (before.version !== data.version) throw new AppError(409, "error.conflict");
    if (before.displayName === data.displayName) return before;
    const [after] = await tx
      .update(users)
      .set({ displayName: data.displayName, version: before.version + 1, updatedAt: new Date() })
      .where(eq(users.id, userId))
      .returning();
    await appendAuditEvent(tx, ctx, {
      action: "user.updated",
      entityType: "user",
      entityId: userId,
      participantId: before.participantId,
      changes: diffFields(before, after!, ["displayName"]),
    });
    return after!;
  });
}

const LIFECYCLE_EVENT = {
  suspend: "user.suspended",
  reinstate: "user.reinstated",
  deactivate: "user.deactivated",
  unlock: "user.unlocked",
} as const;

/**
 * Suspends, reinstates, deactivates (final: history kept, login name never reused) or unlocks a user, with a
 * reason. The last active DA maker or checker of a participant cannot be suspended or deactivated. Suspension and
 * deactivation end the user's sessions at once; deactivation also ends their grants.
 */
export async function changeUserStatus(
  ctx: ServiceContext,
  userId: string,
  input: LifecycleInput,
  options: { ticketRef?: string } = {},
): Promise<User> {
  const data = validate(lifecycleSchema, input);
  const capability = options.ticketRef ? "user:support" : "user:update";
  return ctx.db.transaction(async (tx) => {
    const scoped = await userInScope(tx, ctx, userId, capability);
    if (scoped.participantId) await lockParticipantAccess(tx, scoped.participantId);
    const [before] = await tx.select().from(users).where(eq(users.id, userId)).for("update");
    if (!before) throw notFound();
    if (before.version !== Number(data.version)) throw new AppError(409, "error.conflict");
    const target = lifecycleTarget(before.status, data.action);
    if (!target) throw new AppError(400, "access.refused.lifecycle", {}, { status: before.status });
    const now = new Date();
    if ((data.action === "suspend" || data.action === "deactivate") && before.participantId) {
      const lost = lastAdministratorLost(await activeAdministrators(tx, before.participantId, now), before.id, "all");
      if (lost) throw new AppError(400, "access.refused.lastAdministrator", {}, { role: lost });
    }
    const [after] = await tx
      .update(users)
      .set({ status: target, statusReason: data.reason, statusChangedAt: now, version: before.version + 1, updatedAt: now })
      .where(eq(users.id, userId))
      .returning();
    const events: AuditEventInput[] = [
      {
        action: LIFECYCLE_EVENT[data.action],
        entityType: "user",
        entityId: userId,
        participantId: before.participantId,
        reason: data.reason,
        ticketRef: options.ticketRef ?? null,
        onBehalfOfUserId: options.ticketRef ? userId : null,
        changes: diffFields(before, after!, ["status"]),
      },
    ];
    if (target === "suspended" || target === "deactivated") {
      const ended = await tx.delete(sessions).where(eq(sessions.userId, userId)).returning({ id: sessions.id });
      if (ended.length) {
        events.push({ action: "auth.sessions.revoked", entityType: "user", entityId: userId, participantId: before.participantId, metadata: { sessions: ended.length } });
      }
    }
    if (target === "deactivated") {
      const ended = await tx
        .update(roleGrants)
        .set({ status: "revoked", revokedAt: now, revokedBy: ctx.actor.userId, revokeReason: data.reason })
        .where(and(eq(roleGrants.userId, userId), eq(roleGrants.status, "active")))
        .returning();
      for (const g of ended) {
        events.push({
          action: "role.grant.revoked",
          entityType: "role_grant",
          entityId: g.id,
          participantId: g.participantId,
          reason: data.reason,
          changes: { status: { before: "active", after: "revoked" } },
          metadata: { userId, roleCode: g.roleCode, cause: "user.deactivated" },
        });
      }
      await tx
        .update(grantRequests)
        .set({ status: "cancelled", decidedAt: now, decidedBy: ctx.actor.userId })
        .where(and(eq(grantRequests.userId, userId), eq(grantRequests.status, "pending")));
    }
    await appendAuditEvents(tx, ctx, events);
    return after!;
  });
}

export interface GrantView extends RoleGrant {
  roleNameEn: string;
  roleNameZh: string;
  service: string | null;
  state: ReturnType<typeof grantState>;
  requestedByName: string | null;
  approvedByName: string | null;
  revokedByName: string | null;
  /** The access review that last confirmed the grant ("keep"), if any. */
  lastReview: { campaignName: string; decidedAt: Date; decidedBy: string | null } | null;
}

export interface UserProfile {
  user: User;
  grants: GrantView[];
  requests: RequestRow[];
  sodConflicts: { ruleId: string; roleA: string; roleB: string; kind: string; waived: boolean; justification: string | null }[];
  waivers: SodWaiver[];
  dormant: boolean;
}

/** A user's page: effective access with provenance, pending requests, past grants, SoD findings and waivers. */
export async function getUserProfile(ctx: ServiceContext, userId: string): Promise<UserProfile> {
  const user = await userInScope(ctx.db, ctx, userId, "user:read");
  const now = new Date();
  const rows = await ctx.db
    .select({ grant: roleGrants, role: roles })
    .from(roleGrants)
    .innerJoin(roles, eq(roles.code, roleGrants.roleCode))
    .where(eq(roleGrants.userId, userId))
    .orderBy(desc(roleGrants.createdAt));
  const ids = [...new Set(rows.flatMap((r) => [r.grant.requestedBy, r.grant.approvedBy, r.grant.revokedBy]).filter((v): v is string => Boolean(v)))];
  const names = ids.length ? await ctx.db.select({ id: users.id, name: users.displayName }).from(users).where(inArray(users.id, ids)) : [];
  const nameOf = (id: string | null) => (id ? (names.find((n) => n.id === id)?.name ?? null) : null);
  const reviews = await lastConfirmations(ctx.db, rows.map((r) => r.grant.id));
  const grants = rows.map(({ grant, role }) => ({
    ...grant,
    roleNameEn: role.nameEn,
    roleNameZh: role.nameZh,
    service: role.service,
    state: grantState(grant, now),
    requestedByName: nameOf(grant.requestedBy),
    approvedByName: nameOf(grant.approvedBy),
    revokedByName: nameOf(grant.revokedBy),
    lastReview: reviews[grant.id] ?? null,
  }));
  const waivers = await ctx.db.select().from(sodWaivers).where(eq(sodWaivers.userId, userId)).orderBy(desc(sodWaivers.requestedAt));
  const activeRoles = grants.filter((g) => g.state === "active").map((g) => g.roleCode);
  const approved = waivers.filter((w) => w.status === "approved").map((w) => w.ruleId);
  const sodConflicts = sodConflictsAmong(activeRoles, await loadSodRules(ctx.db)).map((rule) => ({
    ruleId: rule.id,
    roleA: rule.roleA,
    roleB: rule.roleB,
    kind: rule.kind,
    waived: approved.includes(rule.id),
    justification: grants.find((g) => g.state === "active" && (g.roleCode === rule.roleA || g.roleCode === rule.roleB) && g.sodJustification)?.sodJustification ?? null,
  }));
  return {
    user,
    grants,
    requests: await listRequests(ctx, "all", { userId }),
    sodConflicts,
    waivers,
    dormant: isDormant(user.status, user.lastSignInAt, user.createdAt, now),
  };
}
