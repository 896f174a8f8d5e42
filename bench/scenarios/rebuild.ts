// Replaying the event store into the read model. N events are written straight into `events`, then the
// rebuild command is timed beside its two limits: reading the events from Postgres in position order,
// and writing one Redis hash per event in pipelines.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';
import { local, type BenchEnv } from '../lib/env.js';
import type { Figure, Row } from '../lib/results.js';
import type { Scenario } from './context.js';

const run = promisify(execFile);
// The rebuild command as a user runs it (start-up included); reported as 'pending' on a tree whose
// package.json does not have the script.
const rebuildCommand = { script: 'projections', args: ['rebuild', 'all'] };
const page = 1000;
const eventsPerOrder = 5;
const batch = 100_000;

/** One order's life in five events (created, two items added, confirmed, paid), as the domain writes them. */
const insertEvents = `
  INSERT INTO events (event_id, stream_id, version, type, schema_version, data, metadata)
  SELECT id, stream, version,
    (ARRAY['OrderCreated', 'OrderItemAdded', 'OrderItemAdded', 'OrderConfirmed', 'OrderPaid'])[version],
    CASE version WHEN 1 THEN 2 ELSE 1 END,
    CASE version
      WHEN 1 THEN jsonb_build_object('orderId', stream, 'userId', 'bench-rebuild', 'currency', 'USD',
        'items', jsonb_build_array(jsonb_build_object('sku', 'BOOK-1', 'name', 'A book', 'quantity', 2, 'unitPriceCents', 1250)))
      WHEN 2 THEN jsonb_build_object('item', jsonb_build_object('sku', 'PEN-1', 'name', 'A pen', 'quantity', 1, 'unitPriceCents', 99))
      WHEN 3 THEN jsonb_build_object('item', jsonb_build_object('sku', 'MUG-1', 'name', 'A mug', 'quantity', 1, 'unitPriceCents', 800))
      WHEN 4 THEN '{}'::jsonb
      ELSE jsonb_build_object('paymentReference', 'PAY-' || stream)
    END,
    jsonb_build_object('eventId', id, 'commandId', id, 'correlationId', id, 'causationId', id, 'userId', 'bench-rebuild')
  FROM (
    SELECT gen_random_uuid() AS id, g,
      '00000000-0000-4000-8000-' || lpad(to_hex(g / ${eventsPerOrder}), 12, '0') AS stream,
      (g % ${eventsPerOrder} + 1)::int AS version
    FROM generate_series($1::bigint, $2::bigint) AS g
  ) AS generated
  ORDER BY g`;

async function timed(work: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await work();
  return (performance.now() - start) / 1000;
}

/** Seconds the whole command took as a user runs it, and what it printed; 'pending' while it does not exist. */
async function timeRebuildCommand(env: BenchEnv): Promise<{ seconds: Figure; printed: string[] }> {
  const { scripts } = JSON.parse(await readFile('package.json', 'utf8')) as { scripts?: Record<string, string> };
  if (!scripts?.[rebuildCommand.script]) return { seconds: 'pending', printed: [] };
  let stdout = '';
  const seconds = await timed(async () => {
    ({ stdout } = await run('npm', ['run', '--silent', rebuildCommand.script, '--', ...rebuildCommand.args], { env: { ...process.env, ...env.serviceEnv }, maxBuffer: 64 << 20 }));
  });
  return { seconds, printed: stdout.trim().split('\n').filter(Boolean) };
}

async function scan(db: pg.Client): Promise<number> {
  let after = '0';
  let read = 0;
  for (;;) {
    const { rows } = await db.query<{ position: string }>(
      'SELECT position, event_id, stream_id, version, type, schema_version, data, metadata, committed_at FROM events WHERE position > $1 ORDER BY position LIMIT $2',
      [after, page],
    );
    if (rows.length === 0) return read;
    read += rows.length;
    after = rows.at(-1)!.position;
  }
}

/** One HSET per event, shaped like a projected order document, under this run's prefix. */
async function hsets(prefix: string, events: number): Promise<void> {
  const redis = new Redis(local.redis);
  const at = new Date().toISOString();
  const data = JSON.stringify({ id: 'x'.repeat(36), userId: 'bench-rebuild', status: 'PAID', currency: 'USD', items: [{ sku: 'BOOK-1', name: 'A book', quantity: 2, unitPriceCents: 1250, lineTotalCents: 2500 }], totalCents: 2500, createdAt: at, updatedAt: at });
  try {
    for (let first = 0; first < events; first += page) {
      const pipeline = redis.pipeline();
      for (let i = first; i < Math.min(events, first + page); i++)
        pipeline.hset(`${prefix}:scratch:${Math.floor(i / eventsPerOrder)}`, 'version', (i % eventsPerOrder) + 1, 'eventAt', at, 'projectedAt', at, 'data', data);
      for (const [error] of (await pipeline.exec()) ?? []) if (error) throw error;
    }
  } finally {
    await redis.quit();
  }
}

export const rebuild: Scenario = async ({ env, profile }) => {
  const db = new pg.Client({ connectionString: env.databaseUrl });
  await db.connect();
  try {
    const count = profile.rebuildEvents;
    const insertSeconds = await timed(async () => {
      for (let first = 0; first < count; first += batch) await db.query(insertEvents, [first, Math.min(count, first + batch) - 1]);
    });
    // Earlier scenarios' events are in the table too, and every figure below covers all of them.
    const total = Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM events')).rows[0]!.n);
    const rebuilt = await timeRebuildCommand(env);
    const scanSeconds = await timed(async () => {
      if ((await scan(db)) !== total) throw new Error('the scan did not read every event');
    });
    const hsetSeconds = await timed(() => hsets(env.redisPrefix, total));
    const row = (system: string, seconds: Figure): Row => ({ system, level: String(total), values: seconds === 'pending' ? ['pending', 'pending'] : [total / seconds, seconds] });
    const notes = [`${count} events inserted with generate_series in ${insertSeconds.toFixed(1)} s`, ...rebuilt.printed.map((line) => `the rebuild printed: ${line}`)];
    if (rebuilt.seconds === 'pending') notes.push(`rebuild is pending: package.json has no "${rebuildCommand.script}" script yet`);
    return {
      name: 'rebuild',
      title: 'replay of the event store',
      levelName: 'events',
      columns: ['events/s', 'seconds'],
      chartColumn: 0,
      rows: [
        row(`rebuild (npm run ${rebuildCommand.script} -- ${rebuildCommand.args.join(' ')})`, rebuilt.seconds),
        row(`Postgres scan (pages of ${page})`, scanSeconds),
        row(`Redis HSET (pipelines of ${page})`, hsetSeconds),
      ],
      notes,
    };
  } finally {
    await db.end();
  }
};
