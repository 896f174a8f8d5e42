-- The limit for a write path on this Postgres: one single-row INSERT per transaction, committed (and
-- so flushed to the WAL) on its own, with no application in between.
INSERT INTO pgbench_scratch (payload) VALUES ('{"sku": "BOOK-1", "name": "A book", "quantity": 2, "unitPriceCents": 1250}');
