import { beforeEach, describe, expect, it } from 'vitest';
import type { DocumentStore, IndexReader } from '../../src/ports.js';
import { indexAdd } from '../readIndex.js';
import { uniqueName } from '../services.js';
import { orderDoc, storePerTest } from './readDocs.js';

/** What every IndexReader must do, over indexes and counters written with documents (`apply`). */
export function indexReaderContract(name: string, make: () => Promise<{ store: DocumentStore & IndexReader; cleanup(): Promise<void> }>): void {
  describe(`${name} read store: indexes and counters`, () => {
    let store: DocumentStore & IndexReader;
    let id: string;
    storePerTest(make, (made, fresh) => ((store = made), (id = fresh)));

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

  });
}
