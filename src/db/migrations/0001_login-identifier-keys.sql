DROP INDEX "users_tenant_id_user_name_idx";--> statement-breakpoint
DROP INDEX "users_tenant_id_email_idx";--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "user_name_key" text;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "email_key" text;--> statement-breakpoint
-- Existing rows (hand-added backfill): PostgreSQL's lower() equals the TypeScript key for ASCII identifiers; from now
-- on only src/users/identifiers.ts computes keys.
UPDATE "users" SET "user_name_key" = lower("user_name"), "email_key" = lower("email");--> statement-breakpoint
ALTER TABLE "users" ALTER COLUMN "user_name_key" SET NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "users_tenant_id_user_name_key_idx" ON "users" USING btree ("tenant_id","user_name_key");--> statement-breakpoint
CREATE INDEX "users_tenant_id_email_key_idx" ON "users" USING btree ("tenant_id","email_key");
