CREATE TABLE "user_sync_reconcile_runs" (
	"id" text PRIMARY KEY NOT NULL,
	"mode" text NOT NULL,
	"dry_run" boolean NOT NULL,
	"status" text NOT NULL,
	"phase" text DEFAULT 'walk' NOT NULL,
	"walk_offset" integer DEFAULT 0 NOT NULL,
	"confirm_cursor" text,
	"stop_at_ms" bigint,
	"high_water_mark_ms" bigint NOT NULL,
	"clerk_total" integer,
	"walked" integer DEFAULT 0 NOT NULL,
	"missing" integer DEFAULT 0 NOT NULL,
	"stale" integer DEFAULT 0 NOT NULL,
	"deleted" integer DEFAULT 0 NOT NULL,
	"unchanged" integer DEFAULT 0 NOT NULL,
	"malformed" integer DEFAULT 0 NOT NULL,
	"clerk_requests" integer DEFAULT 0 NOT NULL,
	"changes" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"truncated" boolean DEFAULT false NOT NULL,
	"attempts" integer DEFAULT 1 NOT NULL,
	"error_code" text,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "user_sync_reconcile_seen" (
	"run_id" text NOT NULL,
	"user_id" text NOT NULL,
	CONSTRAINT "user_sync_reconcile_seen_run_id_user_id_pk" PRIMARY KEY("run_id","user_id")
);
--> statement-breakpoint
CREATE INDEX "user_sync_reconcile_runs_finished_idx" ON "user_sync_reconcile_runs" USING btree ("status","finished_at");