import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { Admission } from './commands/admission.js';
import { createCommandHandlers } from './commands/index.js';
import type { Config, Role } from './config.js';
import { InProcessBus } from './infrastructure/embedded/inProcessBus.js';
import { MemoryChangeFeed } from './infrastructure/embedded/memoryChangeFeed.js';
import { MemoryReadStore } from './infrastructure/embedded/memoryReadStore.js';
import { JetStreamBus } from './infrastructure/nats/jetStreamBus.js';
import { startRelay } from './infrastructure/outboxRelay.js';
import { openEventStore } from './infrastructure/postgres/open.js';
import { RedisChangeFeed } from './infrastructure/redis/redisChangeFeed.js';
import { RedisReadStore } from './infrastructure/redis/redisReadStore.js';
import { MemoryReceipts } from './infrastructure/receipts/memoryReceipts.js';
import { RedisReceipts } from './infrastructure/receipts/redisReceipts.js';
import type { ChangeFeed, EventBus, EventStore, ReadStore } from './ports.js';
import { MemoryDeadLetters } from './infrastructure/embedded/memoryDeadLetters.js';
import { PrismaDeadLetters } from './infrastructure/postgres/deadLetters.js';
import { createPrismaClient } from './infrastructure/postgres/prisma.js';
import { PrismaStreamVersions } from './infrastructure/postgres/streamVersions.js';
import { scanStreamVersions } from './infrastructure/embedded/scanStreamVersions.js';
import { startProjectorRole } from './projectors/role.js';
import { projections } from './readModels/index.js';
import { withCompleteness } from './queries/completeness.js';
import { guarded } from './infrastructure/unavailable.js';
import { VersionWaiter } from './queries/versionWaiter.js';
import type { Services } from './schema/context.js';
import { securityOptions } from './security/limits.js';
import { createRateLimiter } from './security/rateLimit.js';
import { createSubscriptionQuota } from './security/subscriptionQuota.js';
import { loadTrustedDocuments } from './security/trustedDocuments.js';
import { buildApp } from './server.js';
import { traced } from './telemetry/hooks.js';
import { LoadShedder } from './loadShedding.js';

export interface RunningService {
  url: string;
  stop(): Promise<void>;
}

const needs = (roles: Role[]) => ({
  // The projector reads the event store to repair gaps.
  store: roles.some((role) => role === 'command' || role === 'relay' || role === 'projector'),
  bus: roles.some((role) => role === 'relay' || role === 'projector'),
  reads: roles.some((role) => role === 'query' || role === 'projector'),
});

/**
 * The composition root: builds each port from the configuration (a real server when its URL is set,
 * the embedded twin otherwise), then starts the roles asked for. Stops in reverse order.
 */
