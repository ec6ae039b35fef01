CREATE TABLE "invitations" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"organization_id" uuid,
	"user_id" uuid NOT NULL,
	"email" text NOT NULL,
	"roles" text[] DEFAULT '{}'::text[] NOT NULL,
	"token_hash" "bytea" NOT NULL,
	"expires_in_days" integer NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"created_user" boolean NOT NULL,
	"source" text NOT NULL,
	"invited_by" text NOT NULL,
	"send_count" integer DEFAULT 0 NOT NULL,
	"last_sent_at" timestamp with time zone,
	"accepted_at" timestamp with time zone,
	"revoked_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "invitations_pkey" PRIMARY KEY("tenant_id","id")
);
--> statement-breakpoint
ALTER TABLE "tenant_settings" ADD COLUMN "brand_logo_url" text;--> statement-breakpoint
ALTER TABLE "tenant_settings" ADD COLUMN "brand_color" text;--> statement-breakpoint
ALTER TABLE "organization_memberships" ADD COLUMN "status" text DEFAULT 'active' NOT NULL;--> statement-breakpoint
ALTER TABLE "invitations" ADD CONSTRAINT "invitations_organization_fk" FOREIGN KEY ("tenant_id","organization_id") REFERENCES "public"."organizations"("tenant_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "invitations" ADD CONSTRAINT "invitations_user_fk" FOREIGN KEY ("tenant_id","user_id") REFERENCES "public"."users"("tenant_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "invitations_tenant_id_token_hash_idx" ON "invitations" USING btree ("tenant_id","token_hash");--> statement-breakpoint
CREATE UNIQUE INDEX "invitations_tenant_id_organization_id_user_id_open_idx" ON "invitations" USING btree ("tenant_id","organization_id","user_id") WHERE "invitations"."accepted_at" IS NULL AND "invitations"."revoked_at" IS NULL AND "invitations"."organization_id" IS NOT NULL;--> statement-breakpoint
CREATE INDEX "invitations_tenant_id_organization_id_created_at_idx" ON "invitations" USING btree ("tenant_id","organization_id","created_at","id");--> statement-breakpoint
CREATE INDEX "invitations_tenant_id_user_id_idx" ON "invitations" USING btree ("tenant_id","user_id");