ALTER TABLE "webhook_deliveries" ADD COLUMN "trigger" text DEFAULT 'delivery' NOT NULL;--> statement-breakpoint
ALTER TABLE "webhook_endpoints" ADD COLUMN "failing_since" timestamp with time zone;