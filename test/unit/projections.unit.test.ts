import { describe, expect, it } from 'vitest';
import { currentSchemaVersion, type OrderEvent } from '../../src/domain/order/index.js';
import { MemoryChangeFeed } from '../../src/infrastructure/embedded/memoryChangeFeed.js';
import { MemoryReadStore } from '../../src/infrastructure/embedded/memoryReadStore.js';
import type { EventStore, StoredEvent } from '../../src/ports.js';
import { orderStats } from '../../src/readModels/orderStats/projection.js';
import type { Projection } from '../../src/readModels/projection.js';
import { listOrders } from '../../src/readModels/userOrders/queries.js';
import { orderStats as readStats } from '../../src/readModels/orderStats/queries.js';
import { applyEvent } from '../../src/projectors/runtime.js';
import { userOrders } from '../../src/readModels/userOrders/projection.js';
import { indexAdd } from '../readIndex.js';
import { cancelled, confirmed, created, item, paid, shipped } from './given.js';

const T0 = Date.UTC(2025, 0, 2, 3, 4, 5, 0);
let position = 0n;

function stored(streamId: string, version: number, event: OrderEvent, at = T0 + version * 1000): StoredEvent {
  const id = `${streamId}-${version}`;
  return { position: ++position, streamId, version, type: event.type, schemaVersion: currentSchemaVersion[event.type], data: event.data, metadata: { eventId: id, commandId: id, correlationId: id, causationId: id, userId: 'alice' }, recordedAt: new Date(at) };
}

/** An order's events, its own id in OrderCreated. */
function order(streamId: string, events: OrderEvent[], owner = 'alice', createdAt = T0): StoredEvent[] {
  return events.map((event, i) => {
    const shaped = event.type === 'OrderCreated' ? { ...event, data: { ...event.data, orderId: streamId, userId: owner } } : event;
    return stored(streamId, i + 1, shaped, createdAt + i * 1000);
  });
}

function world(history: StoredEvent[] = []) {
  const readStore = new MemoryReadStore();
  const store = { readStream: async (id: string, from = 1) => history.filter((e) => e.streamId === id && e.version >= from) } as EventStore;
  const deps = { readStore, store, feed: new MemoryChangeFeed() };
  const deliver = async (projection: Projection<unknown>, events: StoredEvent[]) => {
    for (const event of events) await applyEvent(deps, projection, event);
  };
  return { readStore, deliver };
}

const widget = item({ sku: 'W', quantity: 2, unitPriceCents: 1250 });

describe('the orderStats projection', () => {
  describe('when an order is created, paid and cancelled', () => {
    it('moves its count between statuses and takes its revenue back', async () => {
      const events = order('o1', [created([widget]), confirmed, paid, cancelled]);
      const { readStore, deliver } = world(events);
      await deliver(orderStats as Projection<unknown>, events.slice(0, 3));
      expect(await readStats(readStore)).toMatchObject({ totalOrders: 1, revenueCents: 2500 });
      await deliver(orderStats as Projection<unknown>, events.slice(3));
      const stats = await readStats(readStore);
      expect(stats).toMatchObject({ totalOrders: 1, revenueCents: 0, freshness: { version: 4 } });
      expect(stats.byStatus.filter((s) => s.count)).toEqual([{ status: 'CANCELLED', count: 1 }]);
    });
  });

  describe('when every event is delivered twice', () => {
    it('counts each change once', async () => {
      const events = [...order('o1', [created([widget]), confirmed, paid]), ...order('o2', [created([widget]), confirmed])];
      const { readStore, deliver } = world(events);
      for (const event of events) await deliver(orderStats as Projection<unknown>, [event, event]);
      expect((await readStore.counters('orderStat')).values).toEqual({ orders: 2, revenueCents: 2500, 'status:PAID': 1, 'status:CONFIRMED': 1, 'status:CREATED': 0 });
    });
  });

  describe('when the items of a paid order were added before paying', () => {
    it('counts the whole total as revenue', () => {
      const [first] = order('o1', [created([widget])]);
      let doc = orderStats.evolve(null, { ...created([widget]), streamId: 'o1', version: 1, recordedAt: first!.recordedAt, userId: 'alice' });
      const effects = orderStats.effects!(null, doc, 'o1');
      expect(effects.counters).toEqual({ orders: 1, revenueCents: 0, 'status:CREATED': 1 });
      const before = doc;
      doc = { ...doc, status: 'PAID' };
      expect(orderStats.effects!(before, doc, 'o1').counters).toEqual({ revenueCents: 2500, 'status:PAID': 1, 'status:CREATED': -1 });
    });
  });
});

describe('the userOrders projection', () => {
  it('handles creation and every status change, and no item event', () => {
    expect([...userOrders.handles].sort()).toEqual(['OrderCancelled', 'OrderConfirmed', 'OrderCreated', 'OrderDelivered', 'OrderPaid', 'OrderShipped']);
  });

  describe('when orders of two users move through their lifecycles', () => {
    it('lists each user newest first, per status, and all of them', async () => {
      const events = [
        ...order('a1', [created([widget]), confirmed], 'alice', T0),
        ...order('b1', [created([widget]), confirmed, paid, shipped], 'bob', T0 + 10_000),
        ...order('a2', [created([widget]), { type: 'OrderItemAdded', data: { item: item({ sku: 'X' }) } }], 'alice', T0 + 20_000),
      ];
      const { readStore, deliver } = world(events);
      await deliver(userOrders as Projection<unknown>, [...events, ...events]);
      const ids = async (userId: string | null, status?: 'SHIPPED' | 'CONFIRMED') => (await listOrders(readStore, { userId, status })).totalCount;
      expect(await readStore.indexRange('userOrder:user:alice', { reverse: true })).toEqual(['a2', 'a1']);
      expect(await readStore.indexRange('userOrder:all', { reverse: true })).toEqual(['a2', 'b1', 'a1']);
      expect(await readStore.indexRange('userOrder:status:SHIPPED')).toEqual(['b1']);
      expect(await readStore.indexRange('userOrder:status:CONFIRMED')).toEqual(['a1']);
      expect([await ids('alice'), await ids('alice', 'CONFIRMED'), await ids(null, 'SHIPPED'), await ids(null)]).toEqual([2, 1, 1, 3]);
    });
  });
});

describe('listOrders', () => {
  describe('when orders tie on creation time', () => {
    it('pages through every one exactly once by cursor', async () => {
      const readStore = new MemoryReadStore();
      const ids = Array.from({ length: 7 }, (_, i) => `o${i}`);
      for (const [i, id] of ids.entries()) {
        await indexAdd(readStore, 'userOrder:all', id, i < 4 ? 1000 : 2000 + i);
        await readStore.apply('order', id, 0, { version: 1, eventAt: '', projectedAt: '', data: { id } }, {});
      }
      const seen: string[] = [];
      let after: string | null = null;
      do {
        const page: Awaited<ReturnType<typeof listOrders>> = await listOrders(readStore, { userId: null, first: 2, after });
        seen.push(...page.edges.map((edge) => (edge.node.data as { id: string }).id));
        after = page.hasNextPage ? page.endCursor : null;
      } while (after);
      expect(seen).toEqual(['o6', 'o5', 'o4', 'o3', 'o2', 'o1', 'o0']);
    });
  });

  describe('when the cursor is not one it gave out', () => {
    it('refuses it', async () => {
      await expect(listOrders(new MemoryReadStore(), { userId: null, after: 'nonsense' })).rejects.toThrow('after is not a cursor');
    });
  });
});
