import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { Admission } from './commands/admission.js';
import { createCommandHandlers } from './commands/index.js';
import type { Config } from './config.js';
import { InProcessBus } from './infrastructure/embedded/inProcessBus.js';
import { MemoryChangeFeed } from './infrastructure/embedded/memoryChangeFeed.js';
import { MemoryDeadLetters } from './infrastructure/embedded/memoryDeadLetters.js';
import { MemoryReadStore } from './infrastructure/embedded/memoryReadStore.js';
import { JetStreamBus } from './infrastructure/nats/jetStreamBus.js';
import { startRelay } from './infrastructure/outboxRelay.js';
import { PrismaDeadLetters } from './infrastructure/postgres/deadLetters.js';
import { openEventStore } from './infrastructure/postgres/open.js';
import { createPrismaClient } from './infrastructure/postgres/prisma.js';
import { PrismaStreamVersions } from './infrastructure/postgres/streamVersions.js';
import { MemoryReceipts } from './infrastructure/receipts/memoryReceipts.js';
import { RedisReceipts } from './infrastructure/receipts/redisReceipts.js';
import { RedisChangeFeed } from './infrastructure/redis/redisChangeFeed.js';
import { RedisReadStore } from './infrastructure/redis/redisReadStore.js';
import { orderDetailsCollection } from './readModels/orderDetails/keys.js';
import { guarded } from './infrastructure/unavailable.js';
import { LoadShedder } from './loadShedding.js';
import type { EventStore } from './ports.js';
import { scanStreamVersions } from './infrastructure/embedded/scanStreamVersions.js';
import { startProjectorRole } from './projectors/role.js';
import { projections } from './readModels/index.js';
import { withCompleteness } from './queries/completeness.js';
import { VersionWaiter } from './queries/versionWaiter.js';
import type { Services } from './schema/context.js';
import { securityOptions } from './security/limits.js';
import { createRateLimiter } from './security/rateLimit.js';
import { createSubscriptionQuota } from './security/subscriptionQuota.js';
import { loadTrustedDocuments } from './security/trustedDocuments.js';
import { buildApp } from './server.js';
import { traced } from './telemetry/hooks.js';

export interface RunningService {
  url: string;
  stop(): Promise<void>;
}

/** What is stopped, in reverse order, when the service stops or fails to start; and what /readyz asks. */
interface Lifecycle {
  onStop(stop: () => Promise<void>): void;
  readiness: Record<string, () => Promise<void>>;
}

/**
 * The composition root: starts the roles asked for, each opening the ports it needs on first use (a
 * real server when its URL is set, the embedded twin otherwise), then serves. Stops in reverse order.
 */
