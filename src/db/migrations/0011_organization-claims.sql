ALTER TABLE "clients" ADD COLUMN "organization_id" uuid;--> statement-breakpoint
ALTER TABLE "authorization_codes" ADD COLUMN "organization_id" uuid;--> statement-breakpoint
ALTER TABLE "refresh_tokens" ADD COLUMN "organization_id" uuid;--> statement-breakpoint
ALTER TABLE "clients" ADD CONSTRAINT "clients_organization_fk" FOREIGN KEY ("tenant_id","organization_id") REFERENCES "public"."organizations"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "clients_tenant_id_organization_id_idx" ON "clients" USING btree ("tenant_id","organization_id") WHERE organization_id IS NOT NULL;