export async function startService(config: Config, log: Logger): Promise<RunningService> {
  const roles = config.ROLE;
  const need = needs(roles);
  const stops: (() => Promise<void>)[] = [];
  const readiness: Record<string, () => Promise<void>> = {};
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch((error) => log.error({ err: error }, 'error while stopping'));
  };

  try {
    let store: EventStore | null = null;
    if (need.store) {
      if (!config.DATABASE_URL) await mkdir(config.DATA_DIR, { recursive: true });
      store = traced.store(await openEventStore(
        config.DATABASE_URL ? { url: config.DATABASE_URL } : { dataDir: path.join(config.DATA_DIR, 'pglite') },
        { migrate: roles.includes('command') || !config.DATABASE_URL, log },
      ));
      stops.push(() => store!.close());
      readiness.postgres = () => store!.ping();
    }

    let bus: EventBus | null = null;
    if (need.bus) {
      bus = traced.bus(config.NATS_URL
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
        : new InProcessBus({ ackWaitMs: config.NATS_ACK_WAIT_MS, maxDeliver: config.NATS_MAX_DELIVER }));
      stops.push(() => bus!.close());
      readiness.nats = () => bus!.ping();
    }

    let readStore: ReadStore | null = null;
    let feed: ChangeFeed | null = null;
    if (need.reads) {
      readStore = config.redis ? new RedisReadStore({ url: config.redis, prefix: config.REDIS_PREFIX }) : new MemoryReadStore();
      feed = traced.feed(config.redis ? new RedisChangeFeed({ url: config.redis, prefix: config.REDIS_PREFIX }) : new MemoryChangeFeed());
      stops.push(() => readStore!.close(), () => feed!.close());
      readiness.redis = () => readStore!.ping();
    }

    // Aggregate reads (backlog, recently changed streams) and dead letters: Postgres through a Prisma
    // client of their own; embedded, a scan of the log and memory.
    const prisma = config.DATABASE_URL && (roles.includes('relay') || roles.includes('projector')) ? createPrismaClient({ url: config.DATABASE_URL }) : null;
    if (prisma) stops.push(() => prisma.$disconnect());
    const streamVersions = prisma ? new PrismaStreamVersions(prisma) : null;
    // Command receipts: written by the command role and the projector, read by the query role. Not a
    // readiness dependency: a receipt store that is down costs receipts, never commands.
    const receipts = config.redis ? new RedisReceipts({ url: config.redis, prefix: config.REDIS_PREFIX }) : new MemoryReceipts();
    stops.push(() => receipts.close());
    if (roles.includes('relay')) {
      const backlog = streamVersions ? () => streamVersions.outboxBacklog() : undefined;
      const oldestPendingMs = streamVersions ? () => streamVersions.oldestPendingMs() : undefined;
      const relay = await startRelay({
        store: store!,
        bus: bus!,
        log: log.child({ role: 'relay' }),
        pollMs: config.OUTBOX_POLL_MS,
        batch: config.OUTBOX_BATCH,
        maxAttempts: config.OUTBOX_MAX_ATTEMPTS,
        stallMs: config.OUTBOX_STALL_MS,
        backlog,
        oldestPendingMs,
      });
      stops.push(() => relay.stop());
      if (oldestPendingMs) readiness.outbox = () => relay.ready();
    }
    if (roles.includes('projector')) {
      const projector = await startProjectorRole(
        {
          bus: bus!,
          store: store!,
          readStore: readStore!,
          feed: feed!,
          deadLetters: prisma ? new PrismaDeadLetters(prisma) : new MemoryDeadLetters(),
          versions: streamVersions ?? scanStreamVersions(store!),
          log: log.child({ role: 'projector' }),
          concurrency: config.PROJECTOR_CONCURRENCY,
          maxDeliver: config.NATS_MAX_DELIVER,
          receipts,
        },
        { reconcileEveryMs: config.RECONCILE_INTERVAL_MS, reconcileWindowMs: config.RECONCILE_WINDOW_MS },
      );
      stops.push(() => projector.stop());
    }

    // Its own Redis connection when Redis is configured, so the cap holds across replicas.
    const quota = createSubscriptionQuota({ redisUrl: roles.includes('query') ? config.redis : undefined, redisPrefix: config.REDIS_PREFIX, max: config.MAX_SUBSCRIPTIONS_PER_CALLER }, log);
    stops.push(() => quota.close());
    const services: Services = {
      commands: null,
      reads: null,
      receipts: roles.includes('command') ? receipts : null,
      log,
      subscriptions: { quota, max: config.MAX_SUBSCRIPTIONS_PER_CALLER, stallMs: config.SUBSCRIPTION_STALL_MS },
    };
    let admission: Admission | undefined;
    if (roles.includes('command')) {
      admission = new Admission({ maxInFlight: config.COMMAND_MAX_IN_FLIGHT, maxQueued: config.COMMAND_MAX_QUEUE, queueTimeoutMs: config.COMMAND_QUEUE_TIMEOUT_MS, queueTargetMs: config.COMMAND_QUEUE_TARGET_MS });
      services.commands = createCommandHandlers({ store: guarded(store!, 'postgres'), admission, maxRetries: config.COMMAND_MAX_RETRIES, snapshotEvery: config.SNAPSHOT_EVERY, log: log.child({ role: 'command' }) });
    }
    if (roles.includes('query')) {
      // Subscriptions replay versions the read store no longer holds from the event store. A query-only
      // instance opens it on first need, read only, so it starts and serves reads without Postgres.
      let history: Promise<EventStore> | null = store ? Promise.resolve(store) : null;
      const openHistory = () =>
        (history ??= openEventStore(config.DATABASE_URL ? { url: config.DATABASE_URL } : { dataDir: path.join(config.DATA_DIR, 'pglite') }, { migrate: false, log }).then((opened) => {
          stops.push(() => opened.close());
          return opened;
        }));
      const waiter = new VersionWaiter(feed!);
      await waiter.start((error) => log.warn({ err: error }, 'change feed unreachable; retrying'));
      stops.push(() => waiter.stop());
      const reads = guarded(withCompleteness(readStore!, projections), 'redis');
      services.reads = { readStore: reads, feed: feed!, waiter, history: async (id, from, limit) => (await openHistory()).readStream(id, from, limit), events: openHistory, receipts };
    }

    // Its own Redis connection when Redis is configured, so the limit holds across replicas.
    const rateLimiter = createRateLimiter({ redisUrl: config.redis, redisPrefix: config.REDIS_PREFIX, perMinute: config.RATE_LIMIT_PER_MINUTE }, log);
    stops.push(() => rateLimiter.close());
    const trustedDocuments = config.TRUSTED_DOCUMENTS ? await loadTrustedDocuments(config.TRUSTED_DOCUMENTS) : undefined;
    const tokens = { secret: config.jwtSecret, issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE };
    const pressure = admission && { probability: () => admission.shedProbability(), busy: () => admission.busy() };
    const loadShedder = new LoadShedder(config.SHED_EVENT_LOOP_LAG_MS, undefined, pressure, config.COMMAND_SHED_LAG_MS);
    stops.push(async () => loadShedder.stop());
    const app = buildApp({ host: config.HOST, port: config.PORT, tokens, services, log, readiness, security: securityOptions(config), rateLimiter, trustedDocuments, loadShedder });
    const url = await app.start();
    stops.push(() => app.stop());
    log.info({ url: `${url}/graphql`, roles, embedded: { postgres: !config.DATABASE_URL, nats: !config.NATS_URL, redis: !config.redis } }, 'service started');
    return { url, stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
