ALTER TABLE "connections" ADD COLUMN "sp_signing_key_sealed" text;--> statement-breakpoint
ALTER TABLE "connections" ADD COLUMN "sp_signing_cert" text;