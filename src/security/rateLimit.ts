import type { Logger } from 'pino';
import { AppError } from '../domain/errors.js';
import { connectRedis, type RedisClient, type RedisTarget } from '../infrastructure/redis/connection.js';
import { metrics } from '../metrics.js';

export class RateLimitedError extends AppError {
  readonly code = 'RATE_LIMITED';
}

export interface RateDecision {
  allowed: boolean;
  /** When a refused caller may expect the next operation to pass; 0 when allowed. */
  retryAfterMs: number;
}

export interface RateLimiter {
  /** Counts one operation for `key` if the caller is under the limit. */
  take(key: string): Promise<RateDecision>;
  close(): Promise<void>;
}

export const windowMs = 60_000;

// A sliding window approximated by two fixed ones: the previous minute's count weighs by the share of
// it the sliding minute still covers. Fixed windows alone would let a caller send twice the limit
// around a window boundary. Refused operations are not counted, so a caller that backs off gets back in.
function decide(previous: number, current: number, elapsed: number, limit: number): RateDecision {
  const estimate = (previous * (windowMs - elapsed)) / windowMs + current;
  if (estimate + 1 <= limit) return { allowed: true, retryAfterMs: 0 };
  if (current + 1 > limit || previous === 0) return { allowed: false, retryAfterMs: windowMs - elapsed };
  // The previous window's weight falls linearly; find when the estimate leaves room for one more.
  const wait = windowMs - elapsed - ((limit - 1 - current) * windowMs) / previous;
  return { allowed: false, retryAfterMs: Math.max(1, Math.ceil(wait)) };
}

/** One process's view: enough when a single instance serves, or with no Redis configured. */
export class MemoryRateLimiter implements RateLimiter {
  private readonly windows = new Map<string, { index: number; previous: number; current: number }>();
  private swept = 0;

  constructor(
    private readonly limit: number,
    private readonly now: () => number = Date.now,
  ) {}

  async take(key: string): Promise<RateDecision> {
    const now = this.now();
    const index = Math.floor(now / windowMs);
    this.sweep(index);
    let counts = this.windows.get(key);
    if (!counts || counts.index < index - 1) counts = { index, previous: 0, current: 0 };
    else if (counts.index === index - 1) counts = { index, previous: counts.current, current: 0 };
    this.windows.set(key, counts);
    const decision = decide(counts.previous, counts.current, now - index * windowMs, this.limit);
    if (decision.allowed) counts.current++;
    return decision;
  }

  async close(): Promise<void> {
    this.windows.clear();
  }

  /** Once a window: forget callers idle for two windows, so memory follows active callers only. */
  private sweep(index: number): void {
    if (index === this.swept) return;
    this.swept = index;
    for (const [key, counts] of this.windows) if (counts.index < index - 1) this.windows.delete(key);
  }
}

type ScriptedRedis = RedisClient & { takeRate(current: string, previous: string, limit: number, window: number, elapsed: number, pending: number): Promise<[number, number, number]> };

// Counts `pending` operations admitted locally since the last sync, then decides on one more; answers
// the counts after that. Integers only (ioredis 6 speaks RESP3).
const SYNC_AND_TAKE = `
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local previous = tonumber(redis.call('GET', KEYS[2]) or '0')
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local elapsed = tonumber(ARGV[3])
local pending = tonumber(ARGV[4])
if pending > 0 then
  current = redis.call('INCRBY', KEYS[1], pending)
  redis.call('PEXPIRE', KEYS[1], window * 2)
end
if previous * (window - elapsed) / window + current + 1 > limit then
  return {0, current, previous}
end
current = redis.call('INCR', KEYS[1])
if current == 1 then redis.call('PEXPIRE', KEYS[1], window * 2) end
return {1, current, previous}
`;

/** What one process knows of a caller's window: the shared counts at the last sync, and its own since. */
interface Known {
  index: number;
  previous: number;
  current: number;
  /** Admitted here and not yet counted in Redis. */
  pending: number;
  /** Past its local share in this window: every further operation is decided in Redis. */
  remote: boolean;
}

/**
 * Share of the limit a process admits on what it knows, without asking Redis: a caller well under its
 * limit (nearly every caller) costs no round trip; one nearing it is decided in Redis, exactly.
 */
export const LOCAL_SHARE = 0.5;
/** How often locally admitted operations are counted in Redis and the shared counts read back. */
export const SYNC_MS = 250;

/**
 * Counts in Redis, so the limit holds for a caller across every replica, without a round trip on the
 * request path while the caller is under half its limit: those operations are counted here and added to
 * Redis in the background every SYNC_MS, in one pipeline for all callers. Past half the limit (by the
 * shared count plus its own), a process decides in Redis, in one step that first adds what it admitted
 * locally, so the limit itself is exact. What K replicas can admit beyond it is bounded by what each may
 * admit locally between two syncs: at most (K − 1) × half the limit, once, in a sync interval.
 * Windows follow this host's clock; replicas kept within NTP agree to the millisecond. A limiter that
 * cannot reach Redis decides on what it knows (its own count keeps limiting), and says so in the log at
 * most every 10 s: rate limiting must not turn a Redis outage into an API outage.
 */
export class RedisRateLimiter implements RateLimiter {
  private readonly redis: ScriptedRedis;
  private readonly prefix: string;
  private readonly known = new Map<string, Known>();
  private readonly timer: NodeJS.Timeout;
  private syncing: Promise<void> | null = null;
  private lastWarning = 0;

