import { asc, eq } from "drizzle-orm";
import { z } from "zod";
import { roleTemplateRoles, roleTemplates, roles, sodRules, type Role, type RoleTemplate, type SodRule } from "../../../db/schema";
import { AppError, notFound } from "~/lib/errors";
import { diffFields } from "../audit/service.server";
import { defineCommand, platformWide } from "../command.server";
import type { ServiceContext } from "../context.server";
import { optionalText, requiredText } from "../participants/schemas";

/** The catalogues the platform administrator manages (SPEC §1): roles, baseline templates, SoD rules. */
export interface Catalogue {
  roles: Role[];
  templates: (RoleTemplate & { roles: string[] })[];
  sodRules: SodRule[];
  services: string[];
}

export const OCP_SERVICE_CODES = ["trade_info", "reference_data", "si_status"] as const;

export async function getCatalogue(db: ServiceContext["db"]): Promise<Catalogue> {
  const [roleRows, templateRows, templateRoleRows, ruleRows] = await Promise.all([
    db.select().from(roles).orderBy(asc(roles.population), asc(roles.code)),
    db.select().from(roleTemplates).orderBy(asc(roleTemplates.code)),
    db.select().from(roleTemplateRoles),
    db.select().from(sodRules).orderBy(asc(sodRules.id)),
  ]);
  return {
    roles: roleRows,
    templates: templateRows.map((t) => ({ ...t, roles: templateRoleRows.filter((r) => r.templateCode === t.code).map((r) => r.roleCode).sort() })),
    sodRules: ruleRows,
    services: [...OCP_SERVICE_CODES],
  };
}

const version = z.coerce.number().int().positive({ error: "validation.invalid" }).optional();
const code = z.string().trim().regex(/^[a-z][a-z0-9_]{1,59}$/, { error: "catalogue.error.code" });

const roleSchema = z.object({
  code,
  nameEn: requiredText(200),
  nameZh: requiredText(200),
  population: z.enum(["participant", "hkex"], { error: "validation.invalid" }),
  service: z
    .enum(["", ...OCP_SERVICE_CODES], { error: "validation.invalid" })
    .optional()
    .transform((v) => (v ? v : null)),
  isConsole: z.boolean().default(false),
  active: z.boolean().default(true),
  version,
});
export type RoleInput = z.input<typeof roleSchema>;

/** Adds a role (no version) or changes one (with the version the editor saw). A role's code never changes. */
export const saveRole = defineCommand({
  name: "roles.saveRole",
  permission: "catalogue:manage",
  input: roleSchema,
  events: ["catalogue.role.created", "catalogue.role.updated"],
  tenant: platformWide,
  async run({ tx, input: data, audit }): Promise<Role> {
    const [before] = await tx.select().from(roles).where(eq(roles.code, data.code)).for("update");
    const values = { nameEn: data.nameEn, nameZh: data.nameZh, population: data.population, service: data.service, isConsole: data.isConsole, active: data.active };
    let after: Role | undefined;
    if (data.version === undefined) {
      if (before) throw new AppError(400, "error.badRequest", { code: "catalogue.error.codeTaken" });
      [after] = await tx.insert(roles).values({ code: data.code, ...values }).returning();
    } else {
      if (!before) throw notFound();
      if (before.version !== data.version) throw new AppError(409, "error.conflict");
      if (before.population !== data.population) throw new AppError(400, "error.badRequest", { population: "catalogue.error.population" });
      [after] = await tx.update(roles).set({ ...values, version: before.version + 1 }).where(eq(roles.code, data.code)).returning();
    }
    audit({
      action: before ? "catalogue.role.updated" : "catalogue.role.created",
      entityType: "role",
      entityId: data.code,
      changes: diffFields(before ?? null, after!, ["nameEn", "nameZh", "population", "service", "isConsole", "active"]),
    });
    return after!;
  },
});

const templateSchema = z.object({
  templateCode: code,
  version: z.coerce.number().int().positive({ error: "validation.invalid" }),
  roles: z.array(code).max(50),
});

