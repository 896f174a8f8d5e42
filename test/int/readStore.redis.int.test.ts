import { Redis } from 'ioredis';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { RedisReadStore } from '../../src/infrastructure/redis/redisReadStore.js';
import { orderDoc, readStoreContract } from '../contracts/readStore.contract.js';
import { indexAdd } from '../readIndex.js';
import { uniqueName, urls } from '../services.js';

const prefix = uniqueName('readstore');

async function connectedStore(): Promise<RedisReadStore> {
  const store = new RedisReadStore({ url: urls.redis, prefix });
  // Fails here, with the connection error, when Redis is down.
  await store.ping();
  return store;
}

function rawRedis(): Redis {
  const redis = new Redis(urls.redis, { maxRetriesPerRequest: 1 });
  redis.on('error', () => {}); // commands report it
  return redis;
}

readStoreContract('Redis', async () => {
  const store = await connectedStore();
  return { store, cleanup: () => store.close() };
});

describe('Redis read store', () => {
  describe('when writers on five connections expect the same version at once', () => {
    it('lets exactly one of them write', async () => {
      const stores = await Promise.all(Array.from({ length: 5 }, connectedStore));
      try {
        const id = uniqueName('order');
        await stores[0]!.apply('orders', id, 0, orderDoc(1), {});
        const results = await Promise.all(
          stores.flatMap((store, s) =>
            Array.from({ length: 10 }, (_, i) => store.apply('orders', id, 1, orderDoc(2, { writer: s * 10 + i }), {})),
          ),
        );
        expect(results.filter(Boolean)).toHaveLength(1);
        expect((await stores[0]!.get('orders', id))?.data).toEqual({ writer: results.indexOf(true) });
      } finally {
        await Promise.all(stores.map((store) => store.close()));
      }
    });
  });

  describe('when a document, a checkpoint and an index entry are written', () => {
    it('keeps them all under the prefix', async () => {
      const store = await connectedStore();
      const redis = rawRedis();
      try {
        const id = uniqueName('order');
        await store.apply('orders', id, 0, orderDoc(1, { layout: true }), {});
        await store.setCheckpoint('layout', 12n);
        await indexAdd(store, 'layout:all', id, 1);
        expect(await redis.hgetall(`${prefix}:doc:orders:${id}`)).toMatchObject({ version: '1', data: '{"layout":true}' });
        expect(await redis.get(`${prefix}:checkpoint:layout`)).toBe('12');
        expect(await redis.zscore(`${prefix}:index:layout:all`, id)).toBe('1');
      } finally {
        await store.close();
        await redis.quit();
      }
    });
  });

  describe('when reads are asked in one turn of the event loop', () => {
    it('sends them to Redis in one write and answers each with its own document', async () => {
      const store = await connectedStore();
      try {
        const ids = Array.from({ length: 20 }, () => uniqueName('order'));
        for (const [i, id] of ids.entries()) await store.apply('orders', id, 0, orderDoc(1, { n: i }), {});
        await store.get('orders', ids[0]!); // the namespace cached: every read below asks Redis once
        const socket = (store as unknown as { redis: Redis }).redis.stream;
        const single = vi.spyOn(socket, '_write');
        const batched = vi.spyOn(socket, '_writev');
        const docs = await Promise.all(ids.map((id) => store.get<{ n: number }>('orders', id)));
        expect(docs.map((doc) => doc?.data.n)).toEqual(ids.map((_, i) => i));
        // Uncorked, each HGETALL was a write (a system call) of its own.
        expect(single).not.toHaveBeenCalled();
        expect(batched).toHaveBeenCalledTimes(1);
        expect(batched.mock.calls[0]![0]).toHaveLength(ids.length);
      } finally {
        await store.close();
      }
    });
  });
});

afterAll(async () => {
  const redis = rawRedis();
  try {
    for await (const keys of redis.scanStream({ match: `${prefix}:*`, count: 200 })) {
      if ((keys as string[]).length > 0) await redis.del(...(keys as string[]));
    }
  } finally {
    redis.disconnect();
  }
});
