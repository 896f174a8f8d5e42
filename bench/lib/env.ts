// Everything one run needs on the local servers, named for this run only, and removed afterwards:
// a fresh migrated database, a JetStream stream and subject prefix, a Redis key prefix. Addresses are
// fixed to 127.0.0.1 on purpose: a benchmark must never send its load anywhere else.
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import pg from 'pg';
import { applyMigrations } from '../../src/infrastructure/postgres/migrate.js';
import { buildService } from '../../test/buildOnce.js';
import { type NatsCluster, type RedisCluster, startNatsCluster, startRedisCluster } from '../../test/clusters.js';
import { benchJwtSecret } from './graphql.js';
import { spawnServer, type SpawnedServer } from './spawn.js';

export const local = {
  postgres: 'postgresql://postgres@127.0.0.1:5432/postgres',
  nats: 'nats://127.0.0.1:4222',
  redis: 'redis://127.0.0.1:6379',
};

/** `all`: every role in one process (the documented default). `split`: command, query and worker processes. */
export type Topology = 'all' | 'split';
export const topologies: Topology[] = ['all', 'split'];

/** Where a deployment takes commands and answers reads, and the processes it runs. */
export interface Deployment {
  topology: Topology;
  commandUrl: string;
  queryUrl: string;
  servers: SpawnedServer[];
}

const serviceEntry = 'dist/main.js';

export class BenchEnv {
  private readonly servers = new Set<SpawnedServer>();
  private shared: Promise<SpawnedServer> | null = null;
  private crudServer: Promise<SpawnedServer> | null = null;
  private floorServer: Promise<SpawnedServer> | null = null;

  /** With `--topology cluster`: a JetStream cluster of 3 (stream at R3) and a Redis Cluster of 6, started for the run. */
  private clusters: { nats: NatsCluster; redis: RedisCluster } | null = null;

  private constructor(
    readonly databaseName: string,
    readonly databaseUrl: string,
    readonly stream: string,
    readonly redisPrefix: string,
  ) {}

