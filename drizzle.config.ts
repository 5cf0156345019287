import { defineConfig } from "drizzle-kit";

// drizzle-kit only generates SQL from the schema; it never connects. Migrations are applied by
// `npm run db:migrate` (scripts/migrate.ts), which serves PGlite and PostgreSQL alike.
export default defineConfig({
  dialect: "postgresql",
  schema: "./db/schema/index.ts",
  out: "./db/migrations",
});
