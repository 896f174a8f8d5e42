// A rebuild without the command's start-up: N events (orders of five) are written straight into
// `events`, then each projection is rebuilt into a fresh Redis namespace, timing the fold of the log
// (until the first pass reaches the head) apart from the fence, switch and cleanup that follow.
//   npx tsx bench/micro/rebuild.ts [--n 50000]
import { parseArgs } from 'node:util';
import pg from 'pg';
import pino from 'pino';
import { createEventStore } from '../../src/infrastructure/postgres/eventStore.js';
import { PrismaDeadLetters } from '../../src/infrastructure/postgres/deadLetters.js';
import { createPrismaClient } from '../../src/infrastructure/postgres/prisma.js';
import { PrismaStreamVersions } from '../../src/infrastructure/postgres/streamVersions.js';
import { RedisChangeFeed } from '../../src/infrastructure/redis/redisChangeFeed.js';
import { RedisReadStore } from '../../src/infrastructure/redis/redisReadStore.js';
import { rebuild } from '../../src/projectors/rebuild.js';
import { projections } from '../../src/projectors/role.js';
import { BenchEnv, local } from '../lib/env.js';

const { values } = parseArgs({ options: { n: { type: 'string', default: '50000' } } });
const n = Number(values.n);

const env = await BenchEnv.create();
const db = new pg.Client({ connectionString: env.databaseUrl });
await db.connect();
await db.query(
  `INSERT INTO events (event_id, stream_id, version, type, schema_version, data, metadata)
   SELECT gen_random_uuid(), 'order-' || (g / 5), g % 5 + 1,
     (ARRAY['OrderCreated', 'OrderItemAdded', 'OrderItemAdded', 'OrderConfirmed', 'OrderPaid'])[g % 5 + 1],
     CASE g % 5 WHEN 0 THEN 2 ELSE 1 END,
     CASE g % 5
       WHEN 0 THEN jsonb_build_object('orderId', 'order-' || (g / 5), 'userId', 'bench', 'currency', 'USD',
         'items', jsonb_build_array(jsonb_build_object('sku', 'BOOK-1', 'name', 'A book', 'quantity', 2, 'unitPriceCents', 1250)))
       WHEN 1 THEN jsonb_build_object('item', jsonb_build_object('sku', 'PEN-1', 'name', 'A pen', 'quantity', 1, 'unitPriceCents', 99))
       WHEN 2 THEN jsonb_build_object('item', jsonb_build_object('sku', 'MUG-1', 'name', 'A mug', 'quantity', 1, 'unitPriceCents', 800))
       WHEN 3 THEN '{}'::jsonb
       ELSE jsonb_build_object('paymentReference', 'PAY-' || g)
     END,
     jsonb_build_object('eventId', gen_random_uuid(), 'commandId', 'c', 'correlationId', 'c', 'causationId', 'c', 'userId', 'bench')
   FROM generate_series(0, $1::int - 1) AS g ORDER BY g`,
  [n],
);
await db.end();

const prisma = createPrismaClient({ url: env.databaseUrl });
const store = createEventStore({ url: env.databaseUrl });
const readStore = new RedisReadStore({ url: local.redis, prefix: env.redisPrefix });
const feed = new RedisChangeFeed({ url: local.redis, prefix: env.redisPrefix });
const deps = { store, readStore, feed, deadLetters: new PrismaDeadLetters(prisma), versions: new PrismaStreamVersions(prisma), log: pino({ level: 'silent' }) };
try {
  for (const projection of projections) {
    const cpu = process.cpuUsage();
    const start = performance.now();
    let folded = 0;
    await rebuild(deps, projection, {
      onProgress: (progress) => {
        if (progress.events >= n && !folded) folded = performance.now() - start;
      },
    });
    const used = process.cpuUsage(cpu);
    console.log(`${projection.name.padEnd(13)} ${n} events folded in ${(folded / 1000).toFixed(2)} s: ${((n * 1000) / folded).toFixed(0).padStart(6)} events/s  (${((used.user + used.system) / 1000 / n).toFixed(3)} ms CPU per event, switch included)`);
  }
} finally {
  await Promise.all([store.close(), readStore.close(), feed.close(), prisma.$disconnect()]);
  await env.cleanup();
}
process.exit(0);
