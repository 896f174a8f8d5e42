-- The relay asks, for every batch, for the oldest rows neither published nor dead-lettered, and for the
-- streams waiting out a backoff. Both questions went through (published_at, position), whose NULL end
-- also holds an entry for every row published since the last vacuum: each batch walked them, a cost
-- that grew with the write rate and with every minute autovacuum had not come yet (bench/micro/relay.ts,
-- one event per batch: 691 events/s with 500 rows in the outbox, 225/s with 5,000). These indexes hold
-- the pending rows only, and the backoff index only the rows that failed.
CREATE INDEX "outbox_pending_idx" ON "outbox"("position") WHERE "published_at" IS NULL AND "dead_lettered_at" IS NULL;
CREATE INDEX "outbox_backoff_idx" ON "outbox"("next_attempt_at") WHERE "published_at" IS NULL AND "dead_lettered_at" IS NULL AND "next_attempt_at" IS NOT NULL;
-- A queue table: vacuum it after a few thousand changes, not after a fifth of a table that only grows,
-- so that the entries of published rows are removed while they are few.
ALTER TABLE "outbox" SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 2000, autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 2000, autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 2000);
