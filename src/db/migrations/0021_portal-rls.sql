-- Row-level security for the Admin Portal's tables (docs/adr/0008-row-level-security.md).
SELECT iam_isolate_tenant_table('portal_links');--> statement-breakpoint
SELECT iam_isolate_tenant_table('portal_sessions');--> statement-breakpoint
SELECT iam_isolate_tenant_table('portal_settings');
