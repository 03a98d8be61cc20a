CREATE TABLE "user_sync_clerk_budget" (
	"name" text PRIMARY KEY NOT NULL,
	"tat_ms" double precision NOT NULL,
	"reconcile_tat_ms" double precision NOT NULL,
	"paused_until_ms" double precision NOT NULL,
	"last_granted" boolean DEFAULT false NOT NULL,
	"last_wait_ms" double precision DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "user_sync_write_stats" (
	"bucket_start" timestamp with time zone NOT NULL,
	"source" text NOT NULL,
	"outcome" text NOT NULL,
	"clerk_fetched" boolean NOT NULL,
	"error_code" text DEFAULT '' NOT NULL,
	"count" bigint NOT NULL,
	"duration_ms_total" bigint NOT NULL,
	"duration_ms_max" integer NOT NULL,
	CONSTRAINT "user_sync_write_stats_pk" PRIMARY KEY("bucket_start","source","outcome","clerk_fetched","error_code")
);
