import { commandStages, type Receipt, type ReceiptStore } from '../../ports.js';
import { connectRedis, duplicateClient, isCluster, lostConnection, publishNotice, type RedisClient, type RedisTarget, subscribeNotices } from '../redis/connection.js';

export { lostConnection } from '../redis/connection.js';

export interface RedisReceiptsOptions {
  /** One server's URL, or the seed nodes of a Redis Cluster. */
  url: RedisTarget;
  prefix?: string;
  /** How long a receipt is kept after its last change. */
  ttlMs?: number;
}

/**
 * Receipts as Redis hashes: HSET merges the stages each process reports, in any order, and the key
 * expires so receipts do not pile up. A pub/sub message per change wakes the subscribers.
 */
/**
 * One receipt change in one command (a MULTI of HSET, HSETNX per stage, PEXPIRE and PUBLISH cost the
 * writer five queued replies, measured at about 5 % of a loaded service's CPU): the fixed fields, each
 * stage only if not reached before (a repeat keeps the first time), the expiry, then the wake-up.
 * KEYS: the receipt. ARGV: orderId, userId, version, ttl ms, channel ('' when the caller publishes the
 * notice itself: on a cluster it goes to a sharded channel in another slot), commandId, then (stage, at) pairs.
 */
const RECORD = `
redis.call('HSET', KEYS[1], 'orderId', ARGV[1], 'userId', ARGV[2], 'version', ARGV[3])
for i = 7, #ARGV, 2 do redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
if ARGV[5] ~= '' then redis.call('PUBLISH', ARGV[5], ARGV[6]) end
return 1
`;

type ScriptedRedis = RedisClient & { recordReceipt(key: string, ...args: (string | number)[]): Promise<number> };

export class RedisReceipts implements ReceiptStore {
  private readonly redis: ScriptedRedis;
  private readonly cluster: boolean;
  private subscriber: RedisClient | null = null;
  private readonly watchers = new Map<string, Set<() => void>>();
  private readonly prefix: string;
  private readonly ttlMs: number;

  constructor(options: RedisReceiptsOptions) {
    this.prefix = options.prefix ?? 'cqrs';
    this.ttlMs = options.ttlMs ?? 24 * 3600_000;
    this.redis = connection(options.url);
    this.cluster = isCluster(options.url);
  }

  private key = (commandId: string) => `${this.prefix}:receipt:${commandId}`;
  private get channel() {
    return `${this.prefix}:receipts`;
  }

  async record(receipt: Omit<Receipt, 'stages'>, stages: Receipt['stages']): Promise<void> {
    // Best effort, and never in a command's way: while Redis is away, give up at once.
    if (lostConnection(this.redis)) throw new Error(`receipt store not connected (${this.redis.status})`);
    const key = this.key(receipt.commandId);
    const { commandId, orderId, userId, version } = receipt;
    const reached = Object.entries(stages).flat() as string[];
    await this.redis.recordReceipt(key, orderId, userId, String(version), this.ttlMs, this.cluster ? '' : this.channel, commandId, ...reached);
    // On a cluster the notice goes to a sharded channel, in another slot than the key: after the write.
    if (this.cluster) await publishNotice(this.redis, this.channel, commandId, commandId);
  }

  async get(commandId: string): Promise<Receipt | null> {
    const hash = await this.redis.hgetall(this.key(commandId));
    if (!hash.orderId) return null;
    const stages: Receipt['stages'] = {};
    for (const stage of commandStages) if (hash[stage]) stages[stage] = hash[stage];
    return { commandId, orderId: hash.orderId, userId: hash.userId ?? '', version: Number(hash.version), stages };
  }

  async watch(commandId: string, onChange: () => void): Promise<() => Promise<void>> {
    if (!this.subscriber) {
      const subscriber = (this.subscriber = duplicateClient(this.redis));
      subscriber.on('error', () => {});
      await subscribeNotices(subscriber, this.channel, (id) => this.watchers.get(id)?.forEach((notify) => notify()));
    }
    let set = this.watchers.get(commandId);
    if (!set) this.watchers.set(commandId, (set = new Set()));
    set.add(onChange);
    return async () => {
      set.delete(onChange);
      if (set.size === 0) this.watchers.delete(commandId);
    };
  }

  async close(): Promise<void> {
    await Promise.all([this.redis.quit(), this.subscriber?.quit()]);
  }
}

function connection(url: RedisTarget): ScriptedRedis {
  // Fail fast while Redis is away (receipts are best effort for writers) and keep reconnecting.
  const redis = connectRedis(url, {
    maxRetriesPerRequest: 1,
    lazyConnect: false,
    commandTimeout: 500,
    scripts: { recordReceipt: { numberOfKeys: 1, lua: RECORD } },
  }) as ScriptedRedis;
  redis.on('error', () => {});
  return redis;
}
