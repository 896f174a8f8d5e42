// Private Postgres, NATS (JetStream) and Redis for one fault run: temp folders, free ports on 127.0.0.1,
// started as child processes of the runner so it can stop, kill and restart them. The shared servers on
// 5432, 4222 and 6379 are never touched.
//
// Postgres refuses to run as root. When the runner is root, initdb and postgres are spawned with the
// uid/gid of the `postgres` OS user (Node's spawn options), in a temp folder chowned to that user: no
// sudo, runuser or su in between, so the postmaster is our direct child and signals reach it as they
// would from pg_ctl (SIGINT = fast shutdown, SIGQUIT = immediate, i.e. a crash without a checkpoint).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { Redis } from 'ioredis';
import { type NatsCluster, type RedisCluster, freePorts, startNatsCluster, startRedisCluster } from '../test/clusters.js';
import { BlackholeProxy } from './proxy.js';
import { freePort, waitFor } from './util.js';

const children = new Set<ChildProcess>();
// Whatever way the runner ends, none of its servers outlives it.
process.once('exit', () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

interface SpawnOptions {
  name: string;
  command: string;
  args: string[];
  logFile: string;
  user?: { uid: number; gid: number };
  /** A line of the output that means "ready"; without it the caller probes. */
  readyLine?: RegExp;
  /** How `close` asks it to end; postgres needs SIGINT (SIGTERM waits for every client to leave). */
  closeSignal?: NodeJS.Signals;
}

/** One server process: its output goes to a log file (appended across restarts). */
export class ServerProcess {
  private child: ChildProcess | null = null;
  private log: WriteStream;
  private exited: Promise<void> = Promise.resolve();
  starts = 0;

  constructor(private readonly options: SpawnOptions) {
    this.log = createWriteStream(options.logFile, { flags: 'a' });
  }

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(): Promise<void> {
    if (this.running) throw new Error(`${this.options.name} is already running`);
    const { command, args, user, readyLine, name } = this.options;
    this.log.write(`\n--- ${new Date().toISOString()} start ${name}: ${command} ${args.join(' ')}\n`);
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(user ?? {}) });
    this.child = child;
    this.starts++;
    children.add(child);
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        children.delete(child);
        this.log.write(`--- ${new Date().toISOString()} ${name} exited (code ${code}, signal ${signal})\n`);
        resolve();
      }),
    );
    let ready: (() => void) | null = null;
    const readySeen = new Promise<void>((resolve) => (ready = resolve));
    let buffered = '';
    const onData = (chunk: Buffer) => {
      this.log.write(chunk);
      if (!readyLine || !ready) return;
      buffered = (buffered + chunk.toString()).slice(-4096);
      if (readyLine.test(buffered)) {
        ready();
        ready = null;
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    if (readyLine) {
      const failed = this.exited.then(() => {
        throw new Error(`${name} exited before it was ready; see ${this.options.logFile}`);
      });
      const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${name} not ready within 30 s; see ${this.options.logFile}`)), 30_000).unref());
      await Promise.race([readySeen, failed, timeout]);
    }
  }

  /** Sends `signal` and waits for the exit (SIGKILL after `graceMs`). */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 20_000): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  async close(): Promise<void> {
    await this.stop(this.options.closeSignal ?? 'SIGTERM');
    await new Promise<void>((resolve) => this.log.end(() => resolve()));
  }
}

function postgresUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined; // not root: postgres runs as whoever we are
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

async function postgresBin(): Promise<string> {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const root = '/usr/lib/postgresql';
  const versions = (await readdir(root).catch(() => [])).filter((name) => /^\d+$/.test(name)).sort((a, b) => Number(b) - Number(a));
  if (!versions[0]) throw new Error(`no Postgres under ${root}; set PG_BIN to the folder holding initdb and postgres`);
  return path.join(root, versions[0], 'bin');
}

export interface Infra {
  dir: string;
  postgres: PrivatePostgres;
  /** One server each (`--topology single`), or clusters (`--topology cluster`). */
  topology: 'single' | 'cluster';
  nats: PrivateNats | null;
  redis: PrivateRedis | null;
  natsCluster: NatsCluster | null;
  redisCluster: RedisCluster | null;
  /** Per ordered pair of NATS nodes, the proxy node `from` dials `to` through: `${from}>${to}`. */
  routeProxies: Map<string, BlackholeProxy>;
  /** NATS_URL for the service: one server, or every node of the cluster. */
  natsUrl: string;
  /** REDIS_URL (a string) or REDIS_CLUSTER_URLS (the nodes). */
  redisTarget: string | string[];
  stop(): Promise<void>;
}

/** The single-server pieces, for faults that act on them; a clear error on a cluster run. */
export function single(infra: Infra): { nats: PrivateNats; redis: PrivateRedis } {
  if (!infra.nats || !infra.redis) throw new Error('this fault acts on a single NATS and Redis server: run it with --topology single');
  return { nats: infra.nats, redis: infra.redis };
}

export function clusters(infra: Infra): { nats: NatsCluster; redis: RedisCluster } {
  if (!infra.natsCluster || !infra.redisCluster) throw new Error('this fault acts on a cluster: run it with --topology cluster');
  return { nats: infra.natsCluster, redis: infra.redisCluster };
}

export class PrivatePostgres {
  readonly url: string;
  private constructor(
    readonly port: number,
    readonly process: ServerProcess,
    readonly dataDir: string,
  ) {
    this.url = `postgresql://postgres@127.0.0.1:${port}/orders`;
  }

  static async create(dir: string, logDir: string): Promise<PrivatePostgres> {
    const bin = await postgresBin();
    const user = postgresUser();
    const dataDir = path.join(dir, 'pgdata');
    await mkdir(dataDir, { mode: 0o700 });
    if (user) await chown(dataDir, user.uid, user.gid);
    try {
      execFileSync(path.join(bin, 'initdb'), ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-locale', '--no-sync'], {
        stdio: ['ignore', 'ignore', 'pipe'],
        ...(user ?? {}),
      });
    } catch (error) {
      throw new Error(`initdb failed: ${String((error as { stderr?: Buffer }).stderr ?? error).trim()}`);
    }
    const port = await freePort();
    const server = new ServerProcess({
      name: 'postgres',
      command: path.join(bin, 'postgres'),
      // fsync stays on (the default): a crash must lose nothing that was committed.
      args: ['-D', dataDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${dataDir}`, '-c', 'max_connections=300', '-c', 'shared_buffers=64MB'],
      logFile: path.join(logDir, 'postgres.log'),
      user,
      closeSignal: 'SIGINT',
    });
    const postgres = new PrivatePostgres(port, server, dataDir);
    await postgres.start();
    await postgres.admin('CREATE DATABASE orders');
    return postgres;
  }

  async start(): Promise<void> {
    await this.process.start();
    await waitFor('postgres accepting connections', async () => ((await this.query('SELECT 1', [], 'postgres')) ? true : undefined), { timeoutMs: 30_000, everyMs: 100 });
  }

  /** fast: SIGINT, clients disconnected, checkpoint. immediate: SIGQUIT, no checkpoint, recovery on start. */
  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    await this.process.stop(mode === 'fast' ? 'SIGINT' : 'SIGQUIT');
  }

  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params: unknown[] = [], database = 'orders'): Promise<R[]> {
    const client = new pg.Client({ connectionString: `postgresql://postgres@127.0.0.1:${this.port}/${database}`, connectionTimeoutMillis: 3000 });
    client.on('error', () => {});
    await client.connect();
    try {
      return (await client.query<R>(sql, params)).rows;
    } finally {
      await client.end().catch(() => {});
    }
  }

  private admin(sql: string) {
    return this.query(sql, [], 'postgres');
  }
}

export class PrivateNats {
  readonly url: string;
  private constructor(
    readonly port: number,
    readonly process: ServerProcess,
    private readonly storeDir: string,
  ) {
    this.url = `nats://127.0.0.1:${port}`;
  }

  static async create(dir: string, logDir: string): Promise<PrivateNats> {
    const port = await freePort();
    const storeDir = path.join(dir, 'jetstream');
    await mkdir(storeDir);
    const server = new ServerProcess({
      name: 'nats',
      command: process.env.NATS_SERVER_BIN ?? 'nats-server',
      args: ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir, '-n', 'faults'],
      logFile: path.join(logDir, 'nats.log'),
      readyLine: /Server is ready/,
    });
    const nats = new PrivateNats(port, server, storeDir);
    await server.start();
    return nats;
  }

  start(): Promise<void> {
    return this.process.start();
  }

  /** SIGKILL: what a crash looks like; the store folder stays, so the stream comes back on start. */
  stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    return this.process.stop(signal);
  }

  /** Empties the JetStream store while the server is down: streams, messages and consumers are gone. */
  async wipeStore(): Promise<void> {
    if (this.process.running) throw new Error('stop nats-server before wiping its store');
    await rm(this.storeDir, { recursive: true, force: true });
    await mkdir(this.storeDir);
  }
}

export class PrivateRedis {
  readonly url: string;
  private constructor(
    readonly port: number,
    readonly process: ServerProcess,
  ) {
    this.url = `redis://127.0.0.1:${port}`;
  }

  static async create(dir: string, logDir: string): Promise<PrivateRedis> {
    const port = await freePort();
    const server = new ServerProcess({
      name: 'redis',
      command: process.env.REDIS_SERVER_BIN ?? 'redis-server',
      // No persistence: a restart comes back empty, as the shared Redis here does.
      args: ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no', '--dir', dir],
      logFile: path.join(logDir, 'redis.log'),
      readyLine: /Ready to accept connections/,
    });
    const redis = new PrivateRedis(port, server);
    await server.start();
    return redis;
  }

  start(): Promise<void> {
    return this.process.start();
  }

  stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    return this.process.stop(signal);
  }

  async flushAll(): Promise<void> {
    const client = new Redis(this.url, { maxRetriesPerRequest: 1, lazyConnect: true });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.flushall();
    } finally {
      client.disconnect();
    }
  }
}

/** Starts all three in a fresh temp folder; `stop` ends them and removes the folder. */
export async function startInfra(logDir: string): Promise<Infra> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cqrs-faults-'));
  // mkdtemp makes it 0700; the postgres user must be able to reach its data folder inside.
  await chmod(dir, 0o755);
  const started: { process: ServerProcess }[] = [];
  const stop = async () => {
    for (const server of started.reverse()) await server.process.close().catch(() => {});
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const postgres = await PrivatePostgres.create(dir, logDir);
    started.push(postgres);
    const nats = await PrivateNats.create(dir, logDir);
    started.push(nats);
    const redis = await PrivateRedis.create(dir, logDir);
    started.push(redis);
    return { dir, postgres, nats, redis, natsCluster: null, redisCluster: null, routeProxies: new Map(), topology: 'single', natsUrl: nats.url, redisTarget: redis.url, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Private Postgres, a JetStream cluster of 3 whose routes run through blackhole proxies (one per ordered
 * pair of nodes), and a Redis Cluster of 6; `stop` ends them all and removes the folders.
 */
export async function startClusterInfra(logDir: string): Promise<Infra> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cqrs-faults-'));
  await chmod(dir, 0o755);
  let postgres: PrivatePostgres | null = null;
  let natsCluster: NatsCluster | null = null;
  let redisCluster: RedisCluster | null = null;
  const routeProxies = new Map<string, BlackholeProxy>();
  const stop = async () => {
    await Promise.all([natsCluster?.stop(), redisCluster?.stop(), ...[...routeProxies.values()].map((proxy) => proxy.stop())]);
    await postgres?.process.close().catch(() => {});
    await rm(dir, { recursive: true, force: true });
  };
  try {
    postgres = await PrivatePostgres.create(dir, logDir);
    const routePorts = await freePorts(3);
    const proxyPorts = await freePorts(6);
    for (let from = 0, n = 0; from < 3; from++)
      for (let to = 0; to < 3; to++) {
        if (from === to) continue;
        const proxy = new BlackholeProxy(proxyPorts[n++]!, routePorts[to]!);
        await proxy.start();
        routeProxies.set(`${from}>${to}`, proxy);
      }
    [natsCluster, redisCluster] = await Promise.all([
      startNatsCluster({ routePorts, routeVia: (from, to) => routeProxies.get(`${from}>${to}`)!.port }),
      startRedisCluster(),
    ]);
    return { dir, postgres, nats: null, redis: null, natsCluster, redisCluster, routeProxies, topology: 'cluster', natsUrl: natsCluster.url, redisTarget: redisCluster.urls.split(','), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
