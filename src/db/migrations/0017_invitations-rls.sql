-- Row-level security for invitations (docs/adr/0008-row-level-security.md).
SELECT iam_isolate_tenant_table('invitations');
