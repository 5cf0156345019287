DROP INDEX "users_participant_idx";--> statement-breakpoint
CREATE INDEX "users_participant_idx" ON "users" USING btree ("participant_id","display_name","id");