-- Row-level security for the SAML assertion replay cache (docs/adr/0008-row-level-security.md).
SELECT iam_isolate_tenant_table('saml_assertions');
