// The Redis rate limiter against the real Redis: a caller under half its limit costs no round trip (its
// operations reach Redis with the next background sync), past that Redis decides exactly, also for
// operations that arrive together, and replicas sharing Redis share one limit.
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { RedisRateLimiter, SYNC_MS, windowMs } from '../../src/security/rateLimit.js';
import { uniqueName, urls } from '../services.js';

const log = pino({ level: 'silent' });
const redis = new Redis(urls.redis);
const limiters: RedisRateLimiter[] = [];
afterAll(async () => {
  await Promise.all(limiters.map((limiter) => limiter.close()));
  await redis.quit();
});

function limiter(prefix: string, limit: number) {
  const created = new RedisRateLimiter({ url: urls.redis, prefix }, limit, log);
  limiters.push(created);
  return created;
}
const counted = (prefix: string, key: string) => redis.get(`${prefix}:ratelimit:{${key}}:${Math.floor(Date.now() / windowMs)}`);
const allowed = async (decisions: Promise<{ allowed: boolean }>[]) => (await Promise.all(decisions)).filter((d) => d.allowed).length;

describe('RedisRateLimiter on a real Redis', () => {
  it('admits a caller under half its limit without asking Redis, and counts it there with the next sync', async () => {
    const prefix = uniqueName('rl');
    const one = limiter(prefix, 100);
    expect(await allowed(Array.from({ length: 10 }, () => one.take('alice')))).toBe(10);
    expect(await counted(prefix, 'alice')).toBeNull(); // no round trip on the request path
    await expect.poll(() => counted(prefix, 'alice'), { timeout: SYNC_MS * 8, interval: 50 }).toBe('10');
  });

  it('decides in Redis past half the limit, exactly, also for operations that arrive together', async () => {
    const prefix = uniqueName('rl');
    const one = limiter(prefix, 7);
    expect(await allowed(Array.from({ length: 12 }, () => one.take('bob')))).toBe(7);
    expect(await counted(prefix, 'bob')).toBe('7');
    const refused = await one.take('bob');
    expect(refused.allowed).toBe(false);
    expect(refused.retryAfterMs).toBeGreaterThan(0);
  });

  it('holds one limit for replicas sharing Redis, overshooting by at most what each admits unsynced', async () => {
    const prefix = uniqueName('rl');
    const limit = 6;
    const [a, b] = [limiter(prefix, limit), limiter(prefix, limit)];
    const decisions: boolean[] = [];
    for (let i = 0; i < 12; i++) decisions.push((await (i % 2 ? b : a).take('carol')).allowed);
    const admitted = decisions.filter(Boolean).length;
    // K replicas: the limit, plus at most (K - 1) x LOCAL_SHARE x limit admitted before a sync.
    expect(admitted).toBeGreaterThanOrEqual(limit);
    expect(admitted).toBeLessThanOrEqual(limit + limit / 2);
    expect(decisions.slice(-4)).toEqual([false, false, false, false]);
    await new Promise((resolve) => setTimeout(resolve, SYNC_MS * 3));
    expect(Number(await counted(prefix, 'carol'))).toBe(admitted); // every admitted one counted once
    expect([(await a.take('carol')).allowed, (await b.take('carol')).allowed]).toEqual([false, false]);
  });

  it('keeps limiting on its own count while Redis cannot be reached', async () => {
    const offline = new RedisRateLimiter({ url: 'redis://127.0.0.1:1', prefix: uniqueName('rl') }, 4, log);
    limiters.push(offline);
    const decisions: boolean[] = [];
    for (let i = 0; i < 6; i++) decisions.push((await offline.take('dave')).allowed);
    expect(decisions).toEqual([true, true, true, true, false, false]);
  });
});
