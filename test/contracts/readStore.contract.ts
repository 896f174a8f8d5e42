import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ReadStore, VersionedDoc } from '../../src/ports.js';
import { indexAdd } from '../readIndex.js';
import { uniqueName } from '../services.js';

/** Stores must be on a prefix of their own: the namespace tests switch and drop whole collections. */
export interface ReadStoreUnderTest {
  store: ReadStore;
  cleanup(): Promise<void>;
}

const collection = 'orders';

export function orderDoc(version: number, data: unknown = { note: `at v${version}` }): VersionedDoc {
  return {
    version,
    eventAt: new Date(Date.UTC(2026, 0, 1, 12, 0, version)).toISOString(),
    projectedAt: new Date().toISOString(),
    data,
  };
}

/** What every ReadStore must do; both adapters run it. */
export function readStoreContract(name: string, make: () => Promise<ReadStoreUnderTest>): void {
  describe(`${name} read store`, () => {
    let store: ReadStore;
    let cleanup: (() => Promise<void>) | undefined;
    let id: string;

    // A store per test, so that with the server down every test fails rather than being skipped.
    beforeEach(async () => {
      ({ store, cleanup } = await make());
      id = uniqueName('order');
    });
    afterEach(async () => {
      await cleanup?.();
    });

    describe('when the document does not exist', () => {
      it('gets null', async () => {
        expect(await store.get(collection, id)).toBeNull();
      });

      it('creates it with a write expecting version 0', async () => {
        expect(await store.compareAndSet(collection, id, 0, orderDoc(1))).toBe(true);
        expect((await store.get(collection, id))?.version).toBe(1);
      });

      it('refuses a write expecting version 1 and stores nothing', async () => {
        expect(await store.compareAndSet(collection, id, 1, orderDoc(2))).toBe(false);
        expect(await store.get(collection, id)).toBeNull();
      });
    });

    describe('when the document is at version 2', () => {
      let current: VersionedDoc;

      beforeEach(async () => {
        current = orderDoc(2);
        expect(await store.compareAndSet(collection, id, 0, orderDoc(1))).toBe(true);
        expect(await store.compareAndSet(collection, id, 1, current)).toBe(true);
      });

      it('refuses a write expecting version 1 and keeps version 2', async () => {
        expect(await store.compareAndSet(collection, id, 1, orderDoc(2, { stale: true }))).toBe(false);
        expect(await store.get(collection, id)).toEqual(current);
      });

      it('refuses a write expecting version 0', async () => {
        expect(await store.compareAndSet(collection, id, 0, orderDoc(1))).toBe(false);
        expect(await store.get(collection, id)).toEqual(current);
      });

      it('accepts a write expecting version 2', async () => {
        const next = orderDoc(3);
        expect(await store.compareAndSet(collection, id, 2, next)).toBe(true);
        expect(await store.get(collection, id)).toEqual(next);
      });
    });

    describe('when a document with nested data is written', () => {
      it('reads back the same data and freshness fields', async () => {
        const written = orderDoc(1, {
          status: 'PLACED',
          items: [{ sku: 'tea-42', quantity: 2, unitPrice: 4.5 }],
          shipping: { city: 'Zürich', note: 'ring twice: "bell" ☎' },
          couponCode: null,
          paid: false,
        });
        await store.compareAndSet(collection, id, 0, written);
        expect(await store.get(collection, id)).toEqual(written);
      });
    });

    describe('when a document is written with the id of its last event', () => {
      it('reads the id back, and a later write without one drops it', async () => {
        const withId = { ...orderDoc(1), eventId: 'c0ffee00-0000-4000-8000-000000000001' };
        await store.compareAndSet(collection, id, 0, withId);
        expect(await store.get(collection, id)).toEqual(withId);
        expect((await store.getMany(collection, [id]))[0]?.eventId).toBe(withId.eventId);
        await store.compareAndSet(collection, id, 1, orderDoc(2));
        expect((await store.get(collection, id))?.eventId).toBeUndefined();
      });
    });

    describe('when a write also names the last event it expects the document to hold', () => {
      const first = 'c0ffee00-0000-4000-8000-000000000001';
      it('writes when version and event agree, and refuses another event at the same version', async () => {
        await store.compareAndSet(collection, id, 0, { ...orderDoc(1), eventId: first });
        expect(await store.compareAndSet(collection, id, 1, { ...orderDoc(2), eventId: 'e2' }, 'c0ffee00-0000-4000-8000-000000000009')).toBe(false);
        expect((await store.get(collection, id))?.version).toBe(1);
        expect(await store.apply(collection, id, 1, { ...orderDoc(2), eventId: 'e2' }, {}, first)).toBe(true);
        expect(await store.get(collection, id)).toMatchObject({ version: 2, eventId: 'e2' });
      });

      it('refuses when the document holds no event id at all', async () => {
        await store.compareAndSet(collection, id, 0, orderDoc(1));
        expect(await store.compareAndSet(collection, id, 1, orderDoc(2), first)).toBe(false);
      });
    });

    describe('when 50 writers expect the same version at once', () => {
      it('lets exactly one of them write', async () => {
        await store.compareAndSet(collection, id, 0, orderDoc(1));
        const results = await Promise.all(
          Array.from({ length: 50 }, (_, writer) => store.compareAndSet(collection, id, 1, orderDoc(2, { writer }))),
        );
        expect(results.filter(Boolean)).toHaveLength(1);
        expect((await store.get(collection, id))?.data).toEqual({ writer: results.indexOf(true) });
      });
    });

    describe('when some requested documents are missing', () => {
      it('gives null in their places, in the order asked', async () => {
        const [first, second, missing] = [uniqueName('order'), uniqueName('order'), uniqueName('order')];
        await store.compareAndSet(collection, first, 0, orderDoc(1));
        await store.compareAndSet(collection, second, 0, orderDoc(1, { second: true }));
        expect(await store.getMany(collection, [second, missing, first])).toEqual([
          await store.get(collection, second),
          null,
          await store.get(collection, first),
        ]);
      });

      it('gives an empty list when asked for no ids', async () => {
        expect(await store.getMany(collection, [])).toEqual([]);
      });
    });

    describe('when no checkpoint was saved', () => {
      it('reads null', async () => {
        expect(await store.getCheckpoint(uniqueName('projector'))).toBeNull();
      });
    });

    describe('when a checkpoint beyond 2^53 was saved', () => {
      it('reads back exactly that position', async () => {
        const name = uniqueName('projector');
        await store.setCheckpoint(name, 2n ** 60n + 1n);
        expect(await store.getCheckpoint(name)).toBe(2n ** 60n + 1n);
      });

      it('reads back a later save instead', async () => {
        const name = uniqueName('projector');
        await store.setCheckpoint(name, 2n ** 60n + 1n);
        await store.setCheckpoint(name, 2n ** 60n + 7n);
        expect(await store.getCheckpoint(name)).toBe(2n ** 60n + 7n);
      });
    });

    describe('when an index holds four members and one was re-scored', () => {
      let index: string;

      beforeEach(async () => {
        index = `${uniqueName('orders')}:by-time`;
        await indexAdd(store, index, 'c', 30);
        await indexAdd(store, index, 'a', 10);
        await indexAdd(store, index, 'd', 40);
        await indexAdd(store, index, 'b', 20);
        await indexAdd(store, index, 'a', 35);
      });

      it('ranges members by ascending score', async () => {
        expect(await store.indexRange(index)).toEqual(['b', 'c', 'a', 'd']);
      });

      it('ranges members by descending score when reversed', async () => {
        expect(await store.indexRange(index, { reverse: true })).toEqual(['d', 'a', 'c', 'b']);
      });

      it('skips `offset` members and takes at most `limit`', async () => {
        expect(await store.indexRange(index, { offset: 1, limit: 2 })).toEqual(['c', 'a']);
        expect(await store.indexRange(index, { offset: 1, limit: 2, reverse: true })).toEqual(['a', 'c']);
      });

      it('stops at the last member when the limit runs past it', async () => {
        expect(await store.indexRange(index, { offset: 3, limit: 10 })).toEqual(['d']);
        expect(await store.indexRange(index, { offset: 9, limit: 10 })).toEqual([]);
      });

      it('takes nothing with a limit of 0', async () => {
        expect(await store.indexRange(index, { limit: 0 })).toEqual([]);
      });

      it('counts each member once', async () => {
        expect(await store.indexCount(index)).toBe(4);
      });
    });

    describe('when members tie on score', () => {
      it('orders them by member', async () => {
        const index = `${uniqueName('orders')}:by-status`;
        for (const member of ['m2', 'm3', 'm1']) await indexAdd(store, index, member, 1);
        expect(await store.indexRange(index)).toEqual(['m1', 'm2', 'm3']);
        expect(await store.indexRange(index, { reverse: true })).toEqual(['m3', 'm2', 'm1']);
      });
    });

    describe('when an index was never written', () => {
      it('ranges to nothing and counts zero', async () => {
        const index = `${uniqueName('orders')}:by-time`;
        expect(await store.indexRange(index)).toEqual([]);
        expect(await store.indexCount(index)).toBe(0);
      });
    });

    describe('when a write carries index and counter changes', () => {
      const effects = (n: number) => ({ indexes: [{ index: 'by:x', member: id, score: n }], counters: { seen: 1, total: n } });
      // Counters belong to the whole collection: one of its own per test.
      let collection: string;
      beforeEach(() => {
        collection = uniqueName('effects');
      });

      it('writes them with the document', async () => {
        expect(await store.apply(collection, id, 0, orderDoc(1), effects(5))).toBe(true);
        expect(await store.indexEntries(`${collection}:by:x`)).toEqual([{ member: id, score: 5 }]);
        const counters = await store.counters(collection);
        expect(counters.values).toMatchObject({ seen: 1, total: 5 });
        expect(counters).toMatchObject({ events: 1, eventAt: orderDoc(1).eventAt });
      });

      it('changes nothing when the version check refuses it', async () => {
        await store.apply(collection, id, 0, orderDoc(1), effects(5));
        const before = await store.counters(collection);
        expect(await store.apply(collection, id, 0, orderDoc(1), effects(9))).toBe(false);
        expect(await store.counters(collection)).toEqual(before);
        expect(await store.indexEntries(`${collection}:by:x`)).toEqual([{ member: id, score: 5 }]);
      });

      it('removes an index member', async () => {
        await store.apply(collection, id, 0, orderDoc(1), effects(5));
        await store.apply(collection, id, 1, orderDoc(2), { indexes: [{ index: 'by:x', member: id, remove: true }] });
        expect(await store.indexCount(`${collection}:by:x`)).toBe(0);
      });

      it('counts a delta once when 30 writers race on one version', async () => {
        const counted = uniqueName('counted');
        await store.apply(counted, id, 0, orderDoc(1), { counters: { n: 1 } });
        const results = await Promise.all(Array.from({ length: 30 }, () => store.apply(counted, id, 1, orderDoc(2), { counters: { n: 1 } })));
        expect(results.filter(Boolean)).toHaveLength(1);
        expect((await store.counters(counted)).values.n).toBe(2);
      });
    });

    describe('when an index is ranged by score', () => {
      it('keeps to the bounds and gives the scores', async () => {
        const index = `${uniqueName('scored')}:all`;
        for (const [member, score] of [['a', 1], ['b', 2], ['c', 3]] as const) await indexAdd(store, index, member, score);
        expect(await store.indexEntries(index, { reverse: true, maxScore: 2 })).toEqual([
          { member: 'b', score: 2 },
          { member: 'a', score: 1 },
        ]);
        expect(await store.indexRange(index, { minScore: 2, maxScore: 2 })).toEqual(['b']);
      });
    });

    describe('when a lower checkpoint is saved after a higher one', () => {
      it('keeps the higher one', async () => {
        const name = uniqueName('projector');
        await store.setCheckpoint(name, 2n ** 60n + 7n);
        await store.setCheckpoint(name, 9n);
        expect(await store.getCheckpoint(name)).toBe(2n ** 60n + 7n);
      });
    });

    describe('when two owners ask for one lease', () => {
      it('gives it to the first until released', async () => {
        const lease = uniqueName('lease');
        expect(await store.lease(lease, 'a', 5000)).toBe(true);
        expect(await store.lease(lease, 'b', 5000)).toBe(false);
        expect(await store.lease(lease, 'a', 5000)).toBe(true);
        expect(await store.leaseHolder(lease)).toBe('a');
        await store.release(lease, 'b');
        expect(await store.leaseHolder(lease)).toBe('a');
        await store.release(lease, 'a');
        expect(await store.lease(lease, 'b', 5000)).toBe(true);
      });
    });

    describe('when a collection is rebuilt in a new namespace', () => {
      let rebuilt: string;
      beforeEach(() => {
        rebuilt = uniqueName('rebuilt');
      });

      it('serves the old documents until the switch, then the new ones', async () => {
        await store.apply(rebuilt, id, 0, orderDoc(1, { old: true }), { counters: { n: 1 } });
        const ns = await store.namespaces.create();
        const pinned = store.namespaces.pinned(ns);
        await pinned.apply(rebuilt, id, 0, orderDoc(1, { fresh: true }), { counters: { n: 7 } });
        expect((await store.get(rebuilt, id))?.data).toEqual({ old: true });

        await store.namespaces.switchTo(rebuilt, ns);
        expect(await store.namespaces.active(rebuilt)).toBe(ns);
        await vi.waitFor(async () => expect((await store.get(rebuilt, id))?.data).toEqual({ fresh: true }), { timeout: 3000 });
        expect((await store.counters(rebuilt)).values.n).toBe(7);
      });

      it('holds unpinned writes while fenced, and takes them after the switch', async () => {
        const ns = await store.namespaces.create();
        await store.namespaces.fence(rebuilt, 10_000);
        expect(await store.apply(rebuilt, id, 0, orderDoc(1), {})).toBe(false);
        expect(await store.namespaces.pinned(ns).apply(rebuilt, id, 0, orderDoc(1), {})).toBe(true);
        await store.namespaces.switchTo(rebuilt, ns);
        expect(await store.apply(rebuilt, id, 1, orderDoc(2), {})).toBe(true);
        expect((await store.get(rebuilt, id))?.version).toBe(2);
      });

      it('drops only that collection of the old namespace', async () => {
        const other = uniqueName('other');
        await store.apply(rebuilt, id, 0, orderDoc(1), { indexes: [{ index: 'all', member: id, score: 1 }], counters: { n: 1 } });
        await store.apply(other, id, 0, orderDoc(1), {});
        await store.namespaces.drop(rebuilt, '');
        expect(await store.get(rebuilt, id)).toBeNull();
        expect(await store.indexCount(`${rebuilt}:all`)).toBe(0);
        expect((await store.counters(rebuilt)).values).toEqual({});
        expect(await store.get(other, id)).not.toBeNull();
      });
    });

    describe('when the store is reachable', () => {
      it('answers a ping', async () => {
        await expect(store.ping()).resolves.toBeUndefined();
      });
    });
  });
}
