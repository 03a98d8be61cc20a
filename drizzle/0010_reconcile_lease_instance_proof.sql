CREATE TABLE "user_sync_clerk_session_keys" (
	"key_id" text PRIMARY KEY NOT NULL,
	"first_seen_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_seen_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "user_sync_reconcile_lease" (
	"name" text PRIMARY KEY NOT NULL,
	"holder" text NOT NULL,
	"run_id" text,
	"acquired_at" timestamp with time zone NOT NULL,
	"heartbeat_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "user_sync_reconcile_runs" ADD COLUMN "walk_cursor" text;--> statement-breakpoint
ALTER TABLE "user_sync_reconcile_runs" ADD COLUMN "walk_cursor_created_at_ms" bigint;--> statement-breakpoint
ALTER TABLE "user_sync_reconcile_runs" ADD COLUMN "tombstone_cursor" text;--> statement-breakpoint
ALTER TABLE "user_sync_reconcile_runs" ADD COLUMN "live_rows" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "user_sync_reconcile_runs" ADD COLUMN "would_delete" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "user_sync_reconcile_runs" ADD COLUMN "unconfirmed" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "user_sync_reconcile_runs" ADD COLUMN "deletion_limit" integer;--> statement-breakpoint
ALTER TABLE "user_sync_reconcile_runs" ADD COLUMN "max_deletions" integer;--> statement-breakpoint
ALTER TABLE "user_sync_reconcile_runs" ADD COLUMN "instance_key_id" text;--> statement-breakpoint
ALTER TABLE "user_sync_reconcile_seen" ADD COLUMN "state" text DEFAULT 'walked' NOT NULL;--> statement-breakpoint
CREATE INDEX "user_sync_reconcile_seen_decided_idx" ON "user_sync_reconcile_seen" USING btree ("run_id","user_id") WHERE "user_sync_reconcile_seen"."state" <> 'walked';