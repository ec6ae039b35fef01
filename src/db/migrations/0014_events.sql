CREATE TABLE "event_horizons" (
	"tenant_id" uuid NOT NULL,
	"deleted_through_xid" "xid8" NOT NULL,
	"deleted_through_seq" bigint NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "event_horizons_pkey" PRIMARY KEY("tenant_id")
);
--> statement-breakpoint
CREATE TABLE "events" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"xid" "xid8" DEFAULT pg_current_xact_id() NOT NULL,
	"seq" bigserial NOT NULL,
	"type" text NOT NULL,
	"occurred_at" timestamp with time zone DEFAULT now() NOT NULL,
	"organization_id" uuid,
	"directory_id" uuid,
	"data" jsonb NOT NULL,
	"previous_attributes" jsonb,
	CONSTRAINT "events_pkey" PRIMARY KEY("tenant_id","id")
);
--> statement-breakpoint
ALTER TABLE "event_horizons" ADD CONSTRAINT "event_horizons_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "events" ADD CONSTRAINT "events_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "events_tenant_id_xid_seq_idx" ON "events" USING btree ("tenant_id","xid","seq");--> statement-breakpoint
CREATE INDEX "events_tenant_id_organization_id_xid_seq_idx" ON "events" USING btree ("tenant_id","organization_id","xid","seq");--> statement-breakpoint
CREATE INDEX "events_occurred_at_idx" ON "events" USING btree ("occurred_at");