/** Sets the roles of a baseline template (participant roles only). */
export const saveTemplate = defineCommand({
  name: "roles.saveTemplate",
  permission: "catalogue:manage",
  input: templateSchema,
  events: ["catalogue.template.updated"],
  tenant: platformWide,
  async run({ tx, input: data, audit }): Promise<void> {
    const { templateCode } = data;
    const [template] = await tx.select().from(roleTemplates).where(eq(roleTemplates.code, templateCode)).for("update");
    if (!template) throw notFound();
    if (template.version !== data.version) throw new AppError(409, "error.conflict");
    const catalogue = await tx.select().from(roles);
    const wanted = [...new Set(data.roles)].sort();
    if (wanted.some((r) => catalogue.find((c) => c.code === r)?.population !== "participant")) {
      throw new AppError(400, "error.badRequest", { roles: "access.error.role" });
    }
    const before = (await tx.select().from(roleTemplateRoles).where(eq(roleTemplateRoles.templateCode, templateCode))).map((r) => r.roleCode).sort();
    await tx.delete(roleTemplateRoles).where(eq(roleTemplateRoles.templateCode, templateCode));
    if (wanted.length) await tx.insert(roleTemplateRoles).values(wanted.map((roleCode) => ({ templateCode, roleCode })));
    await tx.update(roleTemplates).set({ version: template.version + 1 }).where(eq(roleTemplates.code, templateCode));
    audit({
      action: "catalogue.template.updated",
      entityType: "role_template",
      entityId: templateCode,
      changes: { roles: { before, after: wanted } },
    });
  },
});

const sodRuleSchema = z
  .object({
    id: code,
    roleA: code,
    roleB: code,
    kind: z.enum(["block", "block_unless_waiver", "warn"], { error: "validation.invalid" }),
    descriptionEn: requiredText(500),
    descriptionZh: optionalText(500),
    version,
  })
  .refine((v) => v.roleA !== v.roleB, { error: "catalogue.error.sameRole", path: ["roleB"] });
export type SodRuleInput = z.input<typeof sodRuleSchema>;

/** Adds or changes a separation-of-duties rule. */
export const saveSodRule = defineCommand({
  name: "roles.saveSodRule",
  permission: "catalogue:manage",
  input: sodRuleSchema,
  events: ["catalogue.sod_rule.created", "catalogue.sod_rule.updated"],
  tenant: platformWide,
  async run({ tx, input: data, audit }): Promise<SodRule> {
    const catalogue = await tx.select({ code: roles.code }).from(roles);
    for (const field of ["roleA", "roleB"] as const) {
      if (!catalogue.some((r) => r.code === data[field])) throw new AppError(400, "error.badRequest", { [field]: "access.error.role" });
    }
    const [before] = await tx.select().from(sodRules).where(eq(sodRules.id, data.id)).for("update");
    const values = { roleA: data.roleA, roleB: data.roleB, kind: data.kind, descriptionEn: data.descriptionEn, descriptionZh: data.descriptionZh ?? data.descriptionEn };
    let after: SodRule | undefined;
    if (data.version === undefined) {
      if (before) throw new AppError(400, "error.badRequest", { id: "catalogue.error.codeTaken" });
      [after] = await tx.insert(sodRules).values({ id: data.id, ...values }).returning();
    } else {
      if (!before) throw notFound();
      if (before.version !== data.version) throw new AppError(409, "error.conflict");
      [after] = await tx.update(sodRules).set({ ...values, version: before.version + 1 }).where(eq(sodRules.id, data.id)).returning();
    }
    audit({
      action: before ? "catalogue.sod_rule.updated" : "catalogue.sod_rule.created",
      entityType: "sod_rule",
      entityId: data.id,
      changes: diffFields(before ?? null, after!, ["roleA", "roleB", "kind", "descriptionEn", "descriptionZh"]),
    });
    return after!;
  },
});
