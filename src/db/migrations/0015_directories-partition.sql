-- Directories (docs/adr/0010-directory-partitions.md): a directory's SCIM users and groups live in the tenant's
-- users and groups tables, in a partition of their own named by directory_id (NULL: the tenant's own users).
--
-- 1. Row-level security for the new tables, as for every tenant table.
SELECT iam_isolate_tenant_table('directories');
--> statement-breakpoint
SELECT iam_isolate_tenant_table('directory_tokens');
--> statement-breakpoint
SELECT iam_isolate_tenant_table('directory_role_mappings');
--> statement-breakpoint
SELECT iam_isolate_tenant_table('directory_user_links');
--> statement-breakpoint
-- 2. The partition of this connection: NULL when unset or '' (the tenant's own users), else a directory id.
CREATE FUNCTION iam_current_directory() RETURNS uuid LANGUAGE sql STABLE AS $$
  SELECT NULLIF(current_setting('app.directory_id', true), '')::uuid
$$;
--> statement-breakpoint
-- 3. A restrictive policy (ANDed with tenant_isolation) on each partitioned table: the service's connections see and
-- write only the rows of their partition. A sign-in, /api/users or a token check never sees a directory's record, and
-- a directory's SCIM endpoint never sees the tenant's users or another directory's. iam_global is not restricted.
CREATE FUNCTION iam_partition_by_directory(t regclass) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('CREATE POLICY directory_partition ON %s AS RESTRICTIVE TO iam_app USING (directory_id IS NOT DISTINCT FROM iam_current_directory()) WITH CHECK (directory_id IS NOT DISTINCT FROM iam_current_directory())', t);
END
$$;
--> statement-breakpoint
SELECT iam_partition_by_directory('users');
--> statement-breakpoint
SELECT iam_partition_by_directory('groups');
--> statement-breakpoint
SELECT iam_partition_by_directory('group_members');
--> statement-breakpoint
SELECT iam_partition_by_directory('user_emails');
--> statement-breakpoint
-- 4. A directory's records go with it. MATCH SIMPLE: the tenant's own rows (NULL directory_id) reference nothing.
ALTER TABLE users ADD CONSTRAINT users_directory_fk FOREIGN KEY (tenant_id, directory_id) REFERENCES directories (tenant_id, id) ON DELETE CASCADE;
--> statement-breakpoint
ALTER TABLE groups ADD CONSTRAINT groups_directory_fk FOREIGN KEY (tenant_id, directory_id) REFERENCES directories (tenant_id, id) ON DELETE CASCADE;
--> statement-breakpoint
-- 5. The login-identifier rule (0002) holds within a partition: a directory's userName may equal a tenant user's
-- email (they are different records; a directory user never signs in by password).
CREATE OR REPLACE FUNCTION "users_login_identifiers_distinct"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  k text;
BEGIN
  FOR k IN SELECT DISTINCT x FROM unnest(ARRAY[NEW.user_name_key, NEW.email_key]) AS x WHERE x IS NOT NULL ORDER BY x LOOP
    PERFORM pg_advisory_xact_lock(hashtextextended(NEW.tenant_id::text || '/' || coalesce(NEW.directory_id::text, '') || '/login/' || k, 0));
  END LOOP;
  -- `directory_id = …` or `IS NULL`, never IS NOT DISTINCT FROM: only those use the (tenant_id, directory_id, …) index.
  IF EXISTS (SELECT 1 FROM users u WHERE u.tenant_id = NEW.tenant_id AND u.email_key = NEW.user_name_key AND u.id <> NEW.id
             AND (CASE WHEN NEW.directory_id IS NULL THEN u.directory_id IS NULL ELSE u.directory_id = NEW.directory_id END)) THEN
    RAISE EXCEPTION 'the userName is another user''s email address'
      USING ERRCODE = 'unique_violation', CONSTRAINT = 'users_user_name_is_another_email';
  END IF;
  IF NEW.email_key IS NOT NULL AND NEW.directory_id IS NULL
     AND EXISTS (SELECT 1 FROM users u WHERE u.tenant_id = NEW.tenant_id AND u.directory_id IS NULL AND u.user_name_key = NEW.email_key AND u.id <> NEW.id) THEN
    RAISE EXCEPTION 'the email address is another user''s userName'
      USING ERRCODE = 'unique_violation', CONSTRAINT = 'users_email_is_another_user_name';
  END IF;
  IF NEW.email_key IS NOT NULL AND NEW.directory_id IS NOT NULL
     AND EXISTS (SELECT 1 FROM users u WHERE u.tenant_id = NEW.tenant_id AND u.directory_id = NEW.directory_id AND u.user_name_key = NEW.email_key AND u.id <> NEW.id) THEN
    RAISE EXCEPTION 'the email address is another user''s userName'
      USING ERRCODE = 'unique_violation', CONSTRAINT = 'users_email_is_another_user_name';
  END IF;
  RETURN NEW;
END
$$;
