-- Trigram indexes for the searches (issue 13): a user by part of their email, name or participant ID; a
-- participant by part of its ID or either name. pg_trgm is in PostgreSQL's contrib and loaded into PGlite
-- (db/client.server.ts); it is a trusted extension, so the database owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "users_search_trgm" ON "users" USING gin ((lower("email") || ' ' || lower("display_name") || ' ' || lower(coalesce("participant_id", ''))) gin_trgm_ops);--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "participants_search_trgm" ON "participants" USING gin ((lower("id") || ' ' || lower("name_en") || ' ' || "name_zh") gin_trgm_ops);
