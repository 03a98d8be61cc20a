CREATE TABLE "user_sync_clerk_fetches" (
	"user_id" text PRIMARY KEY NOT NULL,
	"fetched_at" timestamp with time zone NOT NULL
);
