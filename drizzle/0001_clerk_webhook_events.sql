CREATE TABLE "clerk_webhook_events" (
	"svix_id" text PRIMARY KEY NOT NULL,
	"event_type" text,
	"clerk_user_id" text,
	"event_timestamp_ms" bigint,
	"outcome" text NOT NULL,
	"dead_letter_reason" text,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	"processed_at" timestamp with time zone
);
