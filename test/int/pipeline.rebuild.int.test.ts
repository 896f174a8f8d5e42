import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ROOT_NAMESPACE } from '../../src/infrastructure/readIndex.js';
import { listOrders, orderStats } from '../../src/projectors/queries.js';
import { rebuild, rebuildLease } from '../../src/projectors/rebuild.js';
import { projections } from '../../src/projectors/role.js';
import { projectionStatus } from '../../src/projectors/status.js';
import { urls } from '../services.js';
import { expectConverged } from './convergence.js';
import { deleteRedisPrefix, openPipeline, type Pipeline, quietLog, writeOrders } from './fixtures/pipeline.js';

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
    await expectConverged(p);
    for (const projection of projections) expect(await p.readStore.namespaces.active(projection.collection)).not.toBe(ROOT_NAMESPACE);
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
      seen.push(...page.edges.map((edge) => edge.doc.data.id));
      after = page.hasNextPage ? page.endCursor : null;
    } while (after);
    expect(new Set(seen).size).toBe(created);
    expect(seen).toEqual(await p.readStore.indexRange('userOrder:all', { reverse: true }));
  });
});
