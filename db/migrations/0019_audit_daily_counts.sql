CREATE TABLE "audit_daily_counts" (
	"day" date NOT NULL,
	"scope" text NOT NULL,
	"action" text NOT NULL,
	"actor" text NOT NULL,
	"events" integer NOT NULL,
	CONSTRAINT "audit_daily_counts_pk" PRIMARY KEY("scope","action","actor","day")
);
