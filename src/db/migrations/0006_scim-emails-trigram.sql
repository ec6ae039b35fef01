-- SCIM `emails co "…"` (and `emails.value co`) uses an index (issue #10 item 11): a trigram GIN index on the
-- lowercased copy in user_emails, which the filter compiles to `value_lc like '%…%'`. pg_trgm ships with PostgreSQL
-- (contrib) and is a trusted extension (PostgreSQL 13+): a database owner may create it without superuser.
-- drizzle-kit neither creates extensions nor knows this index, so both live here, by hand.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
--> statement-breakpoint
CREATE INDEX IF NOT EXISTS user_emails_value_lc_trgm_idx ON user_emails USING gin (value_lc gin_trgm_ops);
