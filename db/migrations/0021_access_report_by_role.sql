-- The access report narrowed to a role (issue 16): the role's grants in participant order for a page, and their
-- count at an instant read from the index alone (the columns that decide whether a grant is held then are
-- included), so counting a role held across the market reads no table pages. Kept out of db/schema like the
-- trigram indexes: drizzle's index builder has no INCLUDE.
CREATE INDEX IF NOT EXISTS "role_grants_role_participant_idx" ON "role_grants" ("role_code", "participant_id") INCLUDE ("created_at", "valid_from", "valid_to", "revoked_at");
