import { randomUUID } from 'node:crypto';
import { Cluster } from 'ioredis';
import { connectRedis, type RedisClient, type RedisTarget } from '../infrastructure/redis/connection.js';
import type { Logger } from 'pino';

/**
 * MAX_SUBSCRIPTIONS_PER_CALLER: open subscriptions one caller may hold, over WebSocket and SSE together.
 * A slot is taken when a subscription starts and given back when it ends, however it ends.
 */
export interface SubscriptionQuota {
  /** A slot for `caller` (a key from `callerKey`), or null when the caller holds the maximum already. */
  acquire(caller: string): Promise<(() => void) | null>;
  close(): Promise<void>;
}

/** One process's count: a single instance, or no Redis configured. */
export class MemorySubscriptionQuota implements SubscriptionQuota {
  private readonly held = new Map<string, number>();

  constructor(private readonly max: number) {}

  async acquire(caller: string): Promise<(() => void) | null> {
    const count = this.held.get(caller) ?? 0;
    if (count >= this.max) return null;
    this.held.set(caller, count + 1);
    return once(() => {
      const left = (this.held.get(caller) ?? 1) - 1;
      if (left > 0) this.held.set(caller, left);
      else this.held.delete(caller);
    });
  }

  async close(): Promise<void> {
    this.held.clear();
  }
}

// One sorted set per caller: a member per open subscription, scored by when its lease ends. Expired
// leases (a replica that died without giving its slots back) are dropped before counting, so a crash
// costs the caller its slots for at most one lease. One key per script: one slot of a Redis Cluster.
const ACQUIRE = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
`;

type ScriptedRedis = RedisClient & { acquireSlot(key: string, now: number, max: number, until: number, member: string, ttlMs: number): Promise<number> };

/**
 * The cap across replicas. Each replica renews the leases of the subscriptions it holds every third of
 * a lease, in one pipeline: background work proportional to open subscriptions, never on the path of a
 * change to a subscriber. When Redis does not answer, the caller is held to the cap on this replica
 * alone (and the log says so, at most every 10 s): a Redis outage must not refuse every subscription.
 */
export class RedisSubscriptionQuota implements SubscriptionQuota {
  private readonly redis: ScriptedRedis;
  private readonly prefix: string;
  private readonly local: MemorySubscriptionQuota;
  private readonly leases = new Map<string, string>(); // member → key
  private readonly timer: NodeJS.Timeout;
  private readonly instance = randomUUID();
  private sequence = 0;
  private lastWarning = 0;

  constructor(
    options: { url: RedisTarget; prefix: string },
    private readonly max: number,
    private readonly log: Logger,
    private readonly leaseMs = 60_000,
  ) {
    this.prefix = `${options.prefix}:subs`;
    this.local = new MemorySubscriptionQuota(max);
    this.redis = connectRedis(options.url, {
      maxRetriesPerRequest: 1,
      commandTimeout: 500,
      scripts: { acquireSlot: { numberOfKeys: 1, lua: ACQUIRE } },
    }) as ScriptedRedis;
    this.redis.on('error', () => {});
    this.timer = setInterval(() => void this.renew(), leaseMs / 3).unref();
  }

  async acquire(caller: string): Promise<(() => void) | null> {
    const key = `${this.prefix}:{${caller}}`;
    const member = `${this.instance}:${++this.sequence}`;
    const now = Date.now();
    let shared: number;
    try {
      shared = await this.redis.acquireSlot(key, now, this.max, now + this.leaseMs, member, this.leaseMs * 2);
    } catch (error) {
      this.warn(error);
      return this.local.acquire(caller);
    }
    if (shared !== 1) return null;
    this.leases.set(member, key);
    return once(() => {
      this.leases.delete(member);
      this.redis.zrem(key, member).catch((error: unknown) => this.warn(error));
    });
  }

  private async renew(): Promise<void> {
    if (this.leases.size === 0) return;
    const until = Date.now() + this.leaseMs;
    // A cluster pipelines on its own (callers' keys sit in many slots, which one pipeline may not span).
    if (this.redis instanceof Cluster) {
      const renewals = [...this.leases].flatMap(([member, key]) => [this.redis.zadd(key, 'XX', until, member), this.redis.pexpire(key, this.leaseMs * 2)]);
      await Promise.all(renewals).catch((error: unknown) => this.warn(error));
      return;
    }
    const pipeline = this.redis.pipeline();
    for (const [member, key] of this.leases) pipeline.zadd(key, 'XX', until, member).pexpire(key, this.leaseMs * 2);
    await pipeline.exec().catch((error: unknown) => this.warn(error));
  }

  private warn(error: unknown): void {
    if (Date.now() - this.lastWarning < 10_000) return;
    this.lastWarning = Date.now();
    this.log.warn({ err: error }, 'subscription quota cannot reach Redis; counting on this replica only until it can');
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

export function createSubscriptionQuota(options: { redisUrl?: RedisTarget | undefined; redisPrefix: string; max: number }, log: Logger): SubscriptionQuota {
  return options.redisUrl
    ? new RedisSubscriptionQuota({ url: options.redisUrl, prefix: options.redisPrefix }, options.max, log)
    : new MemorySubscriptionQuota(options.max);
}

function once(release: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    release();
  };
}