  static async create({ topology = 'single' }: { topology?: 'single' | 'cluster' } = {}): Promise<BenchEnv> {
    // Production runs compiled JavaScript (npm start); so does every service this benchmark measures.
    buildService();
    const suffix = `${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
    const databaseName = `cqrs_bench_${suffix}`;
    await admin(`CREATE DATABASE "${databaseName}"`);
    const url = new URL(local.postgres);
    url.pathname = `/${databaseName}`;
    const env = new BenchEnv(databaseName, url.toString(), `BENCH_${suffix.toUpperCase()}`, `bench_${suffix}`);
    try {
      if (topology === 'cluster') {
        const [nats, redis] = await Promise.all([startNatsCluster(), startRedisCluster()]);
        env.clusters = { nats, redis };
      }
      await applyMigrations({ url: env.databaseUrl });
    } catch (error) {
      await env.cleanup();
      throw error;
    }
    return env;
  }

  get topology(): 'single' | 'cluster' {
    return this.clusters ? 'cluster' : 'single';
  }

  /** What the service (and the rebuild command) is started with. */
  get serviceEnv(): Record<string, string> {
    return {
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      JWT_SECRET: benchJwtSecret,
      DATABASE_URL: this.databaseUrl,
      ...(this.clusters
        ? { NATS_URL: this.clusters.nats.url, NATS_REPLICAS: '3', REDIS_CLUSTER_URLS: this.clusters.redis.urls }
        : { NATS_URL: local.nats, REDIS_URL: local.redis }),
      NATS_STREAM: this.stream,
      NATS_SUBJECT_PREFIX: `${this.stream.toLowerCase()}.events`,
      REDIS_PREFIX: this.redisPrefix,
      // The limiter still runs on every request (its Redis round trip is in the figures), but its quotas
      // are out of reach: a benchmark measures capacity, not the per-caller policy.
      RATE_LIMIT_PER_MINUTE: '1000000000',
      // Likewise the command rate governor, which holds the admitted rate down once latency climbs: the
      // closed loops measure capacity. bench:overload measures the service with it, as deployed.
      COMMAND_LATENCY_TOLERANCE: '0',
      WS_MAX_SUBSCRIPTIONS: '100000',
      WS_MAX_CONNECTIONS_PER_USER: '100000',
      MAX_SUBSCRIPTIONS_PER_CALLER: '100000',
    };
  }

  /** The CQRS service, all roles in one process, shared by the scenarios that do not measure its memory. */
  service(): Promise<SpawnedServer> {
    return (this.shared ??= this.startService());
  }

  /** A service process of its own, for a scenario that must see its memory from a clean start. */
  async startService(nodeArgs: string[] = [], extraEnv: Record<string, string> = {}): Promise<SpawnedServer> {
    return this.track(await spawnServer(serviceEntry, { ...this.serviceEnv, ...extraEnv }, 'readyz', nodeArgs));
  }

  /**
   * For a probe of one process with `role` (a comma list, or `all`): the roles it leaves out, in a helper
   * process, so that the pipeline still runs; null for `all`.
   */
  async startHelperFor(role: string): Promise<SpawnedServer | null> {
    if (role === 'all') return null;
    return this.startService([], { ROLE: ['command', 'query', 'relay', 'projector'].filter((one) => !role.split(',').includes(one)).join(',') });
  }

  /**
   * The service as deployed: `all` is the shared one-process service; `split` starts a command, a query
   * and a worker (relay + projector) process of its own, stopped with `stopDeployment`.
   */
  async deployment(topology: Topology): Promise<Deployment> {
    if (topology === 'all') {
      const server = await this.service();
      return { topology, commandUrl: server.url, queryUrl: server.url, servers: [server] };
    }
    const [command, query, worker] = await Promise.all(
      ['command', 'query', 'relay,projector'].map((ROLE) => this.startService([], { ROLE })),
    );
    return { topology, commandUrl: command!.url, queryUrl: query!.url, servers: [command!, query!, worker!] };
  }

  async stopDeployment(deployment: Deployment): Promise<void> {
    if (deployment.topology === 'split') await Promise.all(deployment.servers.map((server) => this.stop(server)));
  }

  /** Bare graphql-yoga answering `{ __typename }`: the floor of any GraphQL read on this stack. */
  floor(): Promise<SpawnedServer> {
    return (this.floorServer ??= spawnServer('bench/crud/floor.ts', {}, 'floor started').then((server) => this.track(server)));
  }

  /** The CRUD baseline server over the same database. */
  crud(): Promise<SpawnedServer> {
    return (this.crudServer ??= spawnServer('bench/crud/server.ts', { DATABASE_URL: this.databaseUrl, JWT_SECRET: benchJwtSecret }, 'crud started').then((server) =>
      this.track(server),
    ));
  }

  async stop(server: SpawnedServer): Promise<void> {
    this.servers.delete(server);
    await server.stop();
  }

  /** Safe to call more than once, and after a partial start. */
  async cleanup(): Promise<void> {
    await Promise.all([...this.servers].map((server) => this.stop(server)));
    if (this.clusters) {
      await Promise.all([this.clusters.nats.stop(), this.clusters.redis.stop()]);
      this.clusters = null;
      await admin(`DROP DATABASE IF EXISTS "${this.databaseName}" WITH (FORCE)`);
      return;
    }
    const nc = await connect({ servers: local.nats });
    await (await jetstreamManager(nc)).streams.delete(this.stream).catch(() => false);
    await nc.close();
    await deleteKeys(this.redisPrefix);
    await admin(`DROP DATABASE IF EXISTS "${this.databaseName}" WITH (FORCE)`);
  }

  private track(server: SpawnedServer): SpawnedServer {
    this.servers.add(server);
    return server;
  }
}

async function deleteKeys(prefix: string): Promise<void> {
  const redis = new Redis(local.redis);
  try {
    for await (const keys of redis.scanStream({ match: `${prefix}:*`, count: 1000 }) as AsyncIterable<string[]>) if (keys.length) await redis.unlink(...keys);
  } finally {
    await redis.quit();
  }
}

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: local.postgres });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
