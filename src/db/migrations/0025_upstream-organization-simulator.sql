CREATE TABLE "idp_simulators" (
	"tenant_id" uuid PRIMARY KEY NOT NULL,
	"signing_key_sealed" text NOT NULL,
	"certificate" text NOT NULL,
	"client_secret_hash" "bytea" NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "upstream_providers" ADD COLUMN "organization_id" uuid;--> statement-breakpoint
ALTER TABLE "upstream_providers" ADD COLUMN "default_organization_roles" text[] DEFAULT '{}'::text[] NOT NULL;--> statement-breakpoint
ALTER TABLE "idp_simulators" ADD CONSTRAINT "idp_simulators_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "upstream_providers" ADD CONSTRAINT "upstream_providers_organization_fk" FOREIGN KEY ("tenant_id","organization_id") REFERENCES "public"."organizations"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "upstream_providers_tenant_id_organization_id_idx" ON "upstream_providers" USING btree ("tenant_id","organization_id");--> statement-breakpoint
-- Row-level security (docs/adr/0008-row-level-security.md).
SELECT iam_isolate_tenant_table('idp_simulators');
