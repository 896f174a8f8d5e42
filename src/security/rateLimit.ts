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

// Reads both windows and counts the operation in one step, so replicas racing on one caller never
// admit more than the limit between them. Answers integers only (ioredis 6 speaks RESP3).
const TAKE = `
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local previous = tonumber(redis.call('GET', KEYS[2]) or '0')
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local elapsed = tonumber(ARGV[3])
if previous * (window - elapsed) / window + current + 1 > limit then
  return {0, current, previous}
end
current = redis.call('INCR', KEYS[1])
if current == 1 then redis.call('PEXPIRE', KEYS[1], window * 2) end
return {1, current, previous}
`;

type ScriptedRedis = RedisClient & { takeRate(current: string, previous: string, limit: number, window: number, elapsed: number): Promise<[number, number, number]> };

/**
 * Counts in Redis, so the limit holds for a caller across every replica. Windows follow this host's
 * clock; replicas kept within NTP agree to the millisecond, which a one-minute window does not notice.
 * A limiter that cannot reach Redis admits the operation (and says so in the log, at most every 10 s):
 * rate limiting must not turn a Redis outage into an API outage.
 */
export class RedisRateLimiter implements RateLimiter {
  private readonly redis: ScriptedRedis;
  private readonly prefix: string;
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
      scripts: { takeRate: { numberOfKeys: 2, lua: TAKE } },
    }) as ScriptedRedis;
    this.redis.on('error', () => {});
  }

  async take(key: string): Promise<RateDecision> {
    const now = this.now();
    const index = Math.floor(now / windowMs);
    const elapsed = now - index * windowMs;
    // The hash tag keeps both windows of one caller in one slot of a Redis Cluster.
    const base = `${this.prefix}:{${key}}`;
    try {
      // While Redis is away, do not make every operation wait out the command timeout first.
      if (['reconnecting', 'close', 'end'].includes(this.redis.status)) throw new Error(`Redis not connected (${this.redis.status})`);
      const [allowed, current, previous] = await this.redis.takeRate(`${base}:${index}`, `${base}:${index - 1}`, this.limit, windowMs, elapsed);
      return allowed === 1 ? { allowed: true, retryAfterMs: 0 } : decide(previous, current, elapsed, this.limit);
    } catch (error) {
      if (now - this.lastWarning > 10_000) {
        this.lastWarning = now;
        this.log.warn({ err: error }, 'rate limiter cannot reach Redis; admitting operations unlimited until it can');
      }
      return { allowed: true, retryAfterMs: 0 };
    }
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
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
