CREATE TABLE "organization_domains" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"organization_id" uuid NOT NULL,
	"domain" text NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"verification_token" text NOT NULL,
	"verification_method" text,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_checked_at" timestamp with time zone,
	"last_error" text,
	"next_check_at" timestamp with time zone,
	"expires_at" timestamp with time zone NOT NULL,
	"verified_at" timestamp with time zone,
	"failed_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "organization_domains_pkey" PRIMARY KEY("tenant_id","id")
);
--> statement-breakpoint
CREATE TABLE "organization_memberships" (
	"tenant_id" uuid NOT NULL,
	"organization_id" uuid NOT NULL,
	"user_id" uuid NOT NULL,
	"roles" text[] DEFAULT '{}'::text[] NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "organization_memberships_pkey" PRIMARY KEY("tenant_id","organization_id","user_id")
);
--> statement-breakpoint
CREATE TABLE "organizations" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"display_name" text NOT NULL,
	"slug" text,
	"external_id" text,
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "organizations_pkey" PRIMARY KEY("tenant_id","id")
);
--> statement-breakpoint
ALTER TABLE "organization_domains" ADD CONSTRAINT "organization_domains_organization_fk" FOREIGN KEY ("tenant_id","organization_id") REFERENCES "public"."organizations"("tenant_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "organization_memberships" ADD CONSTRAINT "organization_memberships_organization_fk" FOREIGN KEY ("tenant_id","organization_id") REFERENCES "public"."organizations"("tenant_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "organization_memberships" ADD CONSTRAINT "organization_memberships_user_fk" FOREIGN KEY ("tenant_id","user_id") REFERENCES "public"."users"("tenant_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "organizations" ADD CONSTRAINT "organizations_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "organization_domains_tenant_id_organization_id_domain_idx" ON "organization_domains" USING btree ("tenant_id","organization_id","domain");--> statement-breakpoint
CREATE UNIQUE INDEX "organization_domains_tenant_id_domain_verified_idx" ON "organization_domains" USING btree ("tenant_id","domain") WHERE "organization_domains"."status" = 'verified';--> statement-breakpoint
CREATE INDEX "organization_domains_next_check_at_idx" ON "organization_domains" USING btree ("next_check_at") WHERE "organization_domains"."status" = 'pending';--> statement-breakpoint
CREATE INDEX "organization_memberships_tenant_id_user_id_idx" ON "organization_memberships" USING btree ("tenant_id","user_id");--> statement-breakpoint
CREATE INDEX "organization_memberships_tenant_id_organization_id_created_at_idx" ON "organization_memberships" USING btree ("tenant_id","organization_id","created_at","user_id");--> statement-breakpoint
CREATE UNIQUE INDEX "organizations_tenant_id_slug_idx" ON "organizations" USING btree ("tenant_id","slug");--> statement-breakpoint
CREATE UNIQUE INDEX "organizations_tenant_id_external_id_idx" ON "organizations" USING btree ("tenant_id","external_id");--> statement-breakpoint
CREATE INDEX "organizations_tenant_id_created_at_idx" ON "organizations" USING btree ("tenant_id","created_at","id");