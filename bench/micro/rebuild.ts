// A rebuild without the command's start-up: N events are written straight into `events` of a private
// database, interleaved as traffic writes them (A orders open at once, their events mixed round-robin,
// each order's five events spread over 5*A positions), then each projection is rebuilt into a fresh Redis
// namespace, timing the fold of the log (until the first pass reaches the head) apart from the fence,
// switch and cleanup that follow. Nothing else reads that database or that Redis prefix meanwhile.
//   npx tsx bench/micro/rebuild.ts [--n 200000] [--active 10000] [--repeats 3] [--profile]
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
import { projections } from '../../src/readModels/index.js';
import { BenchEnv, local } from '../lib/env.js';
import { insertInterleavedEvents } from '../lib/events.js';

const { values } = parseArgs({ options: { n: { type: 'string', default: '200000' }, active: { type: 'string', default: '10000' }, repeats: { type: 'string', default: '3' } } });
const n = Number(values.n);
const active = Number(values.active);
const repeats = Number(values.repeats);

const env = await BenchEnv.create();
const db = new pg.Client({ connectionString: env.databaseUrl });
await db.connect();
const seeded = performance.now();
await insertInterleavedEvents(db, n, active);
await db.query('VACUUM ANALYZE events');
await db.end();
console.log(`${n} events of ${Math.ceil(n / 5)} orders, ${active} open at once, inserted in ${((performance.now() - seeded) / 1000).toFixed(1)} s`);

const prisma = createPrismaClient({ url: env.databaseUrl });
const store = createEventStore({ url: env.databaseUrl });
const readStore = new RedisReadStore({ url: local.redis, prefix: env.redisPrefix });
const feed = new RedisChangeFeed({ url: local.redis, prefix: env.redisPrefix });
const deps = { store, readStore, feed, deadLetters: new PrismaDeadLetters(prisma), versions: new PrismaStreamVersions(prisma), log: pino({ level: 'silent' }) };
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
try {
  for (const projection of projections) {
    const rates: number[] = [];
    let cpuPerEvent = 0;
    for (let r = 0; r < repeats; r++) {
      const cpu = process.cpuUsage();
      const start = performance.now();
      let folded = 0;
      await rebuild(deps, projection, {
        onProgress: (progress) => {
          if (progress.events >= n && !folded) folded = performance.now() - start;
        },
      });
      const used = process.cpuUsage(cpu);
      rates.push((n * 1000) / folded);
      cpuPerEvent = (used.user + used.system) / 1000 / n;
    }
    console.log(
      `${projection.name.padEnd(13)} ${n} events: median ${median(rates).toFixed(0).padStart(6)} events/s, runs ${rates.map((x) => x.toFixed(0)).join(' / ')}  (last run ${cpuPerEvent.toFixed(4)} ms CPU per event in this process, switch included)`,
    );
  }
} finally {
  await Promise.all([store.close(), readStore.close(), feed.close(), prisma.$disconnect()]);
  await env.cleanup();
}
process.exit(0);
