import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ROOT_NAMESPACE } from '../../src/infrastructure/readStoreLayout.js';
import { consumerOf, rebuildLease } from '../../src/readModels/projection.js';
import { orderDetails } from '../../src/readModels/orderDetails/projection.js';
import { listOrders } from '../../src/readModels/userOrders/queries.js';
import { orderStats } from '../../src/readModels/orderStats/queries.js';
import { rebuild } from '../../src/projectors/rebuild.js';
import { projections } from '../../src/readModels/index.js';
import { projectionStatus } from '../../src/projectors/status.js';
import { urls } from '../services.js';
import { expectConverged } from './convergence.js';
import { appendOne, deleteRedisPrefix, openPipeline, type Pipeline, quietLog, writeOrders } from './fixtures/pipeline.js';

let p: Pipeline;
let projector: Awaited<ReturnType<Pipeline['startProjector']>>;
beforeAll(async () => {
  p = await openPipeline();
  await p.startRelay();
  projector = await p.startProjector();
  await writeOrders(p.store, { orders: 60, seed: 31 });
  await expectConverged(p);
});
afterAll(async () => {
  await p?.close();
});

async function keyCount(match: string): Promise<number> {
  const redis = new Redis(urls.redis, { maxRetriesPerRequest: 1 });
  try {
    let count = 0;
    for await (const keys of redis.scanStream({ match, count: 1000 })) count += (keys as string[]).length;
    return count;
  } finally {
    redis.disconnect();
  }
}

describe('when Redis starts empty', () => {
  it('the projector rebuilds every read model by itself', async () => {
    await projector.stop();
    await deleteRedisPrefix(p.env.REDIS_PREFIX);
    projector = await p.startProjector();
    // The sweep at start may bring these (recent) orders back into the old namespace first; the
    // rebuild is what this asserts, so wait for it to switch, then for the read models to match.
    await vi.waitFor(async () => {
      for (const projection of projections) expect(await p.readStore.namespaces.active(projection.collection)).not.toBe(ROOT_NAMESPACE);
    }, { timeout: 20_000, interval: 100 });
    await expectConverged(p);
    // Done once the old namespace is dropped and the lease let go.
    await vi.waitFor(async () => expect(await Promise.all(projections.map((x) => p.readStore.leaseHolder(rebuildLease(x))))).toEqual([null, null, null]), { timeout: 10_000 });
  });
});

describe('when Redis loses its data under a running projector, and reconciliation looks back only a moment', () => {
  it('notices the lost completeness marker and rebuilds, so idle orders come back too', async () => {
    await projector.stop();
    // Nothing is "recent" to reconciliation here: only the rebuild can bring the idle orders back.
    projector = await p.startProjector({ reconcileWindowMs: 1 });
    await expectConverged(p);
    await deleteRedisPrefix(p.env.REDIS_PREFIX);
    // New orders keep the projectors writing checkpoints, so Redis never looks empty again.
    await writeOrders(p.store, { orders: 10, seed: 33 });
    await expectConverged(p);
    await vi.waitFor(async () => expect(await Promise.all(projections.map((x) => p.readStore.leaseHolder(rebuildLease(x))))).toEqual([null, null, null]), { timeout: 10_000 });
  });
});

describe('when every read model is rebuilt while orders keep coming', () => {
  it('ends equal to the event store, in new namespaces, with the old ones gone', async () => {
    const before = new Map(await Promise.all(projections.map(async (x) => [x.collection, await p.readStore.namespaces.active(x.collection)] as const)));
    const writing = writeOrders(p.store, { orders: 60, seed: 32, concurrency: 4 });
    const results = await Promise.all(projections.map((projection) => rebuild({ ...p, log: quietLog }, projection, { pageSize: 50 })));
    await writing;
    await expectConverged(p);
    for (const [i, projection] of projections.entries()) {
      expect(await p.readStore.namespaces.active(projection.collection)).toBe(results[i]!.namespace);
      expect(await keyCount(`${p.env.REDIS_PREFIX}:ns:${before.get(projection.collection)}:doc:${projection.collection}:*`)).toBe(0);
    }
  });
});

