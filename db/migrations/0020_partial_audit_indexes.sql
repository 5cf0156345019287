DROP INDEX "audit_events_metadata_user_idx";--> statement-breakpoint
DROP INDEX "audit_events_on_behalf_idx";--> statement-breakpoint
CREATE INDEX "audit_events_metadata_user_idx" ON "audit_events" USING btree (("metadata"->>'userId'),"occurred_at" DESC NULLS FIRST,"id" DESC NULLS FIRST) WHERE ("audit_events"."metadata"->>'userId') is not null;--> statement-breakpoint
CREATE INDEX "audit_events_on_behalf_idx" ON "audit_events" USING btree ("on_behalf_of_user_id","occurred_at" DESC NULLS FIRST,"id" DESC NULLS FIRST) WHERE "audit_events"."on_behalf_of_user_id" is not null;