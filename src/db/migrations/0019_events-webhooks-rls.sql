-- Row-level security for the event feed (docs/adr/0008-row-level-security.md, docs/adr/0010-event-positions.md).
SELECT iam_isolate_tenant_table('events');
--> statement-breakpoint
SELECT iam_isolate_tenant_table('event_horizons');
--> statement-breakpoint
-- The feed is append-only for the service: only the retention job (iam_global) deletes, and nobody rewrites history.
REVOKE UPDATE, DELETE ON events FROM iam_app;
--> statement-breakpoint
REVOKE UPDATE ON events FROM iam_global;

--> statement-breakpoint
-- Row-level security for webhook endpoints and their delivery log (docs/adr/0008-row-level-security.md).
SELECT iam_isolate_tenant_table('webhook_endpoints');
--> statement-breakpoint
SELECT iam_isolate_tenant_table('webhook_deliveries');
