CREATE TABLE "directories" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"organization_id" uuid NOT NULL,
	"display_name" text NOT NULL,
	"provider" text DEFAULT 'generic' NOT NULL,
	"enabled" boolean DEFAULT true NOT NULL,
	"primary" boolean DEFAULT false NOT NULL,
	"provision_members" boolean DEFAULT false NOT NULL,
	"last_request_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "directories_pkey" PRIMARY KEY("tenant_id","id")
);
--> statement-breakpoint
CREATE TABLE "directory_role_mappings" (
	"tenant_id" uuid NOT NULL,
	"directory_id" uuid NOT NULL,
	"group_id" uuid NOT NULL,
	"roles" text[] DEFAULT '{}'::text[] NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "directory_role_mappings_pkey" PRIMARY KEY("tenant_id","directory_id","group_id")
);
--> statement-breakpoint
CREATE TABLE "directory_tokens" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"directory_id" uuid NOT NULL,
	"token_hash" "bytea" NOT NULL,
	"hint" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone,
	"last_used_at" timestamp with time zone,
	"revoked_at" timestamp with time zone,
	CONSTRAINT "directory_tokens_pkey" PRIMARY KEY("tenant_id","id")
);
--> statement-breakpoint
CREATE TABLE "directory_user_links" (
	"tenant_id" uuid NOT NULL,
	"directory_id" uuid NOT NULL,
	"directory_user_id" uuid NOT NULL,
	"user_id" uuid NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "directory_user_links_pkey" PRIMARY KEY("tenant_id","directory_user_id")
);
--> statement-breakpoint
DROP INDEX "users_tenant_id_user_name_key_idx";--> statement-breakpoint
DROP INDEX "users_tenant_id_external_id_idx";--> statement-breakpoint
DROP INDEX "users_tenant_id_created_at_idx";--> statement-breakpoint
DROP INDEX "groups_tenant_id_display_name_idx";--> statement-breakpoint
DROP INDEX "groups_tenant_id_external_id_idx";--> statement-breakpoint
DROP INDEX "groups_tenant_id_created_at_idx";--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "directory_id" uuid;--> statement-breakpoint
ALTER TABLE "group_members" ADD COLUMN "directory_id" uuid;--> statement-breakpoint
ALTER TABLE "groups" ADD COLUMN "directory_id" uuid;--> statement-breakpoint
ALTER TABLE "user_emails" ADD COLUMN "directory_id" uuid;--> statement-breakpoint
ALTER TABLE "directories" ADD CONSTRAINT "directories_organization_fk" FOREIGN KEY ("tenant_id","organization_id") REFERENCES "public"."organizations"("tenant_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "directory_role_mappings" ADD CONSTRAINT "directory_role_mappings_directory_fk" FOREIGN KEY ("tenant_id","directory_id") REFERENCES "public"."directories"("tenant_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "directory_role_mappings" ADD CONSTRAINT "directory_role_mappings_group_fk" FOREIGN KEY ("tenant_id","group_id") REFERENCES "public"."groups"("tenant_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "directory_tokens" ADD CONSTRAINT "directory_tokens_directory_fk" FOREIGN KEY ("tenant_id","directory_id") REFERENCES "public"."directories"("tenant_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "directory_user_links" ADD CONSTRAINT "directory_user_links_directory_fk" FOREIGN KEY ("tenant_id","directory_id") REFERENCES "public"."directories"("tenant_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "directory_user_links" ADD CONSTRAINT "directory_user_links_directory_user_fk" FOREIGN KEY ("tenant_id","directory_user_id") REFERENCES "public"."users"("tenant_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "directory_user_links" ADD CONSTRAINT "directory_user_links_user_fk" FOREIGN KEY ("tenant_id","user_id") REFERENCES "public"."users"("tenant_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "directories_tenant_id_organization_id_created_at_idx" ON "directories" USING btree ("tenant_id","organization_id","created_at","id");--> statement-breakpoint
CREATE UNIQUE INDEX "directories_one_primary_idx" ON "directories" USING btree ("tenant_id","organization_id") WHERE "directories"."primary";--> statement-breakpoint
CREATE UNIQUE INDEX "directory_tokens_token_hash_idx" ON "directory_tokens" USING btree ("token_hash");--> statement-breakpoint
CREATE INDEX "directory_tokens_tenant_id_directory_id_idx" ON "directory_tokens" USING btree ("tenant_id","directory_id");--> statement-breakpoint
CREATE INDEX "directory_user_links_tenant_id_user_id_idx" ON "directory_user_links" USING btree ("tenant_id","user_id");--> statement-breakpoint
CREATE INDEX "users_tenant_id_directory_id_id_idx" ON "users" USING btree ("tenant_id","directory_id","id");--> statement-breakpoint
CREATE INDEX "groups_tenant_id_directory_id_id_idx" ON "groups" USING btree ("tenant_id","directory_id","id");--> statement-breakpoint
CREATE INDEX "users_tenant_id_external_id_idx" ON "users" USING btree ("tenant_id","directory_id","external_id");--> statement-breakpoint
CREATE INDEX "users_tenant_id_created_at_idx" ON "users" USING btree ("tenant_id","directory_id","created_at","id");--> statement-breakpoint
CREATE UNIQUE INDEX "groups_tenant_id_display_name_idx" ON "groups" USING btree ("tenant_id",coalesce("directory_id", '00000000-0000-0000-0000-000000000000'::uuid),lower("display_name"));--> statement-breakpoint
CREATE INDEX "groups_tenant_id_external_id_idx" ON "groups" USING btree ("tenant_id","directory_id","external_id");--> statement-breakpoint
CREATE INDEX "groups_tenant_id_created_at_idx" ON "groups" USING btree ("tenant_id","directory_id","created_at","id");--> statement-breakpoint
ALTER TABLE "users" ADD CONSTRAINT "users_tenant_id_user_name_key_idx" UNIQUE NULLS NOT DISTINCT("tenant_id","directory_id","user_name_key");