import { randomUUID } from "node:crypto";
import { eq } from "drizzle-orm";
import { roleGrants, roles, users, type User } from "../../../db/schema";
import { hashPassword } from "~/auth/password.server";
import { AppError, forbidden } from "~/lib/errors";
import { appendAuditEvent, diffFields } from "../audit/service.server";
import type { ServiceContext } from "../context.server";

export interface ProvisionUserInput {
  email: string;
  displayName: string;
  participantId: string | null;
  password: string | null;
  roleCodes: string[];
  isDemo?: boolean;
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
      })
      .returning();
    if (!user) throw new Error("user not created");
    await appendAuditEvent(tx, ctx, {
      action: "user.created",
      entityType: "user",
      entityId: user.id,
      participantId: user.participantId,
      changes: diffFields(null, user, ["email", "displayName", "participantId", "status", "isDemo"]),
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
