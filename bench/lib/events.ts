import type pg from 'pg';

/**
 * Writes `count` events straight into `events`, in orders of five (created, two items added, confirmed,
 * paid) as the domain writes them, interleaved as real traffic writes them: `active` orders are open at
 * once and their events are mixed round-robin, so an order's five events sit 5*active positions apart
 * at most and a page of the log holds events of thousands of orders. Inserted in batches of 100,000.
 */
export async function insertInterleavedEvents(db: pg.Client, count: number, active: number, userId = 'bench-rebuild'): Promise<void> {
  const cohort = 5 * active;
  for (let first = 0; first < count; first += 100_000) {
    await db.query(
      `INSERT INTO events (event_id, stream_id, version, type, schema_version, data, metadata)
       SELECT id, stream, version,
         (ARRAY['OrderCreated', 'OrderItemAdded', 'OrderItemAdded', 'OrderConfirmed', 'OrderPaid'])[version],
         CASE version WHEN 1 THEN 2 ELSE 1 END,
         CASE version
           WHEN 1 THEN jsonb_build_object('orderId', stream, 'userId', $4::text, 'currency', 'USD',
             'items', jsonb_build_array(jsonb_build_object('sku', 'BOOK-1', 'name', 'A book', 'quantity', 2, 'unitPriceCents', 1250)))
           WHEN 2 THEN jsonb_build_object('item', jsonb_build_object('sku', 'PEN-1', 'name', 'A pen', 'quantity', 1, 'unitPriceCents', 99))
           WHEN 3 THEN jsonb_build_object('item', jsonb_build_object('sku', 'MUG-1', 'name', 'A mug', 'quantity', 1, 'unitPriceCents', 800))
           WHEN 4 THEN '{}'::jsonb
           ELSE jsonb_build_object('paymentReference', 'PAY-' || stream)
         END,
         jsonb_build_object('eventId', id, 'commandId', id, 'correlationId', id, 'causationId', id, 'userId', $4::text)
       FROM (
         SELECT gen_random_uuid() AS id, g,
           '00000000-0000-4000-8000-' || lpad(to_hex((g / $3::bigint) * ($3::bigint / 5) + (g % $3::bigint) % ($3::bigint / 5)), 12, '0') AS stream,
           ((g % $3::bigint) / ($3::bigint / 5) + 1)::int AS version
         FROM generate_series($1::bigint, $2::bigint) AS g
       ) AS generated
       ORDER BY g`,
      [first, Math.min(count, first + 100_000) - 1, cohort, userId],
    );
  }
}
