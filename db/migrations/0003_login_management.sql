CREATE TABLE "grant_requests" (
	"id" text PRIMARY KEY NOT NULL,
	"participant_id" text NOT NULL,
	"user_id" text NOT NULL,
	"role_code" text NOT NULL,
	"valid_from" timestamp (3) with time zone,
	"valid_to" timestamp (3) with time zone,
	"sod_justification" text,
	"status" text DEFAULT 'pending' NOT NULL,
	"source" text DEFAULT 'request' NOT NULL,
	"import_run_id" text,
	"requested_by" text,
	"requested_at" timestamp (3) with time zone NOT NULL,
	"decided_by" text,
	"decided_at" timestamp (3) with time zone,
	"decision_comment" text,
	"grant_id" text,
	"version" integer DEFAULT 1 NOT NULL,
	CONSTRAINT "grant_requests_status_valid" CHECK ("grant_requests"."status" in ('pending','approved','rejected','cancelled')),
	CONSTRAINT "grant_requests_window" CHECK ("grant_requests"."valid_to" is null or "grant_requests"."valid_from" is null or "grant_requests"."valid_to" > "grant_requests"."valid_from")
);
--> statement-breakpoint
CREATE TABLE "import_runs" (
	"id" text PRIMARY KEY NOT NULL,
	"participant_id" text NOT NULL,
	"file_name" text NOT NULL,
	"mode" text NOT NULL,
	"outcome" text NOT NULL,
	"row_count" integer NOT NULL,
	"error_count" integer NOT NULL,
	"report" jsonb NOT NULL,
	"source" text NOT NULL,
	"applied_at" timestamp (3) with time zone,
	"created_by" text,
	"created_at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "role_template_roles" (
	"template_code" text NOT NULL,
	"role_code" text NOT NULL,
	CONSTRAINT "role_template_roles_template_code_role_code_pk" PRIMARY KEY("template_code","role_code")
);
--> statement-breakpoint
CREATE TABLE "role_templates" (
	"code" text PRIMARY KEY NOT NULL,
	"participant_type" text NOT NULL,
	"name_en" text NOT NULL,
	"name_zh" text NOT NULL,
	"version" integer DEFAULT 1 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "sod_rules" (
	"id" text PRIMARY KEY NOT NULL,
	"role_a" text NOT NULL,
	"role_b" text NOT NULL,
	"kind" text NOT NULL,
	"description_en" text NOT NULL,
	"description_zh" text NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	CONSTRAINT "sod_rules_kind_valid" CHECK ("sod_rules"."kind" in ('block','block_unless_waiver','warn')),
	CONSTRAINT "sod_rules_distinct_roles" CHECK ("sod_rules"."role_a" <> "sod_rules"."role_b")
);
--> statement-breakpoint
CREATE TABLE "sod_waivers" (
	"id" text PRIMARY KEY NOT NULL,
	"participant_id" text NOT NULL,
	"user_id" text NOT NULL,
	"rule_id" text NOT NULL,
	"reason" text NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"requested_by" text,
	"requested_at" timestamp (3) with time zone NOT NULL,
	"decided_by" text,
	"decided_at" timestamp (3) with time zone,
	"decision_comment" text,
	"version" integer DEFAULT 1 NOT NULL,
	CONSTRAINT "sod_waivers_status_valid" CHECK ("sod_waivers"."status" in ('pending','approved','rejected','revoked'))
);
--> statement-breakpoint
CREATE TABLE "support_actions" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"user_id" text NOT NULL,
	"action" text NOT NULL,
	"ticket_ref" text NOT NULL,
	"reason" text NOT NULL,
	"performed_by" text,
	"performed_at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "role_grants" ADD COLUMN "request_id" text;--> statement-breakpoint
ALTER TABLE "role_grants" ADD COLUMN "sod_justification" text;--> statement-breakpoint
ALTER TABLE "role_grants" ADD COLUMN "revoked_at" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "role_grants" ADD COLUMN "revoked_by" text;--> statement-breakpoint
ALTER TABLE "role_grants" ADD COLUMN "revoke_reason" text;--> statement-breakpoint
ALTER TABLE "roles" ADD COLUMN "active" boolean DEFAULT true NOT NULL;--> statement-breakpoint
ALTER TABLE "roles" ADD COLUMN "version" integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "status_reason" text;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "status_changed_at" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "mfa_enrolled_at" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "grant_requests" ADD CONSTRAINT "grant_requests_participant_id_participants_id_fk" FOREIGN KEY ("participant_id") REFERENCES "public"."participants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "grant_requests" ADD CONSTRAINT "grant_requests_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "grant_requests" ADD CONSTRAINT "grant_requests_role_code_roles_code_fk" FOREIGN KEY ("role_code") REFERENCES "public"."roles"("code") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "grant_requests" ADD CONSTRAINT "grant_requests_requested_by_users_id_fk" FOREIGN KEY ("requested_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "grant_requests" ADD CONSTRAINT "grant_requests_decided_by_users_id_fk" FOREIGN KEY ("decided_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "import_runs" ADD CONSTRAINT "import_runs_participant_id_participants_id_fk" FOREIGN KEY ("participant_id") REFERENCES "public"."participants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "import_runs" ADD CONSTRAINT "import_runs_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "role_template_roles" ADD CONSTRAINT "role_template_roles_template_code_role_templates_code_fk" FOREIGN KEY ("template_code") REFERENCES "public"."role_templates"("code") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "role_template_roles" ADD CONSTRAINT "role_template_roles_role_code_roles_code_fk" FOREIGN KEY ("role_code") REFERENCES "public"."roles"("code") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sod_rules" ADD CONSTRAINT "sod_rules_role_a_roles_code_fk" FOREIGN KEY ("role_a") REFERENCES "public"."roles"("code") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sod_rules" ADD CONSTRAINT "sod_rules_role_b_roles_code_fk" FOREIGN KEY ("role_b") REFERENCES "public"."roles"("code") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sod_waivers" ADD CONSTRAINT "sod_waivers_participant_id_participants_id_fk" FOREIGN KEY ("participant_id") REFERENCES "public"."participants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sod_waivers" ADD CONSTRAINT "sod_waivers_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sod_waivers" ADD CONSTRAINT "sod_waivers_rule_id_sod_rules_id_fk" FOREIGN KEY ("rule_id") REFERENCES "public"."sod_rules"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sod_waivers" ADD CONSTRAINT "sod_waivers_requested_by_users_id_fk" FOREIGN KEY ("requested_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sod_waivers" ADD CONSTRAINT "sod_waivers_decided_by_users_id_fk" FOREIGN KEY ("decided_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "support_actions" ADD CONSTRAINT "support_actions_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "support_actions" ADD CONSTRAINT "support_actions_performed_by_users_id_fk" FOREIGN KEY ("performed_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "grant_requests_participant_status_idx" ON "grant_requests" USING btree ("participant_id","status","requested_at");--> statement-breakpoint
CREATE INDEX "grant_requests_user_idx" ON "grant_requests" USING btree ("user_id");--> statement-breakpoint
CREATE UNIQUE INDEX "grant_requests_one_pending" ON "grant_requests" USING btree ("user_id","role_code") WHERE status = 'pending';--> statement-breakpoint
CREATE INDEX "import_runs_participant_idx" ON "import_runs" USING btree ("participant_id","created_at");--> statement-breakpoint
CREATE INDEX "sod_waivers_user_idx" ON "sod_waivers" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "support_actions_user_idx" ON "support_actions" USING btree ("user_id","performed_at");--> statement-breakpoint
ALTER TABLE "role_grants" ADD CONSTRAINT "role_grants_revoked_by_users_id_fk" FOREIGN KEY ("revoked_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
-- Baseline templates per participant type (SPEC §4): the operational roles a firm's users start from.
INSERT INTO "role_templates" ("code", "participant_type", "name_en", "name_zh") VALUES
  ('baseline_dcp', 'DCP', 'Direct Clearing Participant baseline', '直接結算參與者基本角色'),
  ('baseline_gcp', 'GCP', 'General Clearing Participant baseline', '全面結算參與者基本角色'),
  ('baseline_cap', 'CAP', 'Clearing Agency Participant baseline', '結算機構參與者基本角色'),
  ('baseline_custodian', 'CUSTODIAN', 'Custodian Participant baseline', '託管商參與者基本角色'),
  ('baseline_stock_lender', 'STOCK_LENDER', 'Stock Lender baseline', '股份借出參與者基本角色'),
  ('baseline_stock_pledgee', 'STOCK_PLEDGEE', 'Stock Pledgee baseline', '股份承押人參與者基本角色'),
  ('baseline_investor', 'INVESTOR', 'Investor Participant baseline', '投資者戶口持有人基本角色');
--> statement-breakpoint
INSERT INTO "role_template_roles" ("template_code", "role_code") VALUES
  ('baseline_dcp', 'trade_info_viewer'), ('baseline_dcp', 'ref_data_viewer'), ('baseline_dcp', 'si_status_subscriber'),
  ('baseline_gcp', 'trade_info_viewer'), ('baseline_gcp', 'ref_data_viewer'), ('baseline_gcp', 'si_status_subscriber'),
  ('baseline_cap', 'ref_data_viewer'), ('baseline_cap', 'si_status_subscriber'),
  ('baseline_custodian', 'ref_data_viewer'), ('baseline_custodian', 'si_status_subscriber'),
  ('baseline_stock_lender', 'ref_data_viewer'),
  ('baseline_stock_pledgee', 'ref_data_viewer'),
  ('baseline_investor', 'ref_data_viewer');
--> statement-breakpoint
-- Separation-of-duties rules of SPEC §4.
INSERT INTO "sod_rules" ("id", "role_a", "role_b", "kind", "description_en", "description_zh") VALUES
  ('si_maker_checker', 'si_maker', 'si_checker', 'block', 'One person may not both make and check settlement instructions.', '同一人不得同時製作及審核交收指示。'),
  ('da_maker_checker', 'da_maker', 'da_checker', 'block_unless_waiver', 'A delegated administrator may not be both maker and checker, unless a sole-proprietor waiver is approved.', '授權管理員不得同時擔任製作者及審核者，除非已批准獨資經營者豁免。'),
  ('da_maker_operational_trade', 'da_maker', 'trade_info_viewer', 'warn', 'A delegated administrator should hold no operational role.', '授權管理員不應持有營運角色。'),
  ('da_maker_operational_ref', 'da_maker', 'ref_data_viewer', 'warn', 'A delegated administrator should hold no operational role.', '授權管理員不應持有營運角色。'),
  ('da_maker_operational_si_maker', 'da_maker', 'si_maker', 'warn', 'A delegated administrator should hold no operational role.', '授權管理員不應持有營運角色。'),
  ('da_maker_operational_si_checker', 'da_maker', 'si_checker', 'warn', 'A delegated administrator should hold no operational role.', '授權管理員不應持有營運角色。'),
  ('da_maker_operational_si_status', 'da_maker', 'si_status_subscriber', 'warn', 'A delegated administrator should hold no operational role.', '授權管理員不應持有營運角色。'),
  ('da_checker_operational_trade', 'da_checker', 'trade_info_viewer', 'warn', 'A delegated administrator should hold no operational role.', '授權管理員不應持有營運角色。'),
  ('da_checker_operational_ref', 'da_checker', 'ref_data_viewer', 'warn', 'A delegated administrator should hold no operational role.', '授權管理員不應持有營運角色。'),
  ('da_checker_operational_si_maker', 'da_checker', 'si_maker', 'warn', 'A delegated administrator should hold no operational role.', '授權管理員不應持有營運角色。'),
  ('da_checker_operational_si_checker', 'da_checker', 'si_checker', 'warn', 'A delegated administrator should hold no operational role.', '授權管理員不應持有營運角色。'),
  ('da_checker_operational_si_status', 'da_checker', 'si_status_subscriber', 'warn', 'A delegated administrator should hold no operational role.', '授權管理員不應持有營運角色。');
