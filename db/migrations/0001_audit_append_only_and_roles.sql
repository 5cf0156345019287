-- The audit trail is append-only in the database itself: no UPDATE, DELETE or TRUNCATE, whoever asks.
CREATE OR REPLACE FUNCTION audit_events_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$;
--> statement-breakpoint
CREATE TRIGGER audit_events_no_update_delete
  BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change();
--> statement-breakpoint
CREATE TRIGGER audit_events_no_truncate
  BEFORE TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse_change();
--> statement-breakpoint
-- Role catalogue of SPEC §4. The platform administrator manages it from here on.
INSERT INTO roles (code, name_en, name_zh, population, service, is_console) VALUES
  ('da_maker', 'Delegated Administrator (maker)', '授權管理員（製作者）', 'participant', NULL, true),
  ('da_checker', 'Delegated Administrator (checker)', '授權管理員（審核者）', 'participant', NULL, true),
  ('trade_info_viewer', 'Trade information viewer', '交易資料查閱者', 'participant', 'trade_info', false),
  ('ref_data_viewer', 'Reference data viewer', '參考數據查閱者', 'participant', 'reference_data', false),
  ('si_maker', 'SI maker', '交收指示製作者', 'participant', 'si_status', false),
  ('si_checker', 'SI checker', '交收指示審核者', 'participant', 'si_status', false),
  ('si_status_subscriber', 'SI status subscriber', '交收指示狀態訂閱者', 'participant', 'si_status', false),
  ('api_credential_manager', 'API credential manager', 'API 憑證管理員', 'participant', NULL, false),
  ('certification_tester', 'Certification tester', '認證測試員', 'participant', NULL, false),
  ('onboarding_officer', 'Onboarding officer', '接納事務主任', 'hkex', NULL, true),
  ('compliance_reviewer', 'Compliance reviewer', '合規審查員', 'hkex', NULL, true),
  ('helpdesk', 'Helpdesk', '服務台', 'hkex', NULL, true),
  ('platform_admin', 'Platform administrator', '平台管理員', 'hkex', NULL, true);
