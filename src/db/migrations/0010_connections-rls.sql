-- Row-level security for SSO connections (docs/adr/0008-row-level-security.md).
SELECT iam_isolate_tenant_table('connections');
