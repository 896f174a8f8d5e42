// Real clusters for tests, faults and the benchmark: a 3-node NATS JetStream cluster and a 6-node Redis
// Cluster (3 masters, 3 replicas), started from the installed binaries on free ports under a temp dir and
// removed afterwards. Every process is killed when the test process exits, also on a failure.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** Ports the kernel hands out as free right now, all distinct. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<import('node:net').Server>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve(server));
    })),
  );
  const ports = servers.map((server) => (server.address() as import('node:net').AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

export class ClusterNode {
  child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  readonly output: string[] = [];

  constructor(
    readonly name: string,
    readonly port: number,
    private readonly command: string,
    private readonly args: string[],
  ) {}

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  start(): void {
    const child = spawn(this.command, this.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    live.add(child);
    const keep = (chunk: Buffer) => {
      this.output.push(...chunk.toString().split('\n').filter(Boolean));
      if (this.output.length > 200) this.output.splice(0, this.output.length - 200);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    this.exited = new Promise((resolve) => child.once('exit', () => (live.delete(child), resolve())));
  }

  /** kill -9 (or another signal), and wait for the exit. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!this.running) return;
    this.child!.kill(signal);
    await this.exited;
  }

  /** SIGSTOP/SIGCONT: the process keeps its sockets but answers nothing, as a hung node does. */
  pause(): void {
    if (this.running) this.child!.kill('SIGSTOP');
  }

  resume(): void {
    if (this.running) this.child!.kill('SIGCONT');
  }
}

/** A node exited while the cluster started: its port was taken meanwhile, most likely. Worth a new try. */
class NodeExited extends Error {}

/** Starts a cluster again on fresh ports when a node exits during the start (a port grabbed meanwhile). */
async function withRetries<T>(start: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (error) {
      if (!(error instanceof NodeExited) || attempt >= attempts) throw error;
    }
  }
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000, node?: ClusterNode): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    if (node && !node.running) throw new NodeExited(`${node.name} exited while starting: ${node.output.slice(-5).join(' | ')}`);
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await sleep(100);
  }
  throw new Error(`${what} within ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
}

export interface NatsCluster {
  nodes: ClusterNode[];
  /** Every server, comma separated, as NATS_URL takes them. */
  url: string;
  urlOf(node: ClusterNode): string;
  /** The node whose server name (`n1`…, as JetStream reports a leader) is `name`. */
  byServerName(name: string): ClusterNode;
  /** The node leading `stream` now (JetStream's stream info), after waiting for one. */
  streamLeader(stream: string): Promise<ClusterNode>;
  /** Starts a killed node again on its ports and store, and waits until it answers. */
  restart(node: ClusterNode): Promise<void>;
  stop(): Promise<void>;
}

export interface NatsClusterOptions {
  size?: number;
  /**
   * The port node `from` dials to reach node `to`'s routes, instead of `routePort` itself: a TCP proxy
   * per ordered pair, so a fault can cut one node off from the others.
   */
  routeVia?: (from: number, to: number, routePort: number) => number;
  /** Route ports to use (3), e.g. ones the proxies were told about before the nodes start. */
  routePorts?: number[];
}

/**
 * `nats-server -js --cluster` × 3 with routes to each other; ready once JetStream has a meta leader
 * (an account info request answers through every server).
 */
export function startNatsCluster(options: NatsClusterOptions = {}): Promise<NatsCluster> {
  return withRetries(() => startNatsClusterOnce(options));
}

async function startNatsClusterOnce({ size = 3, routeVia, routePorts: givenRoutePorts }: NatsClusterOptions): Promise<NatsCluster> {
  const dir = await mkdtemp(path.join(tmpdir(), 'nats-cluster-'));
  // One call for all the ports, so no two of them are the same.
  const ports = (await freePorts(size * 2)).filter((port) => !givenRoutePorts?.includes(port));
  const clientPorts = ports.slice(0, size);
  const routePorts = givenRoutePorts ?? ports.slice(size, size * 2);
  const nodes = clientPorts.map((port, i) => {
    const routes = routePorts
      .map((routePort, j) => (j === i ? null : `nats://127.0.0.1:${routeVia ? routeVia(i, j, routePort) : routePort}`))
      .filter(Boolean)
      .join(',');
    return new ClusterNode(`nats-${i + 1}`, port, 'nats-server', [
      '-a', '127.0.0.1', '-p', String(port), '-n', `n${i + 1}`, '-js', '-sd', path.join(dir, `n${i + 1}`),
      '--cluster_name', 'test', '--cluster', `nats://127.0.0.1:${routePorts[i]}`, '--routes', routes,
      // Without it each node also tells clients about the others: fine, but tests name servers themselves.
      '--no_advertise',
      // Routes through proxies only: a node gossips its route address, which others would then dial directly.
      ...(routeVia ? ['--cluster_advertise', '127.0.0.1:9'] : []),
    ]);
  });
  const url = nodes.map((node) => `nats://127.0.0.1:${node.port}`).join(',');
  const ready = async (node: ClusterNode) => {
    const { connect } = await import('@nats-io/transport-node');
    const { jetstreamManager } = await import('@nats-io/jetstream');
    await until(`${node.name} serving JetStream`, async () => {
      const nc = await connect({ servers: `nats://127.0.0.1:${node.port}`, reconnect: false, timeout: 1000 });
      try {
        // No account-info request up front (checkAPI): right after a kill it can time out while the
        // cluster elects; the info requests below are retried until a leader answers.
        const jsm = await jetstreamManager(nc, { timeout: 2000, checkAPI: false });
        await jsm.getAccountInfo();
        return true;
      } finally {
        await nc.close();
      }
    }, 60_000, node);
  };
  try {
    for (const node of nodes) node.start();
    for (const node of nodes) await ready(node);
  } catch (error) {
    await Promise.all(nodes.map((node) => node.kill()));
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    nodes,
    url,
    urlOf: (node) => `nats://127.0.0.1:${node.port}`,
    byServerName: (name) => nodes[Number(name.slice(1)) - 1]!,
    async streamLeader(stream) {
      const { connect } = await import('@nats-io/transport-node');
      const { jetstreamManager } = await import('@nats-io/jetstream');
      const live = nodes.filter((node) => node.running).map((node) => `nats://127.0.0.1:${node.port}`);
      const nc = await connect({ servers: live, timeout: 2000 });
      try {
        // No API check on creation: right after a server is killed the cluster may still be electing its
        // meta leader, and that one request timed out (CI, once); the loop below retries until it answers.
        const jsm = await jetstreamManager(nc, { timeout: 2000, checkAPI: false });
        const leader = await until(`a leader of ${stream}`, async () => (await jsm.streams.info(stream)).cluster?.leader || undefined);
        return nodes[Number(leader.slice(1)) - 1]!;
      } finally {
        await nc.close();
      }
    },
    async restart(node) {
      node.start();
      await ready(node);
    },
    async stop() {
      await Promise.all(nodes.map((node) => node.kill()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface RedisCluster {
  nodes: ClusterNode[];
  /** Seed nodes, comma separated, as REDIS_CLUSTER_URLS takes them. */
  urls: string;
  /** The node serving `slot` as master now (from CLUSTER SHARDS of a live node). */
  masterOf(slot: number): Promise<ClusterNode>;
  masters(): Promise<ClusterNode[]>;
  /** Waits until every slot has a live master again (after a failover). */
  healthy(timeoutMs?: number): Promise<void>;
  /** Commands each live master has processed since it started (INFO stats), by node name. */
  commandsByMaster(): Promise<Map<string, number>>;
  /** Starts a killed node again (empty: nothing on disk), which rejoins as a replica and syncs. */
  restart(node: ClusterNode): Promise<void>;
  stop(): Promise<void>;
}

async function cli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 5000 });
  return stdout;
}

/**
 * `redis-server --cluster-enabled yes` × 6 with nothing on disk, then `redis-cli --cluster create …
 * --cluster-replicas 1`; ready once every node reports `cluster_state:ok`. A short node timeout, so a
 * killed master's replica is promoted within a few seconds.
 */
export function startRedisCluster(options: { size?: number; nodeTimeoutMs?: number } = {}): Promise<RedisCluster> {
  return withRetries(() => startRedisClusterOnce(options));
}

async function startRedisClusterOnce({ size = 6, nodeTimeoutMs = 1500 }: { size?: number; nodeTimeoutMs?: number }): Promise<RedisCluster> {
  const dir = await mkdtemp(path.join(tmpdir(), 'redis-cluster-'));
  const ports = await freePorts(size * 2);
  const nodes = ports.slice(0, size).map((port, i) =>
    new ClusterNode(`redis-${i + 1}`, port, 'redis-server', [
      '--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-port', String(ports[size + i]),
      '--cluster-config-file', path.join(dir, `nodes-${port}.conf`), '--cluster-node-timeout', String(nodeTimeoutMs),
      '--dir', dir, '--save', '', '--appendonly', 'no', '--protected-mode', 'no',
    ]),
  );
  const running = () => nodes.filter((node) => node.running);
  const healthy = async (timeoutMs = 30_000) => {
    await until('Redis Cluster state ok on every live node', async () => {
      for (const node of running()) if (!(await cli(node.port, 'cluster', 'info')).includes('cluster_state:ok')) return undefined;
      return true;
    }, timeoutMs);
  };
  const shards = async () => {
    const text = await cli(running()[0]!.port, 'cluster', 'nodes');
    // <id> <ip:port@bus> <flags> <master> <ping> <pong> <epoch> <link> <slot ranges...>
    return text.split('\n').filter(Boolean).map((line) => {
      const [, address, flags, , , , , , ...slots] = line.split(' ');
      return { port: Number(address!.split('@')[0]!.split(':')[1]), master: flags!.includes('master') && !flags!.includes('fail'), slots: slots! };
    });
  };
  try {
    for (const node of nodes) node.start();
    for (const node of nodes) await until(`${node.name} answering`, async () => ((await cli(node.port, 'ping')).includes('PONG') ? true : undefined), 30_000, node);
    await run('redis-cli', ['--cluster', 'create', ...nodes.map((node) => `127.0.0.1:${node.port}`), '--cluster-replicas', '1', '--cluster-yes'], { timeout: 30_000 });
    await healthy();
    // Every replica attached and synced, so a failover has something to promote.
    await until('replicas synced', async () => {
      for (const node of nodes) {
        const info = await cli(node.port, 'info', 'replication');
        if (info.includes('role:slave') && !info.includes('master_link_status:up')) return undefined;
      }
      return true;
    });
  } catch (error) {
    await Promise.all(nodes.map((node) => node.kill()));
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const byPort = (port: number) => nodes.find((node) => node.port === port)!;
  return {
    nodes,
    urls: nodes.map((node) => `redis://127.0.0.1:${node.port}`).join(','),
    async masterOf(slot) {
      for (const shard of await shards()) {
        if (!shard.master) continue;
        for (const range of shard.slots) {
          const [low, high = low] = range.split('-').map(Number);
          if (slot >= low! && slot <= high!) return byPort(shard.port);
        }
      }
      throw new Error(`no master for slot ${slot}`);
    },
    async masters() {
      return (await shards()).filter((shard) => shard.master && shard.slots.length > 0).map((shard) => byPort(shard.port)).filter((node) => node.running);
    },
    healthy,
    async commandsByMaster() {
      const counts = new Map<string, number>();
      for (const shard of await shards()) {
        if (!shard.master || shard.slots.length === 0) continue;
        const node = byPort(shard.port);
        if (!node.running) continue;
        counts.set(node.name, Number(/total_commands_processed:(\d+)/.exec(await cli(node.port, 'info', 'stats'))?.[1] ?? 0));
      }
      return counts;
    },
    async restart(node) {
      node.start();
      await until(`${node.name} answering`, async () => ((await cli(node.port, 'ping')).includes('PONG') ? true : undefined));
      await healthy();
    },
    async stop() {
      await Promise.all(nodes.map((node) => node.kill()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export { keySlot } from '../src/infrastructure/redis/connection.js';
