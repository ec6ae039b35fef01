-- A userName may not equal another user's sign-in email, and an email may not equal another user's userName
-- (issue #9: otherwise password sign-in by "bob@x" could reach a user named "bob@x" instead of Bob). Emails alone
-- are not unique (RFC 7643 §8.7.1), so no unique index can say this; the trigger does, race-free: writers of the
-- same key take a transaction-scoped advisory lock on it (in key order, so two keys cannot deadlock) before the
-- check, which in READ COMMITTED sees everything committed by the previous holder. It raises unique_violation with
-- the constraint name users/service.ts maps to a 409 naming the field.
CREATE FUNCTION "users_login_identifiers_distinct"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  k text;
BEGIN
  FOR k IN SELECT DISTINCT x FROM unnest(ARRAY[NEW.user_name_key, NEW.email_key]) AS x WHERE x IS NOT NULL ORDER BY x LOOP
    PERFORM pg_advisory_xact_lock(hashtextextended(NEW.tenant_id::text || '/login/' || k, 0));
  END LOOP;
  IF EXISTS (SELECT 1 FROM users u WHERE u.tenant_id = NEW.tenant_id AND u.id <> NEW.id AND u.email_key = NEW.user_name_key) THEN
    RAISE EXCEPTION 'the userName is another user''s email address'
      USING ERRCODE = 'unique_violation', CONSTRAINT = 'users_user_name_is_another_email';
  END IF;
  IF NEW.email_key IS NOT NULL AND EXISTS (SELECT 1 FROM users u WHERE u.tenant_id = NEW.tenant_id AND u.id <> NEW.id AND u.user_name_key = NEW.email_key) THEN
    RAISE EXCEPTION 'the email address is another user''s userName'
      USING ERRCODE = 'unique_violation', CONSTRAINT = 'users_email_is_another_user_name';
  END IF;
  RETURN NEW;
END
$$;--> statement-breakpoint
CREATE TRIGGER "users_login_identifiers_distinct" BEFORE INSERT OR UPDATE OF "user_name_key", "email_key" ON "users"
  FOR EACH ROW EXECUTE FUNCTION "users_login_identifiers_distinct"();
