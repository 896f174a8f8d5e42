// Replaying the event store into the read models. N events are written straight into `events` of a
// database of this scenario's own (nothing else reads or reconciles it while it is timed), interleaved
// as traffic writes them (bench/lib/events.ts: 10,000 orders open at once, their events mixed). Each read
// model is rebuilt in this process, 3 times (once at smoke size): the fold of the log (until the first
// pass has written every document) and the whole rebuild up to its switch (fence, catch-up and
// reconciliation included). Then the rebuild command as a user runs it (start-up included), and its two
// limits: reading the events from Postgres in position order, and writing one Redis hash per event.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';
import pino from 'pino';
import { PrismaDeadLetters } from '../../src/infrastructure/postgres/deadLetters.js';
import { createEventStore } from '../../src/infrastructure/postgres/eventStore.js';
import { createPrismaClient } from '../../src/infrastructure/postgres/prisma.js';
import { PrismaStreamVersions } from '../../src/infrastructure/postgres/streamVersions.js';
import { RedisChangeFeed } from '../../src/infrastructure/redis/redisChangeFeed.js';
import { RedisReadStore } from '../../src/infrastructure/redis/redisReadStore.js';
import { rebuild as rebuildProjection } from '../../src/projectors/rebuild.js';
import { projections } from '../../src/readModels/index.js';
import { BenchEnv, local } from '../lib/env.js';
import { insertInterleavedEvents } from '../lib/events.js';
import type { Figure, Row } from '../lib/results.js';
import type { Scenario } from './context.js';

const run = promisify(execFile);
// The rebuild command as a user runs it (start-up included); reported as 'pending' on a tree whose
// package.json does not have the script.
const rebuildCommand = { script: 'projections', args: ['rebuild', 'all'] };
const page = 1000;
const openOrders = 10_000;

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
      for (let i = first; i < Math.min(events, first + page); i++) pipeline.hset(`${prefix}:scratch:${Math.floor(i / 5)}`, 'version', (i % 5) + 1, 'eventAt', at, 'projectedAt', at, 'data', data);
      for (const [error] of (await pipeline.exec()) ?? []) if (error) throw error;
    }
  } finally {
    await redis.quit();
  }
}

/** Each read model rebuilt `repeats` times in this process: events/s of the fold, seconds to the switch. */
async function rebuildEach(env: BenchEnv, count: number, repeats: number): Promise<{ name: string; fold: number[]; toSwitch: number[] }[]> {
  const prisma = createPrismaClient({ url: env.databaseUrl });
  const store = createEventStore({ url: env.databaseUrl });
  const readStore = new RedisReadStore({ url: local.redis, prefix: env.redisPrefix });
  const feed = new RedisChangeFeed({ url: local.redis, prefix: env.redisPrefix });
  const deps = { store, readStore, feed, deadLetters: new PrismaDeadLetters(prisma), versions: new PrismaStreamVersions(prisma), log: pino({ level: 'silent' }) };
  try {
    const results = [];
    for (const projection of projections) {
      const fold: number[] = [];
      const toSwitch: number[] = [];
      for (let r = 0; r < repeats; r++) {
        const start = performance.now();
        let folded = 0;
        await rebuildProjection(deps, projection, {
          onProgress: (progress) => {
            if (progress.events >= count && !folded) folded = performance.now() - start;
          },
          onSwitched: () => toSwitch.push((performance.now() - start) / 1000),
        });
        fold.push((count * 1000) / folded);
      }
      results.push({ name: projection.name, fold, toSwitch });
    }
    return results;
  } finally {
    await Promise.all([store.close(), readStore.close(), feed.close(), prisma.$disconnect()]);
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export const rebuild: Scenario = async ({ profile, size }) => {
  // Its own database, stream and Redis prefix: the earlier scenarios' events and services stay out of it.
  const env = await BenchEnv.create();
  const db = new pg.Client({ connectionString: env.databaseUrl });
  await db.connect();
  try {
    const count = profile.rebuildEvents;
    const active = Math.min(openOrders, Math.max(1, Math.floor(count / 5)));
    const insertSeconds = await timed(async () => {
      await insertInterleavedEvents(db, count, active);
      await db.query('VACUUM ANALYZE events');
    });
    const repeats = size === 'smoke' ? 1 : 3;
    const each = await rebuildEach(env, count, repeats);
    const rebuilt = await timeRebuildCommand(env);
    const scanSeconds = await timed(async () => {
      if ((await scan(db)) !== count) throw new Error('the scan did not read every event');
    });
    const hsetSeconds = await timed(() => hsets(env.redisPrefix, count));
    const once = (system: string, seconds: Figure): Row => ({ system, level: String(count), values: seconds === 'pending' ? ['pending', 'pending', 'pending', 'pending'] : [count / seconds, count / seconds, count / seconds, seconds] });
    const rows: Row[] = [
      ...each.map(({ name, fold, toSwitch }) => ({ system: `rebuild ${name} (fold; seconds to the switch)`, level: String(count), values: [median(fold), Math.min(...fold), Math.max(...fold), median(toSwitch)] })),
      once(`rebuild command (npm run ${rebuildCommand.script} -- ${rebuildCommand.args.join(' ')}), all read models`, rebuilt.seconds),
      once(`Postgres scan (pages of ${page})`, scanSeconds),
      once(`Redis HSET (pipelines of ${page})`, hsetSeconds),
    ];
    const notes = [
      `${count} events of ${Math.ceil(count / 5)} orders, ${active} open at once (interleaved), inserted with generate_series in ${insertSeconds.toFixed(1)} s into a database of this scenario's own`,
      `each read model rebuilt ${repeats} time(s) in this process: events/s of the fold (median, min, max), then the median seconds from start to the switch`,
      ...rebuilt.printed.map((line) => `the rebuild command printed: ${line}`),
    ];
    if (rebuilt.seconds === 'pending') notes.push(`rebuild is pending: package.json has no "${rebuildCommand.script}" script yet`);
    return {
      name: 'rebuild',
      title: 'replay of the event store (interleaved orders)',
      levelName: 'events',
      columns: ['events/s', 'min events/s', 'max events/s', 'seconds'],
      chartColumn: 0,
      rows,
      notes,
    };
  } finally {
    await db.end();
    await env.cleanup();
  }
};
