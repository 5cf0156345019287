/**
 * ESLint rule `local/module-owns-tables`: only the module that owns a table writes it (decision 012). A table is
 * owned by the module named in OWNERS for its schema file (db/schema/<file>.ts); `insert`, `update` and `delete`
 * on it anywhere else are errors. Reads are open to every module.
 */
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** Schema file → the directory of the module that owns its tables. */
export const OWNERS = {
  participants: "app/modules/participants",
  onboarding: "app/modules/onboarding",
  users: "app/modules/users",
  sessions: "app/auth",
  roles: "app/modules/roles",
  credentials: "app/modules/credentials",
  audit: "app/modules/audit",
  reviews: "app/modules/reviews",
  mail: "app/modules/mail",
  rollouts: "app/modules/rollouts",
  certification: "app/modules/certification",
};

/** Table variable → owning module directory, read from the schema files. */
function tableOwners() {
  const owners = new Map();
  const dir = path.join(ROOT, "db/schema");
  for (const file of readdirSync(dir)) {
    const name = file.replace(/\.ts$/, "");
    if (name === "index" || !file.endsWith(".ts")) continue;
    const owner = OWNERS[name];
    if (!owner) throw new Error(`db/schema/${file} has no owning module in eslint/module-owns-tables.js`);
    const text = readFileSync(path.join(dir, file), "utf8");
    for (const m of text.matchAll(/export const (\w+) = pgTable\(/g)) owners.set(m[1], owner);
  }
  return owners;
}

let cached = null;

export default {
  meta: {
    type: "problem",
    docs: { description: "Only the owning module writes a table (decision 012)." },
    schema: [],
    messages: {
      foreign: "{{table}} belongs to {{owner}}: call that module's exported function instead of writing it here.",
    },
  },
  create(context) {
    cached ??= tableOwners();
    const file = path.relative(ROOT, context.filename).split(path.sep).join("/");
    // Migrations' seed data and tests' fixtures that break tables on purpose are outside the rule's reach.
    if (!file.startsWith("app/")) return {};
    return {
      CallExpression(node) {
        const callee = node.callee;
        if (callee.type !== "MemberExpression" || callee.property.type !== "Identifier") return;
        if (!["insert", "update", "delete"].includes(callee.property.name)) return;
        const table = node.arguments[0];
        if (!table || table.type !== "Identifier") return;
        const owner = cached.get(table.name);
        if (!owner || file.startsWith(`${owner}/`)) return;
        context.report({ node, messageId: "foreign", data: { table: table.name, owner } });
      },
    };
  },
};
