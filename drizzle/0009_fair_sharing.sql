CREATE TABLE "user_sync_clerk_cache" (
	"key" text PRIMARY KEY NOT NULL,
	"value" jsonb,
	"read_at" timestamp with time zone,
	"claimed_until" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "user_sync_clerk_user_limits" (
	"user_id" text PRIMARY KEY NOT NULL,
	"granted_at_ms" double precision[] DEFAULT '{}'::float8[] NOT NULL,
	"paused_until_ms" double precision DEFAULT 0 NOT NULL,
	"last_granted" boolean DEFAULT false NOT NULL,
	"last_wait_ms" double precision DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "user_sync_config_problems" (
	"code" text PRIMARY KEY NOT NULL,
	"message" text NOT NULL,
	"first_seen_at" timestamp with time zone NOT NULL,
	"last_seen_at" timestamp with time zone NOT NULL
);
