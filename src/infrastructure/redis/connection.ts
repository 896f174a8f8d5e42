// One way to reach Redis for every adapter: one server (`REDIS_URL`) or a Redis Cluster
// (`REDIS_CLUSTER_URLS`, ioredis' Cluster). The same adapter code runs on both; what differs is here:
// the client, and how notices travel (plain pub/sub on one server, sharded pub/sub on a cluster).
import { Cluster, Redis, type RedisOptions } from 'ioredis';

/** A Redis URL for one server, or the seed nodes of a Redis Cluster (an array, even of one). */
export type RedisTarget = string | readonly string[];

export type RedisClient = Redis | Cluster;

export function isCluster(target: RedisTarget): target is readonly string[] {
  return typeof target !== 'string';
}

/** For messages and logs: the URL, or the seed nodes joined. */
export function describeTarget(target: RedisTarget): string {
  return isCluster(target) ? `cluster ${target.join(',')}` : target;
}

type Scripts = Record<string, { lua: string; numberOfKeys?: number }>;

export interface ConnectOptions extends Pick<RedisOptions, 'maxRetriesPerRequest' | 'commandTimeout' | 'lazyConnect'> {
  scripts?: Scripts;
}

/**
 * A client for the target. On a cluster: reads and writes on masters (a replica may lag, and documents
 * are read to check versions) and sharded subscribers (one connection per master, for SSUBSCRIBE).
 * No automatic pipelining: ioredis 6 batches commands queued before the slots are known into one
 * pipeline and then refuses it ("All keys in the pipeline should belong to the same slots allocation group").
 */
export function connectRedis(target: RedisTarget, options: ConnectOptions = {}): RedisClient {
  if (!isCluster(target)) return new Redis(target, options);
  const { scripts, lazyConnect, ...redisOptions } = options;
  const nodes = target.map((url) => {
    const parsed = new URL(url);
    return { host: parsed.hostname, port: Number(parsed.port || 6379) };
  });
  const first = new URL(target[0]!);
  return new Cluster(nodes, {
    scaleReads: 'master',
    shardedSubscribers: true,
    ...(scripts ? { scripts } : {}),
    ...(lazyConnect !== undefined ? { lazyConnect } : {}),
    // A killed master: ioredis refreshes the slots on the MOVED or connection error it causes and
    // retries there; a failover takes the cluster's node timeout plus an election.
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 300,
    clusterRetryStrategy: (times) => Math.min(100 * times, 2000),
    redisOptions: {
      ...redisOptions,
      ...(first.password ? { password: decodeURIComponent(first.password) } : {}),
      ...(first.username ? { username: decodeURIComponent(first.username) } : {}),
      ...(first.protocol === 'rediss:' ? { tls: {} } : {}),
    },
  });
}

/**
 * Sends what this turn of the event loop asks of `redis` in one write: the first call of a turn corks the
 * connection's socket, and it is uncorked in the check phase right after the I/O callbacks of that turn
 * (setImmediate). Under load one turn handles many requests, and each one's command was a write system
 * call of its own, and its reply a read; corked, the commands of a turn leave together and Redis answers
 * them together. It adds no timer and no wait past the current turn: with one request in the turn it is
 * written when that request's callback returns. The read store's reads use it (queries, a subscription's
 * document, a projector's read of a document it does not hold); its writes do not cork it, though one
 * asked in a turn that a read corked leaves with that read. `npm run bench -- reads` on 2026-12-01: the
 * service's CPU per `order(id)` fell from 0.13-0.15 to 0.11-0.13 ms at 8-64 connections in the default
 * deployment, from 0.118 to 0.089-0.101 ms in the split one's query process, with none of the freshness
 * figures changed past their spread (docs/performance.md). On a cluster (a socket per node) it does nothing.
 */
export function writeAtTurnEnd(redis: RedisClient): void {
  if (redis instanceof Cluster || redis.status !== 'ready') return;
  const socket = redis.stream;
  if (socket.writableCorked > 0) return; // already corked this turn
  socket.cork();
  setImmediate(() => socket.uncork());
}

/** Connected once and now reconnecting (or closed): Redis is away. Still connecting at start is not. */
export function lostConnection(redis: RedisClient): boolean {
  return redis.status === 'reconnecting' || redis.status === 'close' || redis.status === 'end';
}

/**
 * Channels of one kind of notice. On a cluster, SPUBLISH goes to the shard owning the channel's slot,
 * so one channel would put every notice on one master: notices are spread over `SHARD_CHANNELS`
 * channels by the hash of a key (an order id), and a subscriber listens to all of them.
 */
export const SHARD_CHANNELS = 16;

export function shardChannels(base: string): string[] {
  return Array.from({ length: SHARD_CHANNELS }, (_, i) => `${base}:{${base}:${i}}`);
}

export function shardChannelOf(base: string, key: string): string {
  let hash = 0;
  for (let i = 0; i < key.length; i++) hash = (Math.imul(hash, 31) + key.charCodeAt(i)) | 0;
  const shard = (hash >>> 0) % SHARD_CHANNELS;
  return `${base}:{${base}:${shard}}`;
}

/** Publishes `message` about `key`: PUBLISH on one server, SPUBLISH on a cluster. */
export async function publishNotice(redis: RedisClient, base: string, key: string, message: string): Promise<void> {
  if (redis instanceof Cluster) await redis.spublish(shardChannelOf(base, key), message);
  else await redis.publish(base, message);
}

/**
 * Subscribes `subscriber` (a connection of its own) to every channel of `base`; `onMessage` gets each
 * message. ioredis subscribes again after a reconnect, and on a cluster after the slots move.
 */
export async function subscribeNotices(subscriber: RedisClient, base: string, onMessage: (message: string) => void): Promise<void> {
  if (subscriber instanceof Cluster) {
    const channels = new Set(shardChannels(base));
    subscriber.on('smessage', (channel: string, message: string) => {
      if (channels.has(channel)) onMessage(message);
    });
    // One SSUBSCRIBE per channel: on a cluster all channels of one command must share a slot.
    for (const channel of channels) await subscriber.ssubscribe(channel);
    return;
  }
  subscriber.on('message', (channel: string, message: string) => {
    if (channel === base) onMessage(message);
  });
  await subscriber.subscribe(base);
}

/** A second connection to the same target, for subscribing (a subscribed connection runs nothing else). */
export function duplicateClient(redis: RedisClient): RedisClient {
  return redis instanceof Cluster ? redis.duplicate() : redis.duplicate();
}

/** The hash slot of a key, as CLUSTER KEYSLOT computes it: CRC16 (XMODEM) of the hash tag, or of the whole key. */
export function keySlot(key: string): number {
  const open = key.indexOf('{');
  if (open !== -1) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) key = key.slice(open + 1, close);
  }
  let crc = 0;
  for (const byte of Buffer.from(key)) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}

/** The connection to the master serving `key`'s slot now, as the cluster client last learnt it. */
export function masterConnection(cluster: Cluster, key: string): Redis | null {
  const nodeKey = cluster.slots[keySlot(key)]?.[0];
  if (!nodeKey) return null;
  return cluster.nodes('master').find((node) => `${node.options.host}:${node.options.port}` === nodeKey) ?? null;
}
