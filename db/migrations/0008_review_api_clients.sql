ALTER TABLE "review_items" ALTER COLUMN "grant_id" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "review_items" ALTER COLUMN "role_code" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "review_campaigns" ADD COLUMN "include_api_clients" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "review_items" ADD COLUMN "kind" text DEFAULT 'grant' NOT NULL;--> statement-breakpoint
ALTER TABLE "review_items" ADD COLUMN "api_client_id" text;--> statement-breakpoint
ALTER TABLE "review_items" ADD CONSTRAINT "review_items_api_client_id_api_clients_id_fk" FOREIGN KEY ("api_client_id") REFERENCES "public"."api_clients"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "review_items_campaign_client_unique" ON "review_items" USING btree ("campaign_id","api_client_id");--> statement-breakpoint
ALTER TABLE "review_items" ADD CONSTRAINT "review_items_subject" CHECK (("review_items"."kind" = 'grant' and "review_items"."grant_id" is not null) or ("review_items"."kind" = 'api_client' and "review_items"."api_client_id" is not null));