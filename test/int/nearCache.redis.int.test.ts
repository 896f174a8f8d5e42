import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { NearCache } from '../../src/infrastructure/redis/nearCache.js';
import { RedisReadStore } from '../../src/infrastructure/redis/redisReadStore.js';
import { metrics } from '../../src/metrics.js';
import type { VersionedDoc } from '../../src/ports.js';
import { documentStoreContract } from '../contracts/documentStore.contract.js';
import { orderDoc } from '../contracts/readStore.contract.js';
import { uniqueName, urls } from '../services.js';

const collection = 'orders';
const opened: { close(): Promise<unknown> }[] = [];

afterEach(async () => {
  await Promise.all(opened.splice(0).map((c) => c.close()));
});

function rawRedis(): Redis {
  const redis = new Redis(urls.redis, { maxRetriesPerRequest: 1 });
  redis.on('error', () => {});
  opened.push({ close: () => redis.quit() });
  return redis;
}

async function until(condition: () => boolean | Promise<boolean>, what: string, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function hits(): Promise<number> {
  return (await metrics.readCache.get()).values.find((v) => v.labels.outcome === 'hit')?.value ?? 0;
}

/** A store with a near cache, tracking its root namespace's `orders` documents already. */
async function trackingStore(maxEntries = 100): Promise<{ store: RedisReadStore; prefix: string; near: NearCache }> {
  const keyPrefix = uniqueName('nearcache');
  const store = new RedisReadStore({ url: urls.redis, prefix: keyPrefix, nearCacheEntries: maxEntries });
  opened.push(store);
  await store.ping();
  const prefix = `${keyPrefix}:doc:${collection}:`;
  const near = store.near!;
  await store.trackReads(collection); // as a query role does at start
  await until(() => near.tracks(prefix), 'tracking the prefix');
  return { store, prefix, near };
}

/** Such a store, with an order at version 1 that a query has read once. */
async function storeHolding(): Promise<Awaited<ReturnType<typeof trackingStore>> & { id: string; first: VersionedDoc | null }> {
  const tracking = await trackingStore();
  const id = uniqueName('order');
  await tracking.store.apply(collection, id, 0, orderDoc(1), {});
  const first = await tracking.store.get(collection, id, { cachedFrom: 0 });
  return { ...tracking, id, first };
}

documentStoreContract('Redis with a near cache', async () => {
  const { store } = await trackingStore();
  return { store, cleanup: async () => {} };
});

describe('Redis read store near cache', () => {
  it('answers a document it has read from memory, without asking Redis', async () => {
    const { store, id, first } = await storeHolding();
    const before = await hits();
    const again = await store.get(collection, id, { cachedFrom: 0 });
    expect(await hits()).toBe(before + 1);
    expect(again).toBe(first); // the very object kept
    expect(Object.isFrozen(again) && Object.isFrozen(again!.data)).toBe(true);
    // Reads without cachedFrom (writers, subscriptions) always go to Redis.
    await store.get(collection, id);
    expect(await hits()).toBe(before + 1);
  });

  it('drops a document that any client changes in Redis, notice or not', async () => {
    const { store, prefix, id } = await storeHolding();
    // Another client, no script, no change notice: Redis itself reports the key.
    await rawRedis().hset(prefix + id, { version: '7', data: JSON.stringify({ note: 'by hand' }) });
    await until(async () => (await store.get(collection, id, { cachedFrom: 0 }))?.version === 7, 'reading the change');
    await rawRedis().del(prefix + id);
    await until(async () => (await store.get(collection, id, { cachedFrom: 0 })) === null, 'reading the deletion');
  });

  it('does not keep a read that a change overtook on its way back', async () => {
    const { prefix, near } = await trackingStore();
    const key = prefix + uniqueName('order');
    const redis = rawRedis();
    await redis.hset(key, { version: '1' });
    let fetches = 0;
    const fetch = async (): Promise<VersionedDoc | null> => {
      fetches++;
      const version = Number(await redis.hget(key, 'version'));
      // The key changes after Redis answered, and its invalidation arrives before this answer is handled.
      if (fetches === 1) {
        await redis.hset(key, { version: '2' });
        await new Promise((r) => setTimeout(r, 50));
      }
      return orderDoc(version);
    };
    expect((await near.read(key, prefix, 0, fetch))?.version).toBe(1);
    expect((await near.read(key, prefix, 0, fetch))?.version).toBe(2);
    expect(fetches).toBe(2);
    expect((await near.read(key, prefix, 0, fetch))?.version).toBe(2);
    expect(fetches).toBe(2);
  });

  it('reads Redis when it holds less than the version asked for', async () => {
    const { prefix, near } = await trackingStore();
    const key = prefix + uniqueName('order');
    let version = 1;
    const fetch = async () => orderDoc(version);
    await near.read(key, prefix, 0, fetch);
    version = 2; // written, its invalidation not here yet
    expect((await near.read(key, prefix, 0, fetch))?.version).toBe(1);
    expect((await near.read(key, prefix, 2, fetch))?.version).toBe(2);
  });

  it('drops everything when its tracking connection is lost, and tracks again', async () => {
    const { store, prefix, near, id } = await storeHolding();
    expect(near.size).toBe(1);
    const redis = rawRedis();
    await redis.client('KILL', 'ID', String(near.trackingClientId));
    // Written while nobody tracks it for this process: no invalidation will ever come for it.
    await redis.hset(prefix + id, { version: '2' });
    await until(() => !near.tracks(prefix), 'noticing the lost connection');
    expect(near.size).toBe(0);
    await until(() => near.tracks(prefix), 'tracking again');
    expect((await store.get(collection, id, { cachedFrom: 0 }))?.version).toBe(2);
    const before = await hits();
    expect((await store.get(collection, id, { cachedFrom: 0 }))?.version).toBe(2);
    expect(await hits()).toBe(before + 1);
  });

  it('tracks a namespace a rebuild switched to', async () => {
    const { store, near, id } = await storeHolding();
    const ns = await store.namespaces.create();
    await store.namespaces.pinned(ns).apply(collection, id, 0, orderDoc(5), {});
    await store.namespaces.switchTo(collection, ns);
    expect((await store.get(collection, id, { cachedFrom: 0 }))?.version).toBe(5);
    const rebuilt = `${(store as unknown as { prefix: string }).prefix}:ns:${ns}:doc:${collection}:`;
    await until(() => near.tracks(rebuilt), 'tracking the new namespace');
    await store.get(collection, id, { cachedFrom: 0 });
    await store.apply(collection, id, 5, orderDoc(6), {});
    await until(async () => (await store.get(collection, id, { cachedFrom: 0 }))?.version === 6, 'reading a write in the new namespace');
  });

  it('holds at most its number of entries', async () => {
    const { store, near } = await trackingStore(2);
    const ids = [uniqueName('order'), uniqueName('order'), uniqueName('order')];
    for (const id of ids) await store.apply(collection, id, 0, orderDoc(1), {});
    // The writes' invalidations first: a read they overtake is not kept.
    await new Promise((r) => setTimeout(r, 50));
    for (const id of ids) await store.get(collection, id, { cachedFrom: 0 });
    expect(near.size).toBe(2);
  });
});
