-- SCIM ETags never go stale (RFC 7644 §3.14; issue #10 item 10). A resource's version changes whenever its
-- representation does, also when the change comes from another resource:
--  * a Group's `members` lose a member when that user or group is deleted (the membership row goes by cascade), so
--    the groups that held it get a new version (BEFORE DELETE: the membership rows still exist then);
--  * a User's `groups` change when a membership row is added or removed, by any path (group PATCH/PUT/DELETE, bulk),
--    so those users get a new version. Statement-level with transition tables: one UPDATE per statement however many
--    rows, and the user rows are locked in id order, so concurrent membership changes cannot deadlock on them.
CREATE FUNCTION scim_touch_groups_holding_member() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  holders uuid[];
BEGIN
  -- The indexed generated column for the kind of member being deleted.
  IF TG_TABLE_NAME = 'users' THEN
    SELECT array_agg(gm.group_id) INTO holders FROM group_members gm WHERE gm.tenant_id = OLD.tenant_id AND gm.user_id = OLD.id;
  ELSE
    SELECT array_agg(gm.group_id) INTO holders FROM group_members gm WHERE gm.tenant_id = OLD.tenant_id AND gm.member_group_id = OLD.id;
  END IF;
  IF holders IS NULL THEN
    RETURN OLD;
  END IF;
  UPDATE groups g SET version = g.version + 1, updated_at = now()
  FROM (SELECT h.id FROM groups h WHERE h.tenant_id = OLD.tenant_id AND h.id = ANY (holders) ORDER BY h.id FOR UPDATE) held
  WHERE g.tenant_id = OLD.tenant_id AND g.id = held.id;
  RETURN OLD;
END
$$;
--> statement-breakpoint
CREATE TRIGGER users_scim_touch_groups BEFORE DELETE ON users FOR EACH ROW EXECUTE FUNCTION scim_touch_groups_holding_member();
--> statement-breakpoint
CREATE TRIGGER groups_scim_touch_groups BEFORE DELETE ON groups FOR EACH ROW EXECUTE FUNCTION scim_touch_groups_holding_member();
--> statement-breakpoint
CREATE FUNCTION scim_touch_member_users() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE users u SET version = u.version + 1, updated_at = now()
  FROM (
    SELECT x.tenant_id, x.id FROM users x
    WHERE (x.tenant_id, x.id) IN (SELECT DISTINCT c.tenant_id, c.user_id FROM changed c WHERE c.user_id IS NOT NULL)
    ORDER BY x.tenant_id, x.id FOR UPDATE
  ) m
  WHERE u.tenant_id = m.tenant_id AND u.id = m.id;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER group_members_scim_touch_users_insert AFTER INSERT ON group_members REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION scim_touch_member_users();
--> statement-breakpoint
CREATE TRIGGER group_members_scim_touch_users_delete AFTER DELETE ON group_members REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION scim_touch_member_users();
