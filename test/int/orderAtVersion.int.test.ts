import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { snapshotSchemaVersion } from '../../src/commands/handleCommand.js';
import { fold, type OrderEvent, upcast } from '../../src/domain/order/index.js';
import { MemoryReadStore } from '../../src/infrastructure/embedded/memoryReadStore.js';
import { createEventStore } from '../../src/infrastructure/postgres/eventStore.js';
import type { EventStore, VersionedDoc } from '../../src/ports.js';
import { orderDetails, type OrderDoc } from '../../src/readModels/orderDetails/projection.js';
import { toProjected } from '../../src/readModels/projection.js';
import { orderAtVersion } from '../../src/readModels/orderDetails/atVersion.js';
import { createTestDatabase, type TestDatabase } from '../db.js';

const owner = { userId: 'owner', roles: [] as string[] };
const line = (sku: string, quantity: number) => ({ sku, name: sku, quantity, unitPriceCents: 10 });

let db: TestDatabase;
let store: EventStore;
beforeAll(async () => {
  db = await createTestDatabase();
  store = createEventStore({ url: db.url });
});
afterAll(async () => {
  await store?.close();
  await db?.drop();
});

/** An order of five versions, its read document (as the projector writes it) and a snapshot at v4. */
async function givenAnOrder(snapshot: { version: number; schemaVersion: number } | null) {
  const id = `at-${randomUUID()}`;
  const events: OrderEvent[] = [
    { type: 'OrderCreated', data: { orderId: id, userId: owner.userId, currency: 'EUR', items: [line('A', 1)] } },
    { type: 'OrderItemAdded', data: { item: line('B', 2) } },
    { type: 'OrderItemRemoved', data: { sku: 'A' } },
    { type: 'OrderConfirmed', data: {} },
    { type: 'OrderPaid', data: { paymentReference: 'p' } },
  ];
  for (const [index, event] of events.entries()) {
    const metadata = { eventId: randomUUID(), commandId: randomUUID(), correlationId: 'c', causationId: 'c', userId: owner.userId };
    await store.append(id, index, [{ type: event.type, schemaVersion: event.type === 'OrderCreated' ? 2 : 1, data: event.data, metadata }]);
  }
  const stored = await store.readStream(id);
  if (snapshot) {
    const state = fold(stored.slice(0, snapshot.version).map((event) => upcast(event.type, event.schemaVersion, event.data)));
    await store.writeSnapshot(id, snapshot.version, snapshot.schemaVersion, state);
  }
  const readStore = new MemoryReadStore();
  let data: OrderDoc | null = null;
  for (const event of stored) data = orderDetails.evolve(data, toProjected(event));
  const doc: VersionedDoc<OrderDoc> = { version: 5, eventAt: stored[4]!.recordedAt.toISOString(), projectedAt: new Date().toISOString(), data: data! };
  await readStore.apply(orderDetails.collection, id, 0, doc, {});
  // Which versions each read of the stream started from.
  const reads: number[] = [];
  const watched: EventStore = Object.assign(Object.create(store) as EventStore, {
    readStream: (streamId: string, fromVersion = 1) => (reads.push(fromVersion), store.readStream(streamId, fromVersion)),
  });
  return { id, readStore, reads, deps: { events: async () => watched, readStore }, current: doc };
}

describe('when a usable snapshot is not newer than atVersion', () => {
  it('folds from the snapshot on, and answers what a fold of every event answers', async () => {
    const withSnapshot = await givenAnOrder({ version: 4, schemaVersion: snapshotSchemaVersion });
    const without = await givenAnOrder(null);
    for (const atVersion of [4, 5]) {
      withSnapshot.reads.length = 0;
      const fromSnapshot = await orderAtVersion(withSnapshot.deps, owner, withSnapshot.id, atVersion);
      expect(withSnapshot.reads).toEqual([4]);
      const full = await orderAtVersion(without.deps, owner, without.id, atVersion);
      expect(without.reads.at(-1)).toBe(1);
      const { id: _a, ...snapshotData } = fromSnapshot!.data;
      const { id: _b, ...fullData } = full!.data;
      // Times differ between the two orders; everything else is the same fold.
      expect({ ...snapshotData, createdAt: 0, updatedAt: 0 }).toEqual({ ...fullData, createdAt: 0, updatedAt: 0 });
      expect(fromSnapshot!.version).toBe(atVersion);
    }
    const atFive = await orderAtVersion(withSnapshot.deps, owner, withSnapshot.id, 5);
    expect(atFive!.data).toEqual(withSnapshot.current.data);
    expect(atFive!.eventAt).toBe(withSnapshot.current.eventAt);
  });
});

describe('when the snapshot is newer than atVersion, or of another format', () => {
  it('folds every event from the first', async () => {
    const newer = await givenAnOrder({ version: 4, schemaVersion: snapshotSchemaVersion });
    const older = await orderAtVersion(newer.deps, owner, newer.id, 3);
    expect(newer.reads).toEqual([1]);
    expect(older!.data.items.map((item) => item.sku)).toEqual(['B']);

    const otherFormat = await givenAnOrder({ version: 4, schemaVersion: snapshotSchemaVersion + 1 });
    await orderAtVersion(otherFormat.deps, owner, otherFormat.id, 5);
    expect(otherFormat.reads).toEqual([1]);
  });
});
