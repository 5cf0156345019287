CREATE TABLE "credential_links" (
	"id" text PRIMARY KEY NOT NULL,
	"user_id" text NOT NULL,
	"purpose" text NOT NULL,
	"token_hash" text NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL,
	"expires_at" timestamp (3) with time zone NOT NULL,
	"used_at" timestamp (3) with time zone,
	"voided_at" timestamp (3) with time zone,
	"created_by" text,
	CONSTRAINT "credential_links_purpose_valid" CHECK ("credential_links"."purpose" in ('invitation','password_reset'))
);
--> statement-breakpoint
ALTER TABLE "credential_links" ADD CONSTRAINT "credential_links_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "credential_links" ADD CONSTRAINT "credential_links_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "credential_links_token_unique" ON "credential_links" USING btree ("token_hash");--> statement-breakpoint
CREATE INDEX "credential_links_user_idx" ON "credential_links" USING btree ("user_id","purpose");