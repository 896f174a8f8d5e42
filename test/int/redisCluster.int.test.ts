// The Redis contract suites (read store, change feed, receipts, rate limiter) on a real Redis Cluster of
// 6 nodes (3 masters, 3 replicas) started for this file, plus what only a cluster can show: each script
// stays in one slot, load spreads over the masters, and a write cut between its steps heals.
import { Cluster } from 'ioredis';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { RedisChangeFeed } from '../../src/infrastructure/redis/redisChangeFeed.js';
import { RedisReadStore } from '../../src/infrastructure/redis/redisReadStore.js';
import { RedisReceipts } from '../../src/infrastructure/receipts/redisReceipts.js';
import { RedisRateLimiter } from '../../src/security/rateLimit.js';
import { startRedisCluster, keySlot, type RedisCluster } from '../clusters.js';
import { changeFeedContract } from '../contracts/changeFeed.contract.js';
import { orderDoc, readStoreContract } from '../contracts/readStore.contract.js';
import { receiptsContract } from '../contracts/receipts.contract.js';
import { contractClock, contractLimit, rateLimiterContract } from '../contracts/rateLimiter.contract.js';
import { uniqueName } from '../services.js';

let cluster: RedisCluster;
let seeds: string[];

beforeAll(async () => {
  cluster = await startRedisCluster();
  seeds = cluster.urls.split(',');
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
});

async function connectedStore(prefix: string): Promise<RedisReadStore> {
  const store = new RedisReadStore({ url: seeds, prefix });
  await store.ping();
  return store;
}

readStoreContract('Redis Cluster', async () => {
  const store = await connectedStore(uniqueName('readstore'));
  return { store, cleanup: () => store.close() };
});

changeFeedContract('Redis Cluster', async () => {
  const prefix = uniqueName('changefeed');
  const feeds: [RedisChangeFeed, RedisChangeFeed] = [new RedisChangeFeed({ url: seeds, prefix, onError: () => {} }), new RedisChangeFeed({ url: seeds, prefix, onError: () => {} })];
  return { feeds, cleanup: async () => void (await Promise.all(feeds.map((feed) => feed.close()))) };
});

receiptsContract('Redis Cluster', async () => {
  const prefix = uniqueName('receipts');
  const stores: [RedisReceipts, RedisReceipts] = [new RedisReceipts({ url: seeds, prefix }), new RedisReceipts({ url: seeds, prefix })];
  return { stores, cleanup: async () => void (await Promise.all(stores.map((store) => store.close()))) };
});

rateLimiterContract('Redis Cluster', async () => {
  const prefix = uniqueName('ratelimit');
  const clock = contractClock();
  const log = pino({ level: 'silent' });
  const limiters: [RedisRateLimiter, RedisRateLimiter] = [
    new RedisRateLimiter({ url: seeds, prefix }, contractLimit, log, clock),
    new RedisRateLimiter({ url: seeds, prefix }, contractLimit, log, clock),
  ];
  // A limiter admits everything while Redis is away: have the cluster answer first, so the contract can fail.
  const probe = raw();
  await probe.ping();
  await probe.quit();
  return { limiters, cleanup: async () => void (await Promise.all(limiters.map((limiter) => limiter.close()))) };
});

function raw(): Cluster {
  const redis = new Cluster(seeds.map((url) => ({ host: '127.0.0.1', port: Number(new URL(url).port) })), { scaleReads: 'master' });
  redis.on('error', () => {});
  return redis;
}

const userOrderEffects = (id: string, user: string) => ({
  indexes: [
    { index: 'all', member: id, score: 1 },
    { index: `user:${user}`, member: id, score: 1 },
    { index: `user:${user}:status:CREATED`, member: id, score: 1 },
    { index: 'status:CREATED', member: id, score: 1 },
  ],
});

