CREATE TABLE "certification_cases" (
	"code" text PRIMARY KEY NOT NULL,
	"service_code" text NOT NULL,
	"title_en" text NOT NULL,
	"title_zh" text NOT NULL,
	"steps" text NOT NULL,
	"expected_result" text NOT NULL,
	"mandatory" boolean NOT NULL,
	"catalogue_version" integer NOT NULL,
	"sort_order" integer DEFAULT 0 NOT NULL,
	"retired_at" timestamp (3) with time zone
);
--> statement-breakpoint
CREATE TABLE "certification_results" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"run_id" text NOT NULL,
	"case_code" text NOT NULL,
	"attempt" integer NOT NULL,
	"outcome" text NOT NULL,
	"evidence" text NOT NULL,
	"jwt_check" text,
	"recorded_by" text,
	"recorded_at" timestamp (3) with time zone NOT NULL,
	CONSTRAINT "certification_results_outcome_valid" CHECK ("certification_results"."outcome" in ('passed','failed','blocked','not_applicable'))
);
--> statement-breakpoint
CREATE TABLE "certification_run_cases" (
	"run_id" text NOT NULL,
	"case_code" text NOT NULL,
	"service_code" text NOT NULL,
	"title_en" text NOT NULL,
	"title_zh" text NOT NULL,
	"steps" text NOT NULL,
	"expected_result" text NOT NULL,
	"mandatory" boolean NOT NULL,
	"sort_order" integer NOT NULL,
	CONSTRAINT "certification_run_cases_run_id_case_code_pk" PRIMARY KEY("run_id","case_code")
);
--> statement-breakpoint
CREATE TABLE "certification_runs" (
	"id" text PRIMARY KEY NOT NULL,
	"participant_id" text NOT NULL,
	"environment" text NOT NULL,
	"api_client_id" text NOT NULL,
	"program_name" text NOT NULL,
	"program_version" text NOT NULL,
	"vendor" text,
	"catalogue_version" integer NOT NULL,
	"status" text NOT NULL,
	"started_by" text,
	"started_at" timestamp (3) with time zone NOT NULL,
	"submitted_by" text,
	"submitted_at" timestamp (3) with time zone,
	"confirmed_by" text,
	"confirmed_at" timestamp (3) with time zone,
	"decided_by" text,
	"decided_at" timestamp (3) with time zone,
	"declaration" text,
	"return_reason" text,
	"stale_at" timestamp (3) with time zone,
	"stale_reason" text,
	"version" integer DEFAULT 1 NOT NULL,
	CONSTRAINT "certification_runs_status_valid" CHECK ("certification_runs"."status" in ('recording','submitted','confirmed','signed_off','returned','stale')),
	CONSTRAINT "certification_runs_environment_valid" CHECK ("certification_runs"."environment" in ('simulator','test')),
	CONSTRAINT "certification_runs_signed_off_declared" CHECK ("certification_runs"."status" <> 'signed_off' or "certification_runs"."declaration" is not null),
	CONSTRAINT "certification_runs_returned_has_reason" CHECK ("certification_runs"."status" <> 'returned' or "certification_runs"."return_reason" is not null)
);
--> statement-breakpoint
ALTER TABLE "certification_cases" ADD CONSTRAINT "certification_cases_service_code_ocp_services_code_fk" FOREIGN KEY ("service_code") REFERENCES "public"."ocp_services"("code") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "certification_results" ADD CONSTRAINT "certification_results_recorded_by_users_id_fk" FOREIGN KEY ("recorded_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "certification_results" ADD CONSTRAINT "certification_results_run_id_case_code_certification_run_cases_run_id_case_code_fk" FOREIGN KEY ("run_id","case_code") REFERENCES "public"."certification_run_cases"("run_id","case_code") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "certification_run_cases" ADD CONSTRAINT "certification_run_cases_run_id_certification_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."certification_runs"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "certification_run_cases" ADD CONSTRAINT "certification_run_cases_case_code_certification_cases_code_fk" FOREIGN KEY ("case_code") REFERENCES "public"."certification_cases"("code") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "certification_runs" ADD CONSTRAINT "certification_runs_participant_id_participants_id_fk" FOREIGN KEY ("participant_id") REFERENCES "public"."participants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "certification_runs" ADD CONSTRAINT "certification_runs_api_client_id_api_clients_id_fk" FOREIGN KEY ("api_client_id") REFERENCES "public"."api_clients"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "certification_runs" ADD CONSTRAINT "certification_runs_started_by_users_id_fk" FOREIGN KEY ("started_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "certification_runs" ADD CONSTRAINT "certification_runs_submitted_by_users_id_fk" FOREIGN KEY ("submitted_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "certification_runs" ADD CONSTRAINT "certification_runs_confirmed_by_users_id_fk" FOREIGN KEY ("confirmed_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "certification_runs" ADD CONSTRAINT "certification_runs_decided_by_users_id_fk" FOREIGN KEY ("decided_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "certification_cases_service_idx" ON "certification_cases" USING btree ("service_code","sort_order");--> statement-breakpoint
CREATE UNIQUE INDEX "certification_results_attempt_unique" ON "certification_results" USING btree ("run_id","case_code","attempt");--> statement-breakpoint
CREATE INDEX "certification_runs_participant_idx" ON "certification_runs" USING btree ("participant_id","started_at");--> statement-breakpoint
CREATE UNIQUE INDEX "certification_runs_one_open" ON "certification_runs" USING btree ("participant_id") WHERE "certification_runs"."status" in ('recording','submitted','confirmed','returned');--> statement-breakpoint
-- The Developer Corner's test-case catalogue, version 1 (SPEC §6). The platform administrator manages it from here on.
INSERT INTO "certification_cases" ("code", "service_code", "title_en", "title_zh", "steps", "expected_result", "mandatory", "catalogue_version", "sort_order") VALUES
  ('CON-01', 'trade_info', 'Connect and authenticate with a signed JWT', '以簽署的 JWT 連接及認證', '1. Sign a JWT client assertion with the registered private key (kid in the header, aud of the environment, exp within 5 minutes). 2. Call the token endpoint. 3. Open the trade information stream with the access token.', 'Token issued; the stream opens with HTTP 200; the JWT connection check shows every claim passed.', true, 1, 10),
  ('CON-02', 'trade_info', 'Expired token is refused', '已過期的權杖被拒絕', '1. Sign a JWT whose exp is in the past. 2. Call the token endpoint.', 'HTTP 401 with error "invalid_token" naming the expired claim; the program logs it and signs a new assertion.', true, 1, 20),
  ('CON-03', 'trade_info', 'Wrong audience is refused', '錯誤受眾被拒絕', '1. Sign a JWT with the production audience against the test environment. 2. Call the token endpoint.', 'HTTP 401 naming the audience; the program does not retry with the same assertion.', true, 1, 30),
  ('TRD-01', 'trade_info', 'Receive real-time trade information', '接收實時交易資料', '1. Subscribe to trade information for the test participant. 2. Execute the scripted trades in the test environment. 3. Compare the received records with the expected file.', 'Every scripted trade received once, in order, fields matching the expected file.', true, 1, 40),
  ('TRD-02', 'trade_info', 'Recover after a disconnection', '斷線後恢復接收', '1. Drop the connection during the scripted trades. 2. Reconnect with the last sequence number received.', 'Missed records replayed from the given sequence number without gaps or duplicates.', true, 1, 50),
  ('TRD-03', 'trade_info', 'Back off when rate-limited', '受速率限制時退避', '1. Send requests above the published rate limit. 2. Observe the responses and the program''s retries.', 'HTTP 429 with Retry-After; the program waits at least that long before retrying.', false, 1, 60),
  ('REF-01', 'reference_data', 'Connect and authenticate with a signed JWT', '以簽署的 JWT 連接及認證', '1. Sign a JWT client assertion with the registered private key. 2. Call the token endpoint. 3. Call the participant list endpoint.', 'Token issued; HTTP 200; the JWT connection check shows every claim passed.', true, 1, 110),
  ('REF-02', 'reference_data', 'Download the participant list', '下載參與者名單', '1. Request the participant list for today. 2. Page through every page.', 'Every participant of the sample file received once; paging ends with no next link.', true, 1, 120),
  ('REF-03', 'reference_data', 'Download the stock list', '下載股份名單', '1. Request the stock list for today. 2. Compare with the sample file.', 'Every stock of the sample file received, with board lot and currency.', true, 1, 130),
  ('REF-04', 'reference_data', 'Read the trading and settlement calendar', '讀取交易及交收日曆', '1. Request the calendar for the current and next month.', 'Holidays and half-days as in the sample calendar; settlement dates computed correctly.', true, 1, 140),
  ('REF-05', 'reference_data', 'Read the NCP/GCP mapping', '讀取非結算參與者／全面結算參與者對應', '1. Request the NCP/GCP mapping. 2. Look up a sample NCP.', 'The sample NCP maps to its GCP; an unknown ID answers 404.', true, 1, 150),
  ('REF-06', 'reference_data', 'Refresh reference data after an intraday update', '日內更新後刷新參考數據', '1. Trigger the simulator''s intraday stock list update. 2. Request the changes since the last download.', 'Only the changed records received; the program''s copy matches the new file.', false, 1, 160),
  ('SIS-01', 'si_status', 'Connect and authenticate with a signed JWT', '以簽署的 JWT 連接及認證', '1. Sign a JWT client assertion with the registered private key. 2. Call the token endpoint. 3. Subscribe to the SI status push.', 'Token issued; subscription acknowledged; the JWT connection check shows every claim passed.', true, 1, 210),
  ('SIS-02', 'si_status', 'Receive SI status updates', '接收交收指示狀態更新', '1. Input the scripted settlement instructions. 2. Receive their status updates.', 'One update per status change, in order, matching the expected file.', true, 1, 220),
  ('SIS-03', 'si_status', 'Replay missed SI status events', '重播錯過的交收指示狀態事件', '1. Stop the program during the script. 2. Restart and request a replay from the last event id.', 'Missed events replayed from the given id, without gaps or duplicates.', true, 1, 230),
  ('SIS-04', 'si_status', 'Page through the SI status history', '分頁瀏覽交收指示狀態記錄', '1. Request the day''s SI status history with a page size of 50.', 'Every event received once across pages; the last page has no next cursor.', false, 1, 240),
  ('SIS-05', 'si_status', 'Handle a malformed event without stopping', '處理格式錯誤的事件而不中斷', '1. Trigger the simulator''s malformed-event scenario.', 'The program logs and skips the event, and keeps receiving the following ones.', false, 1, 250);
--> statement-breakpoint
-- Testers sign in to the console to record results in the Developer Corner: the tester role becomes a console role.
UPDATE "roles" SET "is_console" = true WHERE "code" = 'certification_tester';