  constructor(
    options: { url: RedisTarget; prefix: string },
    private readonly limit: number,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.prefix = `${options.prefix}:ratelimit`;
    // Its own connection: a slow or failing limiter never queues behind read-store traffic.
    this.redis = connectRedis(options.url, {
      maxRetriesPerRequest: 1,
      commandTimeout: 500,
      scripts: { takeRate: { numberOfKeys: 2, lua: SYNC_AND_TAKE } },
    }) as ScriptedRedis;
    this.redis.on('error', () => {});
    this.timer = setInterval(() => void this.sync(), SYNC_MS).unref();
  }

  async take(key: string): Promise<RateDecision> {
    const now = this.now();
    const index = Math.floor(now / windowMs);
    const elapsed = now - index * windowMs;
    const known = this.windowOf(key, index);
    if (!known.remote) {
      const local = decide(known.previous, known.current + known.pending, elapsed, this.limit * LOCAL_SHARE);
      if (local.allowed) {
        known.pending++;
        return local;
      }
      // From now on in this window, Redis decides: also for operations that arrive while this one is
      // on its way there, which would otherwise be judged on counts that no longer hold.
      known.remote = true;
    }
    try {
      // While Redis is away, do not make every operation wait out the command timeout first.
      if (['reconnecting', 'close', 'end'].includes(this.redis.status)) throw new Error(`Redis not connected (${this.redis.status})`);
      const pending = known.pending;
      known.pending = 0;
      const [allowed, current, previous] = await this.redis.takeRate(...this.keysOf(key, index), this.limit, windowMs, elapsed, pending).catch((error: unknown) => {
        known.pending += pending; // not counted there: keep it for the next sync
        throw error;
      });
      if (known.index === index) Object.assign(known, { current: Math.max(known.current, current), previous });
      return allowed === 1 ? { allowed: true, retryAfterMs: 0 } : decide(previous, current, elapsed, this.limit);
    } catch (error) {
      this.warn(error);
      const decision = decide(known.previous, known.current + known.pending, elapsed, this.limit);
      if (decision.allowed) known.pending++;
      return decision;
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.sync();
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  /** The hash tag keeps both windows of one caller in one slot of a Redis Cluster. */
  private keysOf(key: string, index: number): [string, string] {
    const base = `${this.prefix}:{${key}}`;
    return [`${base}:${index}`, `${base}:${index - 1}`];
  }

  private windowOf(key: string, index: number): Known {
    let known = this.known.get(key);
    if (!known || known.index < index - 1) known = { index, previous: 0, current: 0, pending: 0, remote: false };
    // A new window: what this process admitted in the one that ended and had not synced yet weighs here
    // as part of it (Redis misses at most one sync interval of it), and Redis decides again only past the share.
    else if (known.index === index - 1) known = { index, previous: known.current + known.pending, current: 0, pending: 0, remote: false };
    this.known.set(key, known);
    return known;
  }

  /**
   * Adds every caller's local count to Redis and reads the shared counts back: one pipeline per caller,
   * all sent at once (a caller's two windows share a hash tag, so each pipeline is one slot of a cluster).
   */
  private sync(): Promise<void> {
    return (this.syncing ??= this.syncOnce().finally(() => (this.syncing = null)));
  }

  private async syncOnce(): Promise<void> {
    const index = Math.floor(this.now() / windowMs);
    const batch: { key: string; known: Known; pending: number }[] = [];
    for (const [key, known] of this.known) {
      if (known.index < index - 1) this.known.delete(key); // idle for a whole window: forget it
      else if (known.pending > 0 || known.index === index) batch.push({ key, known, pending: known.pending });
    }
    if (batch.length === 0 || this.redis.status !== 'ready') return;
    let failure: unknown = null;
    await Promise.all(
      batch.map(async ({ key, known, pending }) => {
        const [current, previous] = this.keysOf(key, known.index);
        const pipeline = this.redis.pipeline();
        if (pending > 0) pipeline.incrby(current, pending).pexpire(current, windowMs * 2);
        else pipeline.get(current);
        pipeline.get(previous);
        known.pending -= pending;
        try {
          const replies = (await pipeline.exec()) ?? [];
          const failed = replies.find(([error]) => error);
          if (failed) throw failed[0];
          known.current = Math.max(known.current, Number(replies[0]?.[1] ?? 0));
          known.previous = Math.max(known.previous, Number(replies.at(-1)?.[1] ?? 0));
        } catch (error) {
          known.pending += pending;
          failure ??= error;
        }
      }),
    );
    if (failure) this.warn(failure);
  }

  private warn(error: unknown): void {
    const now = this.now();
    if (now - this.lastWarning > 10_000) {
      this.lastWarning = now;
      this.log.warn({ err: error }, 'rate limiter cannot reach Redis; limiting on what this process counted until it can');
    }
  }
}

export function createRateLimiter(options: { redisUrl?: RedisTarget | undefined; redisPrefix: string; perMinute: number }, log: Logger): RateLimiter {
  return options.redisUrl
    ? new RedisRateLimiter({ url: options.redisUrl, prefix: options.redisPrefix }, options.perMinute, log)
    : new MemoryRateLimiter(options.perMinute);
}

/** Takes one operation for the caller; a refusal is counted and answered as RATE_LIMITED. */
export async function admit(limiter: RateLimiter, key: string): Promise<RateLimitedError | null> {
  const decision = await limiter.take(key);
  if (decision.allowed) return null;
  metrics.rateLimited.inc();
  const retryAfterSeconds = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
  return new RateLimitedError(`too many requests: retry in ${retryAfterSeconds} s`, { retryAfterSeconds });
}
