-- Row-level security: PostgreSQL as the second wall behind TenantScope (docs/adr/0008-row-level-security.md).
--
-- The service's connections run as iam_app (src/platform/db.ts); its policies show it only the rows of the tenant in
-- the session setting app.tenant_id, and nothing when it is unset. iam_global is the bypass for the *.global.ts
-- files (Host -> tenant, tenant creation, cross-tenant jobs): a policy lets it see every row. Migrations run as the
-- login user, the tables' owner; FORCE makes the policies apply to the owner too (superusers always bypass them).
--
-- A new tenant-owned table needs, in its own custom migration:   SELECT iam_isolate_tenant_table('my_table');
-- test/db/row-level-security.test.ts fails for a table with a tenant_id column and no policy.

-- Roles are per cluster, so another database on the same server may have created them already.
DO $$
BEGIN
  CREATE ROLE iam_app NOLOGIN;
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;
--> statement-breakpoint
DO $$
BEGIN
  CREATE ROLE iam_global NOLOGIN;
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;
--> statement-breakpoint
-- The login user takes these roles on every connection (`-c role=…`); a superuser may anyway.
DO $$
BEGIN
  IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    EXECUTE format('GRANT iam_app, iam_global TO %I', current_user);
  END IF;
END $$;
--> statement-breakpoint
GRANT USAGE ON SCHEMA public TO iam_app, iam_global;
--> statement-breakpoint
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO iam_app, iam_global;
--> statement-breakpoint
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO iam_app, iam_global;
--> statement-breakpoint
-- Tables and sequences that later migrations create (as this same owner) get the same grants.
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO iam_app, iam_global;
--> statement-breakpoint
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO iam_app, iam_global;
--> statement-breakpoint
-- /readyz reads which migrations are applied.
GRANT USAGE ON SCHEMA drizzle TO iam_app, iam_global;
--> statement-breakpoint
GRANT SELECT ON drizzle.__drizzle_migrations TO iam_app, iam_global;
--> statement-breakpoint
-- The tenant of this connection: NULL when unset or cleared (''), so `tenant_id = NULL` matches no row.
-- STABLE and plain SQL: PostgreSQL inlines it into each policy and evaluates it once per query.
CREATE FUNCTION iam_current_tenant() RETURNS uuid LANGUAGE sql STABLE AS $$
  SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid
$$;
--> statement-breakpoint
-- One call per tenant-owned table: RLS enabled and forced, the tenant policy for everyone, the bypass for iam_global.
CREATE FUNCTION iam_isolate_tenant_table(t regclass, tenant_column name DEFAULT 'tenant_id') RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t);
  EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', t);
  EXECUTE format('CREATE POLICY tenant_isolation ON %s USING (%I = iam_current_tenant()) WITH CHECK (%I = iam_current_tenant())', t, tenant_column, tenant_column);
  EXECUTE format('CREATE POLICY global_bypass ON %s TO iam_global USING (true) WITH CHECK (true)', t);
END $$;
--> statement-breakpoint
SELECT iam_isolate_tenant_table('tenants', 'id');
--> statement-breakpoint
SELECT iam_isolate_tenant_table('tenant_hosts');
--> statement-breakpoint
SELECT iam_isolate_tenant_table('clients');
--> statement-breakpoint
SELECT iam_isolate_tenant_table('client_secrets');
--> statement-breakpoint
SELECT iam_isolate_tenant_table('protected_apis');
--> statement-breakpoint
SELECT iam_isolate_tenant_table('signing_keys');
--> statement-breakpoint
SELECT iam_isolate_tenant_table('authorization_codes');
--> statement-breakpoint
SELECT iam_isolate_tenant_table('refresh_tokens');
--> statement-breakpoint
SELECT iam_isolate_tenant_table('revoked_tokens');
--> statement-breakpoint
SELECT iam_isolate_tenant_table('sessions');
--> statement-breakpoint
SELECT iam_isolate_tenant_table('rate_limit_counters');
--> statement-breakpoint
SELECT iam_isolate_tenant_table('used_assertions');
--> statement-breakpoint
SELECT iam_isolate_tenant_table('users');
--> statement-breakpoint
SELECT iam_isolate_tenant_table('roles');
--> statement-breakpoint
SELECT iam_isolate_tenant_table('user_roles');
--> statement-breakpoint
SELECT iam_isolate_tenant_table('user_identities');
--> statement-breakpoint
SELECT iam_isolate_tenant_table('upstream_providers');
--> statement-breakpoint
SELECT iam_isolate_tenant_table('audit_events');
--> statement-breakpoint
SELECT iam_isolate_tenant_table('groups');
--> statement-breakpoint
SELECT iam_isolate_tenant_table('group_members');
--> statement-breakpoint
SELECT iam_isolate_tenant_table('invitation_requests');
--> statement-breakpoint
SELECT iam_isolate_tenant_table('user_emails');
--> statement-breakpoint
SELECT iam_isolate_tenant_table('tenant_settings');
--> statement-breakpoint
SELECT iam_isolate_tenant_table('organizations');
--> statement-breakpoint
SELECT iam_isolate_tenant_table('organization_memberships');
--> statement-breakpoint
SELECT iam_isolate_tenant_table('organization_domains');
--> statement-breakpoint
-- Under row-level security PostgreSQL uses a WHERE condition in an index only when its functions are LEAKPROOF
-- (they cannot reveal a row the policy hides, e.g. through an error message). lower(text) and LIKE (textlike) are
-- not marked so, which turns every case-insensitive lookup (userName, email, SCIM filters) into a scan of the
-- tenant's rows. Neither raises an error that depends on the row's value, so the marking is true; it needs a
-- superuser and is per database. Without one these lookups stay correct but scan (ADR 0008 has the numbers).
DO $$
BEGIN
  IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    ALTER FUNCTION pg_catalog.lower(text) LEAKPROOF;
    ALTER FUNCTION pg_catalog.textlike(text, text) LEAKPROOF;
  ELSE
    RAISE WARNING 'not a superuser: lower(text) and textlike stay non-leakproof, so case-insensitive lookups scan under row-level security';
  END IF;
END $$;
