import { beforeEach, describe, expect, it } from 'vitest';
import type { DocumentStore, VersionedDoc } from '../../src/ports.js';
import { uniqueName } from '../services.js';
import { collection, orderDoc, storePerTest } from './readDocs.js';

/** What every DocumentStore must do: versioned compare-and-set writes and reads. */
export function documentStoreContract(name: string, make: () => Promise<{ store: DocumentStore; cleanup(): Promise<void> }>): void {
  describe(`${name} read store: documents`, () => {
    let store: DocumentStore;
    let id: string;
    storePerTest(make, (made, fresh) => ((store = made), (id = fresh)));

    describe('when the document does not exist', () => {
      it('gets null', async () => {
        expect(await store.get(collection, id)).toBeNull();
      });

      it('creates it with a write expecting version 0', async () => {
        expect(await store.apply(collection, id, 0, orderDoc(1), {})).toBe(true);
        expect((await store.get(collection, id))?.version).toBe(1);
      });

      it('refuses a write expecting version 1 and stores nothing', async () => {
        expect(await store.apply(collection, id, 1, orderDoc(2), {})).toBe(false);
        expect(await store.get(collection, id)).toBeNull();
      });
    });

    describe('when the document is at version 2', () => {
      let current: VersionedDoc;

      beforeEach(async () => {
        current = orderDoc(2);
        expect(await store.apply(collection, id, 0, orderDoc(1), {})).toBe(true);
        expect(await store.apply(collection, id, 1, current, {})).toBe(true);
      });

      it('refuses a write expecting version 1 and keeps version 2', async () => {
        expect(await store.apply(collection, id, 1, orderDoc(2, { stale: true }), {})).toBe(false);
        expect(await store.get(collection, id)).toEqual(current);
      });

      it('refuses a write expecting version 0', async () => {
        expect(await store.apply(collection, id, 0, orderDoc(1), {})).toBe(false);
        expect(await store.get(collection, id)).toEqual(current);
      });

      it('accepts a write expecting version 2', async () => {
        const next = orderDoc(3);
        expect(await store.apply(collection, id, 2, next, {})).toBe(true);
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
        await store.apply(collection, id, 0, written, {});
        expect(await store.get(collection, id)).toEqual(written);
      });
    });

    describe('when a document is written with the id of its last event', () => {
      it('reads the id back, and a later write without one drops it', async () => {
        const withId = { ...orderDoc(1), eventId: 'c0ffee00-0000-4000-8000-000000000001' };
        await store.apply(collection, id, 0, withId, {});
        expect(await store.get(collection, id)).toEqual(withId);
        expect((await store.getMany(collection, [id]))[0]?.eventId).toBe(withId.eventId);
        await store.apply(collection, id, 1, orderDoc(2), {});
        expect((await store.get(collection, id))?.eventId).toBeUndefined();
      });
    });

    describe('when a write also names the last event it expects the document to hold', () => {
      const first = 'c0ffee00-0000-4000-8000-000000000001';
      it('writes when version and event agree, and refuses another event at the same version', async () => {
        await store.apply(collection, id, 0, { ...orderDoc(1), eventId: first }, {});
        expect(await store.apply(collection, id, 1, { ...orderDoc(2), eventId: 'e2' }, {}, 'c0ffee00-0000-4000-8000-000000000009')).toBe(false);
        expect((await store.get(collection, id))?.version).toBe(1);
        expect(await store.apply(collection, id, 1, { ...orderDoc(2), eventId: 'e2' }, {}, first)).toBe(true);
        expect(await store.get(collection, id)).toMatchObject({ version: 2, eventId: 'e2' });
      });

      it('refuses when the document holds no event id at all', async () => {
        await store.apply(collection, id, 0, orderDoc(1), {});
        expect(await store.apply(collection, id, 1, orderDoc(2), {}, first)).toBe(false);
      });
    });

    describe('when 50 writers expect the same version at once', () => {
      it('lets exactly one of them write', async () => {
        await store.apply(collection, id, 0, orderDoc(1), {});
        const results = await Promise.all(
          Array.from({ length: 50 }, (_, writer) => store.apply(collection, id, 1, orderDoc(2, { writer }), {})),
        );
        expect(results.filter(Boolean)).toHaveLength(1);
        expect((await store.get(collection, id))?.data).toEqual({ writer: results.indexOf(true) });
      });
    });

    describe('when some requested documents are missing', () => {
      it('gives null in their places, in the order asked', async () => {
        const [first, second, missing] = [uniqueName('order'), uniqueName('order'), uniqueName('order')];
        await store.apply(collection, first, 0, orderDoc(1), {});
        await store.apply(collection, second, 0, orderDoc(1, { second: true }), {});
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

    describe('when only the heads of documents are asked (reconciliation)', () => {
      it('gives each one its version and last event id, null where there is none, in the order asked', async () => {
        const [withId, withoutId, missing] = [uniqueName('order'), uniqueName('order'), uniqueName('order')];
        const eventId = 'c0ffee00-0000-4000-8000-000000000002';
        await store.apply(collection, withId, 0, { ...orderDoc(1), eventId }, {});
        await store.apply(collection, withId, 1, { ...orderDoc(2), eventId }, {});
        await store.apply(collection, withoutId, 0, orderDoc(1), {});
        expect(await store.heads(collection, [missing, withoutId, withId])).toEqual([null, { version: 1 }, { version: 2, eventId }]);
        expect(await store.heads(collection, [])).toEqual([]);
      });
    });

    describe("when a query reads (cachedFrom: a near cache, where the store has one, may answer)", () => {
      it('answers null for a missing document and the document once written', async () => {
        expect(await store.get(collection, id, { cachedFrom: 0 })).toBeNull();
        await store.apply(collection, id, 0, orderDoc(1), {});
        // Not kept while missing: the document is read at once.
        expect((await store.get(collection, id, { cachedFrom: 0 }))?.version).toBe(1);
      });

      it('answers at once with at least the version asked for, whatever it read before', async () => {
        await store.apply(collection, id, 0, orderDoc(1), {});
        for (let i = 0; i < 3; i++) expect((await store.get(collection, id, { cachedFrom: 0 }))?.version).toBe(1);
        await store.apply(collection, id, 1, orderDoc(2), {});
        expect(await store.get(collection, id, { cachedFrom: 2 })).toEqual(await store.get(collection, id));
      });

      it('answers a later write within a second, and never an older version after that', async () => {
        await store.apply(collection, id, 0, orderDoc(1), {});
        expect((await store.get(collection, id, { cachedFrom: 0 }))?.version).toBe(1);
        await store.apply(collection, id, 1, orderDoc(2), {});
        const deadline = Date.now() + 1000;
        while ((await store.get(collection, id, { cachedFrom: 0 }))?.version !== 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
        for (let i = 0; i < 5; i++) expect((await store.get(collection, id, { cachedFrom: 0 }))?.version).toBe(2);
      });
    });
  });
}
