-- Reconciliation asks for the streams changed since a moment (events.committed_at); without an index
-- that was a scan of the whole log every sweep, a periodic burst of work on the path of every event.
CREATE INDEX "events_committed_at_idx" ON "events"("committed_at");