describe('Redis Cluster read store', () => {
  describe('when documents of many orders and users are written', () => {
    it('spreads documents and per-user indexes over every master', async () => {
      const prefix = uniqueName('spread');
      const store = await connectedStore(prefix);
      const redis = raw();
      try {
        for (let i = 0; i < 60; i++) await store.apply('userOrder', `order-${i}`, 0, orderDoc(1), userOrderEffects(`order-${i}`, `u${i % 20}`));
        expect(await store.indexCount('userOrder:all')).toBe(60);
        expect(await store.indexCount('userOrder:user:u3')).toBe(3);
        const masters = await cluster.masters();
        const docMasters = new Set<number>();
        const userMasters = new Set<number>();
        for (let i = 0; i < 60; i++) docMasters.add((await cluster.masterOf(keySlot(`${prefix}:doc:userOrder:{order-${i}}`))).port);
        for (let u = 0; u < 20; u++) userMasters.add((await cluster.masterOf(keySlot(`${prefix}:index:{userOrder:user:u${u}}`))).port);
        expect(docMasters.size).toBe(masters.length);
        expect(userMasters.size).toBe(masters.length);
        // The documents really are where the key names say.
        expect(await redis.hget(`${prefix}:doc:userOrder:{order-7}`, 'version')).toBe('1');
        expect(await redis.zscore(`${prefix}:index:{userOrder:user:u7}`, 'order-7')).toBe('1');
      } finally {
        await store.close();
        redis.disconnect();
      }
    });
  });

  describe('when a write stopped after its document step (a crash between slots)', () => {
    it('completes the index and counter effects at a read once its writer is gone a while, once', async () => {
      const prefix = uniqueName('pending');
      const store = await connectedStore(prefix);
      const redis = raw();
      try {
        // Written ten seconds ago: a writer still at work would have finished.
        const projectedAt = new Date(Date.now() - 10_000).toISOString();
        const pending = { ns: '', check: true, version: 1, events: 1, eventAt: orderDoc(1).eventAt, projectedAt, indexes: [['+', 'orderStat:all', 'o1', 5], ['+', 'orderStat:user:bob', 'o1', 5]], counters: [['orders', 1]] };
        await redis.hset(`${prefix}:doc:orderStat:{o1}`, { ...orderDoc(1), projectedAt, data: '{}', eventId: '', pending: JSON.stringify(pending) });
        expect(await store.indexCount('orderStat:all')).toBe(0);

        expect((await store.get('orderStat', 'o1'))?.version).toBe(1);
        expect(await store.indexRange('orderStat:all')).toEqual(['o1']);
        expect(await store.indexRange('orderStat:user:bob')).toEqual(['o1']);
        expect((await store.counters('orderStat')).values).toEqual({ orders: 1 });
        expect(await redis.hget(`${prefix}:doc:orderStat:{o1}`, 'pending')).toBeNull();

        // A redelivery of the same version finds nothing left to do; the next version applies on top.
        expect(await store.apply('orderStat', 'o1', 0, orderDoc(1), { counters: { orders: 1 } })).toBe(false);
        expect(await store.apply('orderStat', 'o1', 1, orderDoc(2), { counters: { revenue: 10 } })).toBe(true);
        expect((await store.counters('orderStat')).values).toEqual({ orders: 1, revenue: 10 });
        expect((await store.counters('orderStat')).events).toBe(2);
      } finally {
        await store.close();
        redis.disconnect();
      }
    });

    it('completes them before the next version applies', async () => {
      const prefix = uniqueName('pending');
      const store = await connectedStore(prefix);
      const redis = raw();
      try {
        const pending = { ns: '', check: true, version: 1, events: 1, eventAt: orderDoc(1).eventAt, projectedAt: orderDoc(1).projectedAt, indexes: [['+', 'userOrder:status:CREATED', 'o2', 5]], counters: null };
        await redis.hset(`${prefix}:doc:userOrder:{o2}`, { ...orderDoc(1), data: '{}', eventId: '', pending: JSON.stringify(pending) });
        const moved = { indexes: [{ index: 'status:CREATED', member: 'o2', remove: true as const }, { index: 'status:PAID', member: 'o2', score: 5 }] };
        expect(await store.apply('userOrder', 'o2', 1, orderDoc(2), moved)).toBe(true);
        expect(await store.indexRange('userOrder:status:CREATED')).toEqual([]);
        expect(await store.indexRange('userOrder:status:PAID')).toEqual(['o2']);
      } finally {
        await store.close();
        redis.disconnect();
      }
    });
  });

  describe('when a write with effects succeeds on a healthy cluster', () => {
    it('clears its pending effects once a replica of each slot holds them', async () => {
      const prefix = uniqueName('replicated');
      const store = await connectedStore(prefix);
      const redis = raw();
      try {
        expect(await store.apply('userOrder', 'o3', 0, orderDoc(1), userOrderEffects('o3', 'carol'))).toBe(true);
        expect(await redis.hget(`${prefix}:doc:userOrder:{o3}`, 'pending')).toBeNull();
        // And the slot this code computes is the one Redis computes.
        for (const key of [`${prefix}:doc:userOrder:{o3}`, `${prefix}:index:{userOrder:user:carol}:status:CREATED`, 'no-tag', '{}empty-tag'])
          expect(keySlot(key)).toBe(Number(await redis.cluster('KEYSLOT', key)));
      } finally {
        await store.close();
        redis.disconnect();
      }
    });
  });

  describe('when writers on five connections expect the same version at once', () => {
    it('lets exactly one of them write, and its effects once', async () => {
      const prefix = uniqueName('race');
      const stores = await Promise.all(Array.from({ length: 5 }, () => connectedStore(prefix)));
      try {
        await stores[0]!.apply('orderStat', 'o', 0, orderDoc(1), { counters: { n: 1 } });
        const results = await Promise.all(stores.flatMap((store, s) => Array.from({ length: 10 }, (_, i) => store.apply('orderStat', 'o', 1, orderDoc(2, { writer: s * 10 + i }), { counters: { n: 1 } }))));
        expect(results.filter(Boolean)).toHaveLength(1);
        await vi.waitFor(async () => expect((await stores[0]!.counters('orderStat')).values).toEqual({ n: 2 }));
      } finally {
        await Promise.all(stores.map((store) => store.close()));
      }
    });
  });
});
