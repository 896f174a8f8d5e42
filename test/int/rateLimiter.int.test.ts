import { Redis } from 'ioredis';
import pino from 'pino';
import { MemoryRateLimiter, RedisRateLimiter } from '../../src/security/rateLimit.js';
import { contractClock, contractLimit, rateLimiterContract } from '../contracts/rateLimiter.contract.js';
import { uniqueName, urls } from '../services.js';

const log = pino({ level: 'silent' });

rateLimiterContract('in-memory', async () => {
  const limiter = new MemoryRateLimiter(contractLimit, contractClock());
  return { limiters: [limiter, limiter], cleanup: () => limiter.close() };
});

rateLimiterContract('Redis', async () => {
  const prefix = uniqueName('ratelimit');
  const clock = contractClock();
  const limiters: [RedisRateLimiter, RedisRateLimiter] = [
    new RedisRateLimiter({ url: urls.redis, prefix }, contractLimit, log, clock),
    new RedisRateLimiter({ url: urls.redis, prefix }, contractLimit, log, clock),
  ];
  // A limiter admits everything while Redis is away: make sure it is there, so the contract can fail.
  const probe = new Redis(urls.redis, { maxRetriesPerRequest: 1 });
  await probe.ping();
  return {
    limiters,
    async cleanup() {
      await Promise.all(limiters.map((limiter) => limiter.close()));
      const keys = await probe.keys(`${prefix}:*`);
      if (keys.length) await probe.del(...keys);
      await probe.quit();
    },
  };
});
