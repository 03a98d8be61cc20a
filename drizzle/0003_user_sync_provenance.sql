ALTER TABLE "users" ADD COLUMN "last_sync_outcome" text;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "clerk_fetched_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "deleted_by" text;--> statement-breakpoint
-- Backfill: a tombstone is final when Clerk's own user.deleted was applied for it; any other
-- came from a Backend API 404 in user.sync and may be restored by a later, newer fetch.
UPDATE "users" SET "deleted_by" = CASE
	WHEN EXISTS (
		SELECT 1 FROM "clerk_webhook_events" AS "e"
		WHERE "e"."clerk_user_id" = "users"."id" AND "e"."event_type" = 'user.deleted' AND "e"."outcome" = 'deleted'
	) THEN 'webhook'
	ELSE 'client-sync'
END
WHERE "deleted_at" IS NOT NULL;
