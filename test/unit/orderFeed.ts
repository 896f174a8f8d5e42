// Alice's order, its events folded into documents and announced on an in-memory feed as the projector
// does (document written, then a notice carrying it), for the tests of what subscribers receive.
import { expect } from 'vitest';
import type { OrderEvent } from '../../src/domain/order/index.js';
import { currentSchemaVersion } from '../../src/domain/order/events.js';
import { MemoryChangeFeed } from '../../src/infrastructure/embedded/memoryChangeFeed.js';
import { MemoryReadStore } from '../../src/infrastructure/embedded/memoryReadStore.js';
import type { StoredEvent, VersionedDoc } from '../../src/ports.js';
import { orderDetails, type OrderDoc } from '../../src/readModels/orderDetails/projection.js';
import { toProjected } from '../../src/readModels/projection.js';
import { alice, created, delivered, confirmed, paid, shipped, item, ORDER_ID } from './given.js';

/** Versions 1-4: created and three items added; 5-8: confirmed, paid, shipped, delivered (final). */
export const events: OrderEvent[] = [
  created([item()]),
  ...[2, 3, 4].map((n): OrderEvent => ({ type: 'OrderItemAdded', data: { item: item({ sku: `SKU-${n}` }) } })),
  confirmed,
  paid,
  shipped,
  delivered,
];

export function stored(version: number): StoredEvent {
  const event = events[version - 1]!;
  return {
    position: BigInt(version),
    streamId: ORDER_ID,
    version,
    type: event.type,
    schemaVersion: currentSchemaVersion[event.type],
    data: event.data,
    metadata: { eventId: `e-${version}`, commandId: 'c', correlationId: 'c', causationId: 'c', userId: alice.userId },
    recordedAt: new Date(Date.parse('2026-11-30T12:00:00.000Z') + version * 1000),
  };
}

export function docAt(version: number): VersionedDoc<OrderDoc> {
  let data: OrderDoc | null = null;
  for (let v = 1; v <= version; v++) data = orderDetails.evolve(data, toProjected(stored(v)));
  const eventAt = stored(version).recordedAt.toISOString();
  return { version, eventId: `e-${version}`, eventAt, projectedAt: eventAt, data: data! };
}

export function services() {
  const readStore = new MemoryReadStore();
  const feed = new MemoryChangeFeed();
  const history = async (_id: string, from: number, limit: number) => events.map((_, i) => stored(i + 1)).filter((event) => event.version >= from).slice(0, limit);
  return { readStore, feed, history };
}

export async function project({ readStore, feed }: ReturnType<typeof services>, version: number): Promise<void> {
  const doc = docAt(version);
  expect(await readStore.apply(orderDetails.collection, ORDER_ID, version - 1, doc, {})).toBe(true);
  await feed.publish({ collection: orderDetails.collection, id: ORDER_ID, version, userId: alice.userId, eventType: events[version - 1]!.type, doc });
}

