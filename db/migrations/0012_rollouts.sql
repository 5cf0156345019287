CREATE TABLE "rollout_fallback_decisions" (
	"id" text PRIMARY KEY NOT NULL,
	"rollout_id" text NOT NULL,
	"decision" text NOT NULL,
	"reason" text NOT NULL,
	"status" text DEFAULT 'proposed' NOT NULL,
	"proposed_by" text,
	"proposed_at" timestamp (3) with time zone NOT NULL,
	"decided_by" text,
	"decided_at" timestamp (3) with time zone,
	CONSTRAINT "rollout_fallback_decisions_decision_valid" CHECK ("rollout_fallback_decisions"."decision" in ('invoke','continue')),
	CONSTRAINT "rollout_fallback_decisions_status_valid" CHECK ("rollout_fallback_decisions"."status" in ('proposed','approved','rejected')),
	CONSTRAINT "rollout_fallback_decisions_four_eyes" CHECK ("rollout_fallback_decisions"."decided_by" is null or "rollout_fallback_decisions"."proposed_by" is null or "rollout_fallback_decisions"."decided_by" <> "rollout_fallback_decisions"."proposed_by")
);
--> statement-breakpoint
CREATE TABLE "rollout_freeze_exceptions" (
	"id" text PRIMARY KEY NOT NULL,
	"rollout_id" text NOT NULL,
	"participant_id" text NOT NULL,
	"kind" text NOT NULL,
	"subject_ref" text NOT NULL,
	"reason" text NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"requested_by" text,
	"requested_at" timestamp (3) with time zone NOT NULL,
	"decided_by" text,
	"decided_at" timestamp (3) with time zone,
	CONSTRAINT "rollout_freeze_exceptions_kind_valid" CHECK ("rollout_freeze_exceptions"."kind" in ('key_rotation','role_change','program_version')),
	CONSTRAINT "rollout_freeze_exceptions_status_valid" CHECK ("rollout_freeze_exceptions"."status" in ('pending','approved','rejected','used')),
	CONSTRAINT "rollout_freeze_exceptions_four_eyes" CHECK ("rollout_freeze_exceptions"."decided_by" is null or "rollout_freeze_exceptions"."requested_by" is null or "rollout_freeze_exceptions"."decided_by" <> "rollout_freeze_exceptions"."requested_by")
);
--> statement-breakpoint
CREATE TABLE "rollout_participants" (
	"rollout_id" text NOT NULL,
	"participant_id" text NOT NULL,
	"checklist_confirmed" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"checklist_confirmed_by" text,
	"checklist_confirmed_at" timestamp (3) with time zone,
	"contact_person" text,
	"version" integer DEFAULT 1 NOT NULL,
	CONSTRAINT "rollout_participants_rollout_id_participant_id_pk" PRIMARY KEY("rollout_id","participant_id")
);
--> statement-breakpoint
CREATE TABLE "rollout_results" (
	"id" text PRIMARY KEY NOT NULL,
	"rollout_id" text NOT NULL,
	"participant_id" text NOT NULL,
	"subject_kind" text NOT NULL,
	"subject_ref" text NOT NULL,
	"outcome" text NOT NULL,
	"reason" text,
	"evidence" text,
	"recorded_by" text,
	"recorded_at" timestamp (3) with time zone NOT NULL,
	"confirmed_by" text,
	"confirmed_at" timestamp (3) with time zone,
	"version" integer DEFAULT 1 NOT NULL,
	CONSTRAINT "rollout_results_subject_valid" CHECK ("rollout_results"."subject_kind" in ('service','login','api_client')),
	CONSTRAINT "rollout_results_outcome_valid" CHECK ("rollout_results"."outcome" in ('verified','failed','not_attempted')),
	CONSTRAINT "rollout_results_failure_reason" CHECK ("rollout_results"."outcome" <> 'failed' or "rollout_results"."reason" is not null),
	CONSTRAINT "rollout_results_four_eyes" CHECK ("rollout_results"."confirmed_by" is null or "rollout_results"."recorded_by" is null or "rollout_results"."confirmed_by" <> "rollout_results"."recorded_by")
);
--> statement-breakpoint
CREATE TABLE "rollout_snapshots" (
	"id" text PRIMARY KEY NOT NULL,
	"rollout_id" text NOT NULL,
	"participant_id" text NOT NULL,
	"cutoff_at" timestamp (3) with time zone NOT NULL,
	"content" text NOT NULL,
	"digest" text NOT NULL,
	"taken_by" text,
	"taken_at" timestamp (3) with time zone NOT NULL,
	CONSTRAINT "rollout_snapshots_digest_hex" CHECK ("rollout_snapshots"."digest" ~ '^[0-9a-f]{64}$')
);
--> statement-breakpoint
CREATE TABLE "rollouts" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"service_codes" jsonb NOT NULL,
	"checklist" jsonb NOT NULL,
	"cutoff_at" timestamp (3) with time zone NOT NULL,
	"conversion_at" timestamp (3) with time zone NOT NULL,
	"verification_start_at" timestamp (3) with time zone NOT NULL,
	"verification_end_at" timestamp (3) with time zone NOT NULL,
	"launch_at" timestamp (3) with time zone NOT NULL,
	"stabilisation_end_at" timestamp (3) with time zone NOT NULL,
	"stabilisation_ended_at" timestamp (3) with time zone,
	"stabilisation_ended_by" text,
	"fallback_decision" text,
	"fallback_decided_at" timestamp (3) with time zone,
	"created_by" text,
	"created_at" timestamp (3) with time zone NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	CONSTRAINT "rollouts_milestones_ordered" CHECK ("rollouts"."cutoff_at" < "rollouts"."conversion_at" and "rollouts"."conversion_at" <= "rollouts"."verification_start_at" and "rollouts"."verification_start_at" < "rollouts"."verification_end_at" and "rollouts"."verification_end_at" <= "rollouts"."launch_at" and "rollouts"."launch_at" < "rollouts"."stabilisation_end_at"),
	CONSTRAINT "rollouts_fallback_valid" CHECK ("rollouts"."fallback_decision" is null or "rollouts"."fallback_decision" in ('invoke','continue'))
);
--> statement-breakpoint
ALTER TABLE "rollout_fallback_decisions" ADD CONSTRAINT "rollout_fallback_decisions_rollout_id_rollouts_id_fk" FOREIGN KEY ("rollout_id") REFERENCES "public"."rollouts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rollout_fallback_decisions" ADD CONSTRAINT "rollout_fallback_decisions_proposed_by_users_id_fk" FOREIGN KEY ("proposed_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rollout_fallback_decisions" ADD CONSTRAINT "rollout_fallback_decisions_decided_by_users_id_fk" FOREIGN KEY ("decided_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rollout_freeze_exceptions" ADD CONSTRAINT "rollout_freeze_exceptions_rollout_id_rollouts_id_fk" FOREIGN KEY ("rollout_id") REFERENCES "public"."rollouts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rollout_freeze_exceptions" ADD CONSTRAINT "rollout_freeze_exceptions_participant_id_participants_id_fk" FOREIGN KEY ("participant_id") REFERENCES "public"."participants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rollout_freeze_exceptions" ADD CONSTRAINT "rollout_freeze_exceptions_requested_by_users_id_fk" FOREIGN KEY ("requested_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rollout_freeze_exceptions" ADD CONSTRAINT "rollout_freeze_exceptions_decided_by_users_id_fk" FOREIGN KEY ("decided_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rollout_participants" ADD CONSTRAINT "rollout_participants_rollout_id_rollouts_id_fk" FOREIGN KEY ("rollout_id") REFERENCES "public"."rollouts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rollout_participants" ADD CONSTRAINT "rollout_participants_participant_id_participants_id_fk" FOREIGN KEY ("participant_id") REFERENCES "public"."participants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rollout_participants" ADD CONSTRAINT "rollout_participants_checklist_confirmed_by_users_id_fk" FOREIGN KEY ("checklist_confirmed_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rollout_results" ADD CONSTRAINT "rollout_results_rollout_id_rollouts_id_fk" FOREIGN KEY ("rollout_id") REFERENCES "public"."rollouts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rollout_results" ADD CONSTRAINT "rollout_results_participant_id_participants_id_fk" FOREIGN KEY ("participant_id") REFERENCES "public"."participants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rollout_results" ADD CONSTRAINT "rollout_results_recorded_by_users_id_fk" FOREIGN KEY ("recorded_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rollout_results" ADD CONSTRAINT "rollout_results_confirmed_by_users_id_fk" FOREIGN KEY ("confirmed_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rollout_snapshots" ADD CONSTRAINT "rollout_snapshots_rollout_id_rollouts_id_fk" FOREIGN KEY ("rollout_id") REFERENCES "public"."rollouts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rollout_snapshots" ADD CONSTRAINT "rollout_snapshots_participant_id_participants_id_fk" FOREIGN KEY ("participant_id") REFERENCES "public"."participants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rollout_snapshots" ADD CONSTRAINT "rollout_snapshots_taken_by_users_id_fk" FOREIGN KEY ("taken_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rollouts" ADD CONSTRAINT "rollouts_stabilisation_ended_by_users_id_fk" FOREIGN KEY ("stabilisation_ended_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rollouts" ADD CONSTRAINT "rollouts_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "rollout_fallback_decisions_rollout_idx" ON "rollout_fallback_decisions" USING btree ("rollout_id","proposed_at");--> statement-breakpoint
CREATE UNIQUE INDEX "rollout_fallback_decisions_one_open" ON "rollout_fallback_decisions" USING btree ("rollout_id") WHERE status = 'proposed';--> statement-breakpoint
CREATE INDEX "rollout_freeze_exceptions_participant_idx" ON "rollout_freeze_exceptions" USING btree ("participant_id","status");--> statement-breakpoint
CREATE INDEX "rollout_participants_participant_idx" ON "rollout_participants" USING btree ("participant_id");--> statement-breakpoint
CREATE UNIQUE INDEX "rollout_results_subject_unique" ON "rollout_results" USING btree ("rollout_id","participant_id","subject_kind","subject_ref");--> statement-breakpoint
CREATE UNIQUE INDEX "rollout_snapshots_one_per_participant" ON "rollout_snapshots" USING btree ("rollout_id","participant_id");--> statement-breakpoint
-- A carry-over snapshot is sealed by its digest: no UPDATE or DELETE, whoever asks.
CREATE OR REPLACE FUNCTION rollout_snapshots_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'rollout_snapshots is immutable: % refused', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$;
--> statement-breakpoint
CREATE TRIGGER rollout_snapshots_no_update_delete
  BEFORE UPDATE OR DELETE ON rollout_snapshots
  FOR EACH ROW EXECUTE FUNCTION rollout_snapshots_refuse_change();
