// Operate the read models against the configured Postgres and Redis:
//   npm run projections -- status | rebuild <name|all> | dead-letters [--all] | retry <id|all> | reconcile
import { type Config, loadConfigOrExit } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { createEventStore } from '../src/infrastructure/postgres/eventStore.js';
import { PrismaDeadLetters } from '../src/infrastructure/postgres/deadLetters.js';
import { createPrismaClient } from '../src/infrastructure/postgres/prisma.js';
import { PrismaStreamVersions } from '../src/infrastructure/postgres/streamVersions.js';
import { RedisChangeFeed } from '../src/infrastructure/redis/redisChangeFeed.js';
import { RedisReadStore } from '../src/infrastructure/redis/redisReadStore.js';
import { rebuild, rebuildLease, type RebuildProgress } from '../src/projectors/rebuild.js';
import type { Projection } from '../src/projectors/projection.js';
import { reconcile } from '../src/projectors/reconcile.js';
import { retryDeadLetters } from '../src/projectors/retry.js';
import { projections } from '../src/projectors/role.js';
import { projectionStatus, sampleHead } from '../src/projectors/status.js';

const usage = 'usage: npm run projections -- status | rebuild <name|all> | dead-letters [--all] | retry <id|all> | reconcile';
const [command, arg] = process.argv.slice(2);

const config: Config = loadConfigOrExit();
if (!config.DATABASE_URL || !config.redis) {
  console.error('DATABASE_URL and REDIS_URL (or REDIS_CLUSTER_URLS) must be set: the embedded read store lives inside the service process');
  process.exit(2);
}

const log = createLogger(config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL);
const prisma = createPrismaClient({ url: config.DATABASE_URL });
const store = createEventStore({ url: config.DATABASE_URL });
const readStore = new RedisReadStore({ url: config.redis, prefix: config.REDIS_PREFIX });
const feed = new RedisChangeFeed({ url: config.redis, prefix: config.REDIS_PREFIX });
const deadLetters = new PrismaDeadLetters(prisma);
const versions = new PrismaStreamVersions(prisma);
const deps = { store, readStore, feed, deadLetters, versions, log, requeueOutbox: (position: bigint) => store.requeueOutbox(position) };

function table(rows: Record<string, unknown>[]): string {
  if (rows.length === 0) return '(none)';
  const columns = Object.keys(rows[0]!);
  const cells = rows.map((row) => columns.map((column) => String(row[column] ?? '')));
  const widths = columns.map((column, i) => Math.max(column.length, ...cells.map((line) => line[i]!.length)));
  const line = (values: string[]) => values.map((value, i) => value.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(columns), line(widths.map((width) => '-'.repeat(width))), ...cells.map(line)].join('\n');
}

function progressBar(progress: RebuildProgress): void {
  const seconds = (Date.now() - progress.startedAt) / 1000;
  const rate = progress.events / Math.max(seconds, 0.001);
  const total = Number(progress.head) || 1;
  const done = Math.min(Number(progress.position) / total, 1);
  const eta = rate > 0 ? Math.max(0, (total - Number(progress.position)) / rate) : 0;
  const bar = '#'.repeat(Math.round(done * 30)).padEnd(30, '.');
  process.stderr.write(`\r${progress.projection} [${bar}] ${(done * 100).toFixed(1)}% ${progress.events} events ${Math.round(rate)}/s ETA ${eta.toFixed(0)}s   `);
}

/**
 * A projector rebuilds a read model by itself when it finds it incomplete (a first start, Redis lost its
 * data); one rebuild of a read model runs at a time. An operator's rebuild then waits for it, saying so,
 * rather than failing: what they asked for is a read model refolded from the store, and theirs still runs.
 */
async function waitForRunningRebuild(projection: Projection<unknown>, timeoutMs = 10 * 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let said = false;
  while (await readStore.leaseHolder(rebuildLease(projection))) {
    if (Date.now() > deadline) throw new Error(`a rebuild of ${projection.name} has been running for over ${timeoutMs / 60_000} minutes; try again later`);
    if (!said) console.error(`${projection.name}: another rebuild is running (a projector's, or another operator's); waiting for it to finish`);
    said = true;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

async function run(): Promise<number> {
  switch (command) {
    case 'status': {
      await sampleHead(store, readStore);
      const rows = await projectionStatus(readStore, projections);
      console.log(table(rows.map((s) => ({ name: s.name, state: s.state, position: s.position, head: s.headPosition, 'lag events': s.lagEvents, 'lag ms': Math.round(s.lagMs), 'dead letters': s.deadLetters }))));
      return 0;
    }
    case 'rebuild': {
      const chosen = arg === 'all' ? projections : projections.filter((projection) => projection.name === arg);
      if (chosen.length === 0) throw new Error(`rebuild what? ${projections.map((p) => p.name).join(', ')} or all`);
      for (const projection of chosen) {
        await waitForRunningRebuild(projection);
        const { events, namespace, ms } = await rebuild(deps, projection, { onProgress: progressBar });
        process.stderr.write('\n');
        console.log(`${projection.name}: ${events} events in ${(ms / 1000).toFixed(1)} s (${Math.round(events / Math.max(ms / 1000, 0.001))}/s), now in namespace ${namespace}`);
      }
      return 0;
    }
    case 'dead-letters': {
      const letters = await deadLetters.list({ unresolvedOnly: arg !== '--all' });
      console.log(table(letters.map((l) => ({ id: l.id, consumer: l.consumer, kind: l.kind, order: l.streamId, version: l.version, position: l.position, deliveries: l.deliveries, failed: l.failedAt.toISOString(), resolved: l.resolvedAt?.toISOString() ?? '', reason: l.reason }))));
      return 0;
    }
    case 'retry': {
      if (!arg || (arg !== 'all' && !/^\d+$/.test(arg))) throw new Error('retry <id|all>');
      const outcomes = await retryDeadLetters(deps, projections, arg === 'all' ? 'all' : [BigInt(arg)]);
      console.log(table(outcomes.map(({ letter, outcome, reason }) => ({ id: letter.id, consumer: letter.consumer, order: letter.streamId, version: letter.version, outcome, reason: reason ?? '' }))));
      return outcomes.some((o) => o.outcome === 'failed') ? 1 : 0;
    }
    case 'reconcile': {
      console.log(await reconcile(deps, projections, config.RECONCILE_WINDOW_MS));
      return 0;
    }
    default:
      console.error(usage);
      return 2;
  }
}

let code = 1;
try {
  code = await run();
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
} finally {
  await Promise.allSettled([store.close(), prisma.$disconnect(), readStore.close(), feed.close()]);
}
process.exit(code);
