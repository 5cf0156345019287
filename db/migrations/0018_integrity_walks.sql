CREATE TABLE "audit_integrity_walks" (
	"id" text PRIMARY KEY NOT NULL,
	"started_at" timestamp (3) with time zone NOT NULL,
	"finished_at" timestamp (3) with time zone,
	"started_via" text NOT NULL,
	"started_by" text,
	"started_by_name" text,
	"chains" bigint,
	"events" bigint,
	"ok" boolean,
	"chain_reports" jsonb,
	"checkpoint" jsonb,
	"failure" text
);
--> statement-breakpoint
ALTER TABLE "audit_integrity_walks" ADD CONSTRAINT "audit_integrity_walks_started_by_users_id_fk" FOREIGN KEY ("started_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "audit_integrity_walks_one_running" ON "audit_integrity_walks" USING btree ((true)) WHERE "audit_integrity_walks"."finished_at" is null;--> statement-breakpoint
CREATE INDEX "audit_integrity_walks_started_idx" ON "audit_integrity_walks" USING btree ("started_at" DESC NULLS LAST);--> statement-breakpoint
-- An integrity walk is written when it starts and completed once when it ends: a finished walk is never changed,
-- and no walk is deleted, whoever asks.
CREATE OR REPLACE FUNCTION audit_integrity_walks_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.finished_at IS NULL AND NEW.id = OLD.id AND NEW.started_at = OLD.started_at
     AND NEW.started_via = OLD.started_via AND NEW.started_by IS NOT DISTINCT FROM OLD.started_by
     AND NEW.started_by_name IS NOT DISTINCT FROM OLD.started_by_name THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'audit_integrity_walks keeps finished walks as they are: % refused', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$;
--> statement-breakpoint
CREATE TRIGGER audit_integrity_walks_finished_only_once
  BEFORE UPDATE OR DELETE ON audit_integrity_walks
  FOR EACH ROW EXECUTE FUNCTION audit_integrity_walks_refuse_change();
--> statement-breakpoint
CREATE TRIGGER audit_integrity_walks_no_truncate
  BEFORE TRUNCATE ON audit_integrity_walks
  FOR EACH STATEMENT EXECUTE FUNCTION audit_integrity_walks_refuse_change();
