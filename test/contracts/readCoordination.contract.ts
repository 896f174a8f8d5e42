import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { DocumentStore, IndexReader, ReadCoordination } from '../../src/ports.js';
import { uniqueName } from '../services.js';
import { orderDoc, storePerTest } from './readDocs.js';

/** What every ReadCoordination must do: checkpoints, leases and namespaces (whose switch and drop the documents, indexes and counters show). */
export function readCoordinationContract(name: string, make: () => Promise<{ store: DocumentStore & IndexReader & ReadCoordination; cleanup(): Promise<void> }>): void {
  describe(`${name} read store: coordination`, () => {
    let store: DocumentStore & IndexReader & ReadCoordination;
    let id: string;
    storePerTest(make, (made, fresh) => ((store = made), (id = fresh)));

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

  });
}
