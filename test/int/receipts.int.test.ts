import { Redis } from 'ioredis';
import { MemoryReceipts } from '../../src/infrastructure/receipts/memoryReceipts.js';
import { RedisReceipts } from '../../src/infrastructure/receipts/redisReceipts.js';
import { receiptsContract } from '../contracts/receipts.contract.js';
import { uniqueName, urls } from '../services.js';

receiptsContract('Redis', async () => {
  const prefix = uniqueName('receipts');
  const stores: [RedisReceipts, RedisReceipts] = [new RedisReceipts({ url: urls.redis, prefix }), new RedisReceipts({ url: urls.redis, prefix })];
  return {
    stores,
    async cleanup() {
      await Promise.all(stores.map((store) => store.close()));
      const redis = new Redis(urls.redis);
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length) await redis.del(...keys);
      await redis.quit();
    },
  };
});

receiptsContract('in-memory', async () => {
  const store = new MemoryReceipts();
  return { stores: [store, store], cleanup: () => store.close() };
});
