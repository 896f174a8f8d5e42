// The one check every pipeline test ends with: the read models equal what the event store implies.
import { expect, vi } from 'vitest';
import type { OrderStatus } from '../../src/domain/order/index.js';
import type { DeadLetterStore, EventStore, ReadStore, StoredEvent, VersionedDoc } from '../../src/ports.js';
import { consumerOf, type Projection, toProjected } from '../../src/readModels/projection.js';
import { orderStats, revenueStatuses } from '../../src/readModels/orderStats/projection.js';
import { statCounter } from '../../src/readModels/orderStats/keys.js';
import { orderStatuses } from '../../src/domain/order/index.js';
import { projections } from '../../src/readModels/index.js';
import { orderIndex } from '../../src/readModels/userOrders/keys.js';
import { type UserOrderDoc, userOrders } from '../../src/readModels/userOrders/projection.js';

type Expected = Map<string, Omit<VersionedDoc, 'projectedAt'>>;

/** Folds each stream, stopping before a version the projection dead-lettered: the document stays there. */
function fold(projection: Projection<unknown>, streams: Map<string, StoredEvent[]>, blocked: Map<string, number>): Expected {
  const docs: Expected = new Map();
  for (const [id, events] of streams) {
    let doc: unknown = null;
    let last: StoredEvent | undefined;
    for (const event of events) {
      if (event.version >= (blocked.get(id) ?? Infinity)) break;
      if (projection.handles.includes(event.type as never)) doc = projection.evolve(doc, toProjected(event));
      last = event;
    }
    if (last && doc !== null) docs.set(id, { version: last.version, eventAt: last.recordedAt.toISOString(), data: doc });
  }
  return docs;
}

async function differences(store: EventStore, readStore: ReadStore, deadLetters: DeadLetterStore): Promise<Record<string, unknown>> {
  const streams = new Map<string, StoredEvent[]>();
  for (let after = 0n; ; ) {
    const page = await store.readAll(after, 5000);
    if (page.length === 0) break;
    for (const event of page) streams.set(event.streamId, [...(streams.get(event.streamId) ?? []), event]);
    after = page.at(-1)!.position;
  }
  for (const events of streams.values()) events.sort((a, b) => a.version - b.version);
  const ids = [...streams.keys()];
  const found: Record<string, unknown> = {};

  const expected = new Map<string, Expected>();
  for (const projection of projections) {
    const want = fold(projection, streams, await deadLetters.blocked(consumerOf(projection.name)));
    expected.set(projection.name, want);
    const docs = await readStore.getMany(projection.collection, ids);
    const wrong = ids.flatMap((id, i) => {
      const got = docs[i] ? { version: docs[i].version, eventAt: docs[i].eventAt, data: docs[i].data } : undefined;
      return JSON.stringify(got) === JSON.stringify(want.get(id)) ? [] : [{ id, got, want: want.get(id) }];
    });
    if (wrong.length) found[`${projection.name} documents`] = { count: wrong.length, first: wrong[0] };
  }

  // Lists: a recount from the folded userOrders documents, newest first, ties by id descending.
  const owners = [...(expected.get(userOrders.name) as Map<string, { data: UserOrderDoc }>)].map(([id, { data }]) => ({ id, ...data }));
  const newestFirst = (list: typeof owners) => list.sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt) || (a.id < b.id ? 1 : -1)).map((o) => o.id);
  const lists: Record<string, string[]> = { [orderIndex.all]: newestFirst([...owners]) };
  for (const user of new Set(owners.map((o) => o.userId))) lists[orderIndex.byUser(user)] = newestFirst(owners.filter((o) => o.userId === user));
  for (const status of orderStatuses) lists[orderIndex.byStatus(status)] = newestFirst(owners.filter((o) => o.status === status));
  for (const [index, want] of Object.entries(lists)) {
    const got = await readStore.indexRange(`${userOrders.collection}:${index}`, { reverse: true });
    if (JSON.stringify(got) !== JSON.stringify(want)) found[`list ${index}`] = { got: got.length, want: want.length };
  }

  // Statistics: a recount from the folded orderStats documents.
  const stats = [...(expected.get(orderStats.name) as Map<string, { data: { status: OrderStatus; totalCents: number } }>).values()].map((doc) => doc.data);
  const want: Record<string, number> = { [statCounter.orders]: stats.length, [statCounter.revenueCents]: 0 };
  for (const { status, totalCents } of stats) {
    want[statCounter.status(status)] = (want[statCounter.status(status)] ?? 0) + 1;
    if (revenueStatuses.includes(status)) want[statCounter.revenueCents]! += totalCents;
  }
  const got = Object.fromEntries(Object.entries((await readStore.counters(orderStats.collection)).values).filter(([, value]) => value !== 0));
  const nonZero = Object.fromEntries(Object.entries(want).filter(([, value]) => value !== 0));
  if (JSON.stringify(Object.entries(got).sort()) !== JSON.stringify(Object.entries(nonZero).sort())) found.stats = { got, want: nonZero };
  return found;
}

/** Waits until every read model equals the fold of the event store (documents, lists, statistics). */
export async function expectConverged(deps: { store: EventStore; readStore: ReadStore; deadLetters: DeadLetterStore }, timeout = 20_000): Promise<void> {
  await vi.waitFor(async () => expect(await differences(deps.store, deps.readStore, deps.deadLetters)).toEqual({}), { timeout, interval: 250 });
}