describe('when the log interleaves the events of many orders and the rebuild holds only a few orders at a time', () => {
  it('writes documents, lists and counters equal to what the live projectors wrote', async () => {
    // 24 writers at once: each page of the log mixes the events of many orders, and every order is
    // written, read back and folded on several times (flushes of 5 orders, pages of 7 events).
    const ids = await writeOrders(p.store, { orders: 80, seed: 34, concurrency: 24 });
    await expectConverged(p);
    const snapshot = async () =>
      Promise.all(
        projections.map(async (projection) => ({
          docs: (await p.readStore.getMany(projection.collection, ids)).map((doc) => doc && { ...doc, projectedAt: undefined }),
          counters: (await p.readStore.counters(projection.collection)).values,
        })),
      );
    const live = await snapshot();
    // projectedAt says when a document was written, which a rebuild changes by design.
    const list = async () => JSON.parse(JSON.stringify(await listOrders(p.readStore, { userId: null, first: 100 }), (key, value: unknown) => (key === 'projectedAt' ? undefined : value)));
    const lists = await list();
    for (const projection of projections) await rebuild({ ...p, log: quietLog }, projection, { pageSize: 7, flushOrders: 5 });
    expect(await snapshot()).toEqual(live);
    expect(await list()).toEqual(lists);
    await expectConverged(p);
  });
});

describe('when the read models are caught up', () => {
  it('status says LIVE with no lag, and the queries answer from Redis', async () => {
    await vi.waitFor(
      async () => {
        const status = await projectionStatus(p.readStore, projections);
        expect(status.map((s) => [s.name, s.state, s.lagEvents, s.lagMs, s.deadLetters])).toEqual(projections.map((x) => [x.name, 'LIVE', 0, 0, 0]));
        expect(new Set(status.map((s) => s.headPosition))).toEqual(new Set([String(await p.store.headPosition())]));
      },
      { timeout: 10_000, interval: 200 },
    );
    const created = (await p.store.readAll(0n, 1_000_000)).filter((event) => event.type === 'OrderCreated').length;
    expect(created).toBeGreaterThan(100);
    const stats = await orderStats(p.readStore);
    expect(stats.totalOrders).toBe(created);
    expect(stats.byStatus.reduce((sum, s) => sum + s.count, 0)).toBe(created);

    // Paging newest first by cursor visits every order once.
    const seen: string[] = [];
    let after: string | null = null;
    do {
      const page: Awaited<ReturnType<typeof listOrders>> = await listOrders(p.readStore, { userId: null, first: 7, after });
      expect(page.totalCount).toBe(created);
      seen.push(...page.edges.map((edge) => edge.node.data.id));
      after = page.hasNextPage ? page.endCursor : null;
    } while (after);
    expect(new Set(seen).size).toBe(created);
    expect(seen).toEqual(await p.readStore.indexRange('userOrder:all', { reverse: true }));
  });
});

// Last: the dead letter it leaves would change the status above.
describe('when an order in the middle of the log has an event its projections cannot apply', () => {
  it('the rebuild dead-letters it, keeps the order at its last good version and folds every other order', async () => {
    const poisoned = randomUUID();
    await appendOne(p.store, poisoned, 0, { type: 'OrderCreated', data: { orderId: poisoned, userId: 'user-poison', currency: 'EUR', items: [{ sku: 'A', name: 'A', quantity: 1, unitPriceCents: 500 }] } }, 'user-poison');
    const writing = writeOrders(p.store, { orders: 20, seed: 35, concurrency: 8 });
    // Around the command path and the outbox, as a bad migration might: only a rebuild reads it.
    const db = new pg.Client({ connectionString: p.db.url });
    await db.connect();
    await db.query(`INSERT INTO events (event_id, stream_id, version, type, schema_version, data, metadata) VALUES ($1, $2, 2, 'OrderItemAdded', 1, '{"item": null}', $3)`, [
      randomUUID(),
      poisoned,
      JSON.stringify({ eventId: randomUUID(), commandId: 'c', correlationId: 'c', causationId: 'c', userId: 'user-poison' }),
    ]);
    await db.end();
    await appendOne(p.store, poisoned, 2, { type: 'OrderConfirmed', data: {} }, 'user-poison');
    await writing;
    for (const projection of projections) await rebuild({ ...p, log: quietLog }, projection, { pageSize: 7, flushOrders: 5 });
    expect((await p.readStore.get(orderDetails.collection, poisoned))?.version).toBe(1);
    expect((await p.deadLetters.list({ unresolvedOnly: true })).filter((l) => l.streamId === poisoned && l.consumer === consumerOf(orderDetails.name)).map((l) => l.version)).toContain(2);
    await expectConverged(p);
  });
});
