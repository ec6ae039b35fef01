-- Row-level security for webhook endpoints and their delivery log (docs/adr/0008-row-level-security.md).
SELECT iam_isolate_tenant_table('webhook_endpoints');
--> statement-breakpoint
SELECT iam_isolate_tenant_table('webhook_deliveries');
