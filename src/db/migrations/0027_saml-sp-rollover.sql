ALTER TABLE "connections" ADD COLUMN "sp_next_signing_key_sealed" text;--> statement-breakpoint
ALTER TABLE "connections" ADD COLUMN "sp_next_signing_cert" text;