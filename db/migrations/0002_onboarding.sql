CREATE TABLE "ocp_services" (
	"code" text PRIMARY KEY NOT NULL,
	"name_en" text NOT NULL,
	"name_zh" text NOT NULL,
	"sort_order" integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "onboarding_step_entries" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"participant_id" text NOT NULL,
	"step_key" text NOT NULL,
	"kind" text NOT NULL,
	"body" text NOT NULL,
	"reference" text,
	"author_user_id" text,
	"author_name" text NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL,
	CONSTRAINT "onboarding_step_entries_kind_valid" CHECK ("onboarding_step_entries"."kind" in ('note','evidence'))
);
--> statement-breakpoint
CREATE TABLE "onboarding_steps" (
	"participant_id" text NOT NULL,
	"step_key" text NOT NULL,
	"state" text DEFAULT 'locked' NOT NULL,
	"owner_user_id" text,
	"due_date" date,
	"submitted_by" text,
	"submitted_at" timestamp (3) with time zone,
	"decided_by" text,
	"decided_at" timestamp (3) with time zone,
	"return_reason" text,
	"version" integer DEFAULT 1 NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "onboarding_steps_participant_id_step_key_pk" PRIMARY KEY("participant_id","step_key"),
	CONSTRAINT "onboarding_steps_state_valid" CHECK ("onboarding_steps"."state" in ('locked','ready','in_progress','submitted','approved','returned')),
	CONSTRAINT "onboarding_steps_returned_has_reason" CHECK ("onboarding_steps"."state" <> 'returned' or "onboarding_steps"."return_reason" is not null)
);
--> statement-breakpoint
CREATE TABLE "participant_clearing" (
	"gcp_id" text NOT NULL,
	"ncp_id" text NOT NULL,
	CONSTRAINT "participant_clearing_gcp_id_ncp_id_pk" PRIMARY KEY("gcp_id","ncp_id"),
	CONSTRAINT "participant_clearing_not_self" CHECK ("participant_clearing"."gcp_id" <> "participant_clearing"."ncp_id")
);
--> statement-breakpoint
CREATE TABLE "participant_contacts" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"participant_id" text NOT NULL,
	"position" integer NOT NULL,
	"name" text NOT NULL,
	"email" text NOT NULL,
	"phone" text,
	"title" text
);
--> statement-breakpoint
CREATE TABLE "participant_services" (
	"participant_id" text NOT NULL,
	"service_code" text NOT NULL,
	CONSTRAINT "participant_services_participant_id_service_code_pk" PRIMARY KEY("participant_id","service_code")
);
--> statement-breakpoint
ALTER TABLE "participants" ADD COLUMN "suspended_at" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "participants" ADD COLUMN "suspension_reason" text;--> statement-breakpoint
ALTER TABLE "onboarding_step_entries" ADD CONSTRAINT "onboarding_step_entries_participant_id_participants_id_fk" FOREIGN KEY ("participant_id") REFERENCES "public"."participants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "onboarding_step_entries" ADD CONSTRAINT "onboarding_step_entries_author_user_id_users_id_fk" FOREIGN KEY ("author_user_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "onboarding_steps" ADD CONSTRAINT "onboarding_steps_participant_id_participants_id_fk" FOREIGN KEY ("participant_id") REFERENCES "public"."participants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "onboarding_steps" ADD CONSTRAINT "onboarding_steps_owner_user_id_users_id_fk" FOREIGN KEY ("owner_user_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "onboarding_steps" ADD CONSTRAINT "onboarding_steps_submitted_by_users_id_fk" FOREIGN KEY ("submitted_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "onboarding_steps" ADD CONSTRAINT "onboarding_steps_decided_by_users_id_fk" FOREIGN KEY ("decided_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "participant_clearing" ADD CONSTRAINT "participant_clearing_gcp_id_participants_id_fk" FOREIGN KEY ("gcp_id") REFERENCES "public"."participants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "participant_clearing" ADD CONSTRAINT "participant_clearing_ncp_id_participants_id_fk" FOREIGN KEY ("ncp_id") REFERENCES "public"."participants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "participant_contacts" ADD CONSTRAINT "participant_contacts_participant_id_participants_id_fk" FOREIGN KEY ("participant_id") REFERENCES "public"."participants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "participant_services" ADD CONSTRAINT "participant_services_participant_id_participants_id_fk" FOREIGN KEY ("participant_id") REFERENCES "public"."participants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "participant_services" ADD CONSTRAINT "participant_services_service_code_ocp_services_code_fk" FOREIGN KEY ("service_code") REFERENCES "public"."ocp_services"("code") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "onboarding_step_entries_step_idx" ON "onboarding_step_entries" USING btree ("participant_id","step_key","created_at");--> statement-breakpoint
CREATE INDEX "onboarding_steps_state_idx" ON "onboarding_steps" USING btree ("state","step_key");--> statement-breakpoint
CREATE INDEX "participant_contacts_participant_idx" ON "participant_contacts" USING btree ("participant_id","position");--> statement-breakpoint
-- The OCP service catalogue of SPEC §2.
INSERT INTO "ocp_services" ("code", "name_en", "name_zh", "sort_order") VALUES
  ('trade_info', 'Real-time trade information', '實時交易資料', 1),
  ('reference_data', 'Reference data (participant list, stock list, trading and settlement calendar, NCP/GCP mapping)', '參考數據（參與者名單、股份名單、交易及交收日曆、非結算參與者／全面結算參與者對應）', 2),
  ('si_status', 'Settlement-instruction (SI) status push', '交收指示狀態推送', 3);
