-- An outbox row the relay failed to publish waits until next_attempt_at (exponential backoff) without
-- holding back other streams; after OUTBOX_MAX_ATTEMPTS failures with the bus up it is dead-lettered
-- (dead_lettered_at, plus a row in dead_letters) and never published again by the relay.
ALTER TABLE "outbox" ADD COLUMN "next_attempt_at" TIMESTAMPTZ(3),
ADD COLUMN "dead_lettered_at" TIMESTAMPTZ(3);