export async function startService(config: Config, log: Logger): Promise<RunningService> {
  const roles = config.ROLE;
  const stops: (() => Promise<void>)[] = [];
  const lifecycle: Lifecycle = { onStop: (stop) => void stops.push(stop), readiness: {} };
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch((error) => log.error({ err: error }, 'error while stopping'));
  };

  try {
    const ports = portsOf(config, log, lifecycle);
    const services: Services = {
      commands: null,
      reads: null,
      receipts: null,
      log,
      subscriptions: await subscriptionLimits(config, log, lifecycle),
    };
    let admission: Admission | undefined;

    if (roles.includes('relay')) await startRelayRole(config, log, ports, lifecycle);
    if (roles.includes('projector')) await startProjectorRoleOf(config, log, ports, lifecycle);
    if (roles.includes('command')) {
      admission = new Admission({ maxInFlight: config.COMMAND_MAX_IN_FLIGHT, maxQueued: config.COMMAND_MAX_QUEUE, queueTimeoutMs: config.COMMAND_QUEUE_TIMEOUT_MS, queueTargetMs: config.COMMAND_QUEUE_TARGET_MS, latencyTolerance: config.COMMAND_LATENCY_TOLERANCE });
      const store = guarded(await ports.store(), 'postgres');
      services.commands = createCommandHandlers({ store, admission, maxRetries: config.COMMAND_MAX_RETRIES, snapshotEvery: config.SNAPSHOT_EVERY, log: log.child({ role: 'command' }) });
      services.receipts = await ports.receipts();
    }
    if (roles.includes('query')) services.reads = await queryServices(config, log, ports, lifecycle);

    const url = await serve(config, log, services, lifecycle, admission);
    log.info({ url: `${url}/graphql`, roles, embedded: { postgres: !config.DATABASE_URL, nats: !config.NATS_URL, redis: !config.redis } }, 'service started');
    return { url, stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

type Ports = ReturnType<typeof portsOf>;

/** Each port opened once, on first need, with its stop and its readiness check registered. */
function portsOf(config: Config, log: Logger, lifecycle: Lifecycle) {
  const once = <T>(open: () => Promise<T>): (() => Promise<T>) => {
    let opened: Promise<T> | undefined;
    return () => (opened ??= open());
  };
  const roles = config.ROLE;
  return {
    store: once(async () => {
      const store = traced.store(await openStore(config, log, { migrate: roles.includes('command') || !config.DATABASE_URL }));
      lifecycle.onStop(() => store.close());
      lifecycle.readiness.postgres = () => store.ping();
      return store;
    }),
    bus: once(async () => {
      const bus = traced.bus(
        config.NATS_URL
          ? await JetStreamBus.connect({
              url: config.NATS_URL,
              stream: config.NATS_STREAM,
              subjectPrefix: config.NATS_SUBJECT_PREFIX,
              replicas: config.NATS_REPLICAS,
              ackWaitMs: config.NATS_ACK_WAIT_MS,
              maxDeliver: config.NATS_MAX_DELIVER,
              duplicateWindowMs: config.NATS_DUPLICATE_WINDOW_MS,
              name: `cqrs-orders ${roles.join(',')}`,
            })
          : new InProcessBus({ ackWaitMs: config.NATS_ACK_WAIT_MS, maxDeliver: config.NATS_MAX_DELIVER }),
      );
      lifecycle.onStop(() => bus.close());
      lifecycle.readiness.nats = () => bus.ping();
      return bus;
    }),
    reads: once(async () => {
      const readStore = config.redis
        ? new RedisReadStore({
            url: config.redis,
            prefix: config.REDIS_PREFIX,
            nearCacheEntries: config.READ_CACHE_ENTRIES,
            onError: (error) => log.warn({ err: error }, 'near cache: Redis tracking not set up; reads go to Redis'),
          })
        : new MemoryReadStore();
      const feed = traced.feed(config.redis ? new RedisChangeFeed({ url: config.redis, prefix: config.REDIS_PREFIX }) : new MemoryChangeFeed());
      lifecycle.onStop(() => readStore.close());
      lifecycle.onStop(() => feed.close());
      lifecycle.readiness.redis = () => readStore.ping();
      return { readStore, feed };
    }),
    // Aggregate reads (backlog, recently changed streams) and dead letters on Postgres, through a Prisma
    // client of their own; embedded (null), a scan of the log and memory.
    prisma: once(async () => {
      if (!config.DATABASE_URL) return null;
      const prisma = createPrismaClient({ url: config.DATABASE_URL });
      lifecycle.onStop(() => prisma.$disconnect());
      return prisma;
    }),
    // Written by the command role and the projector, read by the query role. Not a readiness dependency:
    // a receipt store that is down costs receipts, never commands.
    receipts: once(async () => {
      const receipts = config.redis ? new RedisReceipts({ url: config.redis, prefix: config.REDIS_PREFIX }) : new MemoryReceipts();
      lifecycle.onStop(() => receipts.close());
      return receipts;
    }),
  };
}

async function openStore(config: Config, log: Logger, { migrate }: { migrate: boolean }): Promise<EventStore> {
  if (config.DATABASE_URL) return openEventStore({ url: config.DATABASE_URL }, { migrate, log });
  await mkdir(config.DATA_DIR, { recursive: true });
  return openEventStore({ dataDir: path.join(config.DATA_DIR, 'pglite') }, { migrate, log });
}

async function startRelayRole(config: Config, log: Logger, ports: Ports, lifecycle: Lifecycle): Promise<void> {
  const prisma = await ports.prisma();
  const versions = prisma && new PrismaStreamVersions(prisma);
  const relay = await startRelay({
    store: await ports.store(),
    bus: await ports.bus(),
    log: log.child({ role: 'relay' }),
    pollMs: config.OUTBOX_POLL_MS,
    batch: config.OUTBOX_BATCH,
    maxAttempts: config.OUTBOX_MAX_ATTEMPTS,
    stallMs: config.OUTBOX_STALL_MS,
    backlog: versions ? () => versions.outboxBacklog() : undefined,
    oldestPendingMs: versions ? () => versions.oldestPendingMs() : undefined,
  });
  lifecycle.onStop(() => relay.stop());
  if (versions) lifecycle.readiness.outbox = () => relay.ready();
}

async function startProjectorRoleOf(config: Config, log: Logger, ports: Ports, lifecycle: Lifecycle): Promise<void> {
  // One after another, so they stop in the reverse of a fixed order.
  const bus = await ports.bus();
  const store = await ports.store();
  const { readStore, feed } = await ports.reads();
  const prisma = await ports.prisma();
  const receipts = await ports.receipts();
  const projector = await startProjectorRole(
    {
      bus,
      store,
      readStore,
      feed,
      deadLetters: prisma ? new PrismaDeadLetters(prisma) : new MemoryDeadLetters(),
      versions: prisma ? new PrismaStreamVersions(prisma) : scanStreamVersions(store),
      log: log.child({ role: 'projector' }),
      concurrency: config.PROJECTOR_CONCURRENCY,
      maxDeliver: config.NATS_MAX_DELIVER,
      receipts,
    },
    { reconcileEveryMs: config.RECONCILE_INTERVAL_MS, reconcileWindowMs: config.RECONCILE_WINDOW_MS },
  );
  lifecycle.onStop(() => projector.stop());
}

async function queryServices(config: Config, log: Logger, ports: Ports, lifecycle: Lifecycle): Promise<NonNullable<Services['reads']>> {
  const { readStore, feed } = await ports.reads();
  const receipts = await ports.receipts();
  // Subscriptions replay versions the read store no longer holds from the event store. An instance with
  // a writing role shares its store; a query-only one opens it on first need, read only, so it starts
  // and serves reads without Postgres.
  const writes = config.ROLE.some((role) => role === 'command' || role === 'relay' || role === 'projector');
  let readOnly: Promise<EventStore> | undefined;
  const events = writes
    ? ports.store
    : () =>
        (readOnly ??= openStore(config, log, { migrate: false }).then((store) => {
          lifecycle.onStop(() => store.close());
          return store;
        }));
  // Tracking starts with the role, not at the first read (which would otherwise ask for it): its cost is
  // there from the start. Not awaited: a Redis away at start delays nothing.
  if (readStore instanceof RedisReadStore) void readStore.trackReads(orderDetailsCollection).catch(() => {});
  const waiter = new VersionWaiter(feed);
  await waiter.start((error) => log.warn({ err: error }, 'change feed unreachable; retrying'));
  lifecycle.onStop(() => waiter.stop());
  return {
    readStore: guarded(withCompleteness(readStore, projections), 'redis'),
    feed,
    waiter,
    history: async (id, from, limit) => (await events()).readStream(id, from, limit),
    events,
    receipts,
  };
}

/** MAX_SUBSCRIPTIONS_PER_CALLER on its own Redis connection when Redis is configured, so the cap holds across replicas. */
async function subscriptionLimits(config: Config, log: Logger, lifecycle: Lifecycle): Promise<Services['subscriptions']> {
  const quota = createSubscriptionQuota({ redisUrl: config.ROLE.includes('query') ? config.redis : undefined, redisPrefix: config.REDIS_PREFIX, max: config.MAX_SUBSCRIPTIONS_PER_CALLER }, log);
  lifecycle.onStop(() => quota.close());
  return { quota, max: config.MAX_SUBSCRIPTIONS_PER_CALLER, stallMs: config.SUBSCRIPTION_STALL_MS };
}

/** HTTP and WebSocket with the limits, the rate limiter (shared across replicas on Redis) and the load shedder. */
async function serve(config: Config, log: Logger, services: Services, lifecycle: Lifecycle, admission: Admission | undefined): Promise<string> {
  const rateLimiter = createRateLimiter({ redisUrl: config.redis, redisPrefix: config.REDIS_PREFIX, perMinute: config.RATE_LIMIT_PER_MINUTE }, log);
  lifecycle.onStop(() => rateLimiter.close());
  const trustedDocuments = config.TRUSTED_DOCUMENTS ? await loadTrustedDocuments(config.TRUSTED_DOCUMENTS) : undefined;
  const tokens = { secret: config.jwtSecret, issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE };
  const loadShedder = new LoadShedder(config.SHED_EVENT_LOOP_LAG_MS, undefined, admission);
  lifecycle.onStop(async () => loadShedder.stop());
  const app = buildApp({ host: config.HOST, port: config.PORT, tokens, services, log, readiness: lifecycle.readiness, security: securityOptions(config), rateLimiter, trustedDocuments, loadShedder });
  const url = await app.start();
  lifecycle.onStop(() => app.stop());
  return url;
}
