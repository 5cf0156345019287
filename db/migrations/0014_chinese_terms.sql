-- HKEX's own Chinese words for the catalogue's names (issue 14; docs/glossary.md): 開戶註冊 for onboarding, as the
-- circular's 《OCP 開戶註冊指南》; 授權管理人 for delegated administrators, as the circular's 「授權的管理人仕」;
-- 輸入人 / 覆核人 for maker / checker, as Hong Kong operations teams write them.
UPDATE "roles" SET "name_zh" = replace(replace(replace(replace("name_zh", '接納事務主任', '開戶註冊主任'), '授權管理員', '授權管理人'), '製作者', '輸入人'), '審核者', '覆核人');--> statement-breakpoint
UPDATE "sod_rules" SET "description_zh" = replace(replace(replace("description_zh", '授權管理員', '授權管理人'), '製作者', '輸入人'), '審核者', '覆核人');--> statement-breakpoint
UPDATE "role_templates" SET "name_zh" = replace(replace(replace("name_zh", '授權管理員', '授權管理人'), '製作者', '輸入人'), '審核者', '覆核人');
