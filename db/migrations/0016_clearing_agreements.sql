CREATE TABLE "clearing_agreements" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"gcp_id" text NOT NULL,
	"ncp_id" text NOT NULL,
	"ncp_name_en" text NOT NULL,
	"ncp_name_zh" text NOT NULL,
	"starts_on" date NOT NULL,
	"ends_on" date,
	"version" integer DEFAULT 1 NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "clearing_agreements_ncp_id_format" CHECK ("clearing_agreements"."ncp_id" ~ '^[A-Z][0-9]{5}$'),
	CONSTRAINT "clearing_agreements_ncp_not_gcp" CHECK ("clearing_agreements"."ncp_id" <> "clearing_agreements"."gcp_id"),
	CONSTRAINT "clearing_agreements_dates" CHECK ("clearing_agreements"."ends_on" is null or "clearing_agreements"."ends_on" >= "clearing_agreements"."starts_on")
);
--> statement-breakpoint
-- The NCPs recorded so far (registered participants linked to a GCP) become agreements under their own IDs, with
-- the names they were registered under, running from the day (Hong Kong) the GCP was registered.
INSERT INTO "clearing_agreements" ("gcp_id", "ncp_id", "ncp_name_en", "ncp_name_zh", "starts_on")
SELECT c."gcp_id", c."ncp_id", n."name_en", n."name_zh", ((g."created_at" AT TIME ZONE 'UTC') + interval '8 hours')::date
FROM "participant_clearing" c
JOIN "participants" n ON n."id" = c."ncp_id"
JOIN "participants" g ON g."id" = c."gcp_id"
ORDER BY c."gcp_id", c."ncp_id";--> statement-breakpoint
DROP TABLE "participant_clearing" CASCADE;--> statement-breakpoint
ALTER TABLE "clearing_agreements" ADD CONSTRAINT "clearing_agreements_gcp_id_participants_id_fk" FOREIGN KEY ("gcp_id") REFERENCES "public"."participants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "clearing_agreements_gcp_idx" ON "clearing_agreements" USING btree ("gcp_id","ncp_id");--> statement-breakpoint
CREATE INDEX "clearing_agreements_ncp_idx" ON "clearing_agreements" USING btree ("ncp_id","starts_on");--> statement-breakpoint
CREATE UNIQUE INDEX "clearing_agreements_one_open" ON "clearing_agreements" USING btree ("gcp_id","ncp_id") WHERE "clearing_agreements"."ends_on" is null;