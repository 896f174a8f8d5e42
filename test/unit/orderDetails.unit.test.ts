import { describe, expect, it } from 'vitest';
import { currentSchemaVersion, type OrderEvent } from '../../src/domain/order/index.js';
import type { ChangeNotice, DocumentStore, EventStore, StoredEvent, VersionedDoc, WriteEffects } from '../../src/ports.js';
import { type OrderDoc, orderDetails } from '../../src/readModels/orderDetails/projection.js';
import type { ProjectedEvent } from '../../src/readModels/projection.js';
import { applyEvent, StrayMessageError } from '../../src/projectors/runtime.js';
import { cancelled, confirmed, created, delivered, item, ORDER_ID, paid, shipped } from './given.js';

const T0 = Date.UTC(2025, 0, 2, 3, 4, 5, 0);
/** Commit time of version `v`: one minute apart, so each version has its own timestamp. */
const at = (v: number) => new Date(T0 + v * 60_000);
const iso = (v: number) => at(v).toISOString();

/** Who committed each event (the metadata userId), which is not necessarily the order's owner. */
function projected(event: OrderEvent, version: number, actor = 'alice'): ProjectedEvent {
  return { ...event, streamId: ORDER_ID, version, recordedAt: at(version), userId: actor };
}

function project(events: OrderEvent[]): OrderDoc {
  let doc: OrderDoc | null = null;
  events.forEach((event, i) => (doc = orderDetails.evolve(doc, projected(event, i + 1))));
  if (!doc) throw new Error('no events');
  return doc;
}

const widget = item({ sku: 'W', name: 'Widget', quantity: 2, unitPriceCents: 1250 });
const gadget = item({ sku: 'G', name: 'Gadget', quantity: 3, unitPriceCents: 999 });
const added = (line: typeof widget): OrderEvent => ({ type: 'OrderItemAdded', data: { item: line } });
const removed = (sku: string): OrderEvent => ({ type: 'OrderItemRemoved', data: { sku } });

const lifecycle: OrderEvent[] = [created([widget], 'alice', 'EUR'), added(gadget), added(item({ sku: 'W', quantity: 1 })), confirmed, paid, shipped, delivered];

describe('the orderDetails projection', () => {
  it('handles every order event type', () => {
    expect([...orderDetails.handles].sort()).toEqual(Object.keys(currentSchemaVersion).sort());
  });

  it('writes to the order collection', () => {
    expect(orderDetails.collection).toBe('order');
  });
});

describe('given no document', () => {
  describe('when OrderCreated is applied', () => {
    it('builds the document with line totals, the order total, and both times from the event', () => {
      const doc = orderDetails.evolve(null, projected(created([widget, gadget], 'alice', 'EUR'), 1));
      expect(doc).toEqual<OrderDoc>({
        id: ORDER_ID,
        userId: 'alice',
        status: 'CREATED',
        currency: 'EUR',
        items: [
          { sku: 'W', name: 'Widget', quantity: 2, unitPriceCents: 1250, lineTotalCents: 2500 },
          { sku: 'G', name: 'Gadget', quantity: 3, unitPriceCents: 999, lineTotalCents: 2997 },
        ],
        totalCents: 5497,
        createdAt: iso(1),
        updatedAt: iso(1),
      });
    });
  });

  describe('when a line is free', () => {
    it('counts 0 towards the total', () => {
      const doc = orderDetails.evolve(null, projected(created([widget, item({ sku: 'FREE', quantity: 5, unitPriceCents: 0 })]), 1));
      expect(doc.items[1]?.lineTotalCents).toBe(0);
      expect(doc.totalCents).toBe(2500);
    });
  });

  describe('when a line is at the largest quantity and price', () => {
    it('computes 1000 × 10,000,000 = 10,000,000,000 exactly', () => {
      const doc = orderDetails.evolve(null, projected(created([item({ quantity: 1000, unitPriceCents: 10_000_000 })]), 1));
      expect(doc.items[0]?.lineTotalCents).toBe(10_000_000_000);
      expect(doc.totalCents).toBe(10_000_000_000);
    });
  });

  describe('when an event other than OrderCreated is applied', () => {
    it('throws', () => {
      expect(() => orderDetails.evolve(null, projected(confirmed, 1))).toThrow('OrderConfirmed before OrderCreated');
    });
  });
});

describe('given a created document', () => {
  const start = () => orderDetails.evolve(null, projected(created([widget]), 1));

  describe('when an item is added', () => {
    it('adds the line and its total, keeps createdAt and moves updatedAt', () => {
      const doc = orderDetails.evolve(start(), projected(added(gadget), 2));
      expect(doc.items.map((line) => [line.sku, line.lineTotalCents])).toEqual([
        ['W', 2500],
        ['G', 2997],
      ]);
      expect(doc.totalCents).toBe(5497);
      expect(doc.createdAt).toBe(iso(1));
      expect(doc.updatedAt).toBe(iso(2));
    });
  });

  describe('when more of an existing sku is added', () => {
    it('merges into the line at its first price and recomputes its total', () => {
      const doc = orderDetails.evolve(start(), projected(added(item({ sku: 'W', name: 'Other name', quantity: 5, unitPriceCents: 1 })), 2));
      expect(doc.items).toEqual([{ sku: 'W', name: 'Widget', quantity: 7, unitPriceCents: 1250, lineTotalCents: 8750 }]);
      expect(doc.totalCents).toBe(8750);
    });
  });

  describe('when an item is removed', () => {
    it('drops the line from the items and the total', () => {
      const two = orderDetails.evolve(start(), projected(added(gadget), 2));
      const doc = orderDetails.evolve(two, projected(removed('W'), 3));
      expect(doc.items.map((line) => line.sku)).toEqual(['G']);
      expect(doc.totalCents).toBe(2997);
      expect(doc.updatedAt).toBe(iso(3));
    });
  });

  describe('when an admin (not the owner) commits the next event', () => {
    it('keeps the owner as userId, and ownerOf names the owner', () => {
      const doc = orderDetails.evolve(start(), { ...projected(confirmed, 2), userId: 'root' });
      expect(doc.userId).toBe('alice');
      expect(orderDetails.ownerOf(doc)).toBe('alice');
    });
  });

  describe('when an event is applied to a frozen document', () => {
    it('returns a new document and leaves the old one as it was', () => {
      const before = start();
      const snapshot = structuredClone(before);
      Object.freeze(before);
      before.items.forEach((line) => Object.freeze(line));
      Object.freeze(before.items);
      const after = orderDetails.evolve(before, projected(added(item({ sku: 'W', quantity: 1 })), 2));
      expect(before).toEqual(snapshot);
      expect(after.items[0]?.quantity).toBe(3);
    });
  });
});

describe('given the events of a whole lifecycle', () => {
  describe('when they are projected', () => {
    it('gives the delivered document', () => {
      expect(project(lifecycle)).toEqual<OrderDoc>({
        id: ORDER_ID,
        userId: 'alice',
        status: 'DELIVERED',
        currency: 'EUR',
        items: [
          { sku: 'W', name: 'Widget', quantity: 3, unitPriceCents: 1250, lineTotalCents: 3750 },
          { sku: 'G', name: 'Gadget', quantity: 3, unitPriceCents: 999, lineTotalCents: 2997 },
        ],
        totalCents: 6747,
        createdAt: iso(1),
        updatedAt: iso(lifecycle.length),
      });
    });

    it('gives the same document every time (deterministic)', () => {
      const first = project(lifecycle);
      const second = project(lifecycle);
      expect(second).toEqual(first);
      expect(JSON.stringify(second)).toBe(JSON.stringify(first));
    });

    it('shows each status in turn', () => {
      const statuses: string[] = [];
      let doc: OrderDoc | null = null;
      lifecycle.forEach((event, i) => {
        doc = orderDetails.evolve(doc, projected(event, i + 1));
        statuses.push(doc.status);
      });
      expect(statuses).toEqual(['CREATED', 'CREATED', 'CREATED', 'CONFIRMED', 'PAID', 'SHIPPED', 'DELIVERED']);
    });
  });

  describe('when the order is cancelled after payment', () => {
    it('is CANCELLED with its items and total kept', () => {
      const doc = project([created([widget]), confirmed, paid, cancelled]);
      expect(doc).toMatchObject({ status: 'CANCELLED', totalCents: 2500, updatedAt: iso(4), createdAt: iso(1) });
    });
  });
});

describe('given a document, the projection alone does not guard against duplicates', () => {
  describe('when the same OrderItemAdded is evolved twice', () => {
    it('counts it twice: duplicates must be caught by the version check in the runtime', () => {
      const once = orderDetails.evolve(orderDetails.evolve(null, projected(created([widget]), 1)), projected(added(gadget), 2));
      const twice = orderDetails.evolve(once, projected(added(gadget), 2));
      expect(once.items.find((line) => line.sku === 'G')?.quantity).toBe(3);
      expect(twice.items.find((line) => line.sku === 'G')?.quantity).toBe(6);
    });
  });
});

// ---- applyEvent with in-test fakes of the ports it uses ----

function stored(event: OrderEvent, version: number, options: { schemaVersion?: number; actor?: string; streamId?: string } = {}): StoredEvent {
  return {
    position: 1000n + BigInt(version),
    streamId: options.streamId ?? ORDER_ID,
    version,
    type: event.type,
    schemaVersion: options.schemaVersion ?? currentSchemaVersion[event.type],
    data: event.data,
    metadata: { eventId: `e-${version}`, commandId: `c-${version}`, correlationId: `r-${version}`, causationId: `c-${version}`, userId: options.actor ?? 'alice' },
    recordedAt: at(version),
  };
}

function fakes(history: StoredEvent[] = []) {
  const docs = new Map<string, VersionedDoc<unknown>>();
  const key = (collection: string, id: string) => `${collection}/${id}`;
  const reads: { streamId: string; fromVersion: number | undefined }[] = [];
  const writes: { id: string; expectedVersion: number; version: number }[] = [];
  const notices: ChangeNotice[] = [];
  let gets = 0;
  /** Runs once, just before the next write: to simulate another projector winning a race. */
  let beforeNextWrite: (() => void) | undefined;

  const readStore: Pick<DocumentStore, 'get' | 'apply'> = {
    async get<T>(collection: string, id: string) {
      gets++;
      return (docs.get(key(collection, id)) ?? null) as VersionedDoc<T> | null;
    },
    async apply<T>(collection: string, id: string, expectedVersion: number, doc: VersionedDoc<T>, _effects: WriteEffects, expectedEventId?: string) {
      const hook = beforeNextWrite;
      beforeNextWrite = undefined;
      hook?.();
      if ((docs.get(key(collection, id))?.version ?? 0) !== expectedVersion) return false;
      if (expectedEventId !== undefined && docs.get(key(collection, id))?.eventId !== expectedEventId) return false;
      docs.set(key(collection, id), structuredClone(doc) as VersionedDoc<unknown>);
      writes.push({ id, expectedVersion, version: doc.version });
      return true;
    },
  };
  const store: Pick<EventStore, 'readStream'> = {
    async readStream(streamId: string, fromVersion?: number) {
      reads.push({ streamId, fromVersion });
      return history.filter((e) => e.streamId === streamId && e.version >= (fromVersion ?? 1)).sort((a, b) => a.version - b.version);
    },
  };
  const feed = {
    async publish(notice: ChangeNotice) {
      notices.push(notice);
    },
  };

  return {
    deps: { readStore: readStore as DocumentStore, store: store as EventStore, feed: feed as never },
    doc: () => docs.get(key('order', ORDER_ID)) as VersionedDoc<OrderDoc> | undefined,
    seed: (doc: VersionedDoc<OrderDoc>) => docs.set(key('order', ORDER_ID), structuredClone(doc)),
    reads,
    writes,
    notices,
    raceNextWrite: (hook: () => void) => (beforeNextWrite = hook),
    gets: () => gets,
  };
}

const v1 = stored(created([widget]), 1);
const v2 = stored(added(gadget), 2);
const v3 = stored(confirmed, 3, { actor: 'root' });
const history = [v1, v2, v3];

describe('given an empty read store', () => {
  describe('when v1 is delivered', () => {
    it("applies it, writes the doc at v1 with the event's commit time, and publishes one notice", async () => {
      const world = fakes(history);
      expect(await applyEvent(world.deps, orderDetails, v1)).toBe('applied');
      expect(world.doc()).toMatchObject({ version: 1, eventAt: iso(1), data: { status: 'CREATED', totalCents: 2500 } });
      expect(world.writes).toEqual([{ id: ORDER_ID, expectedVersion: 0, version: 1 }]);
      // The notice carries the document as written, so subscribers need not read it back.
      expect(world.notices).toEqual([{ collection: 'order', id: ORDER_ID, version: 1, userId: 'alice', eventType: 'OrderCreated', doc: world.doc() }]);
      expect(world.reads).toEqual([]);
    });
  });

  describe('when a stored v1 OrderCreated (no currency) is delivered', () => {
    it('upcasts it: the document is in USD', async () => {
      const old = stored({ type: 'OrderCreated', data: { orderId: ORDER_ID, userId: 'alice', items: [widget] } } as unknown as OrderEvent, 1, { schemaVersion: 1 });
      const world = fakes([old]);
      await applyEvent(world.deps, orderDetails, old);
      expect(world.doc()?.data.currency).toBe('USD');
    });
  });
});

describe('given the document this projector wrote last', () => {
  it('applies the next event without reading it back, checking the version and the event it holds', async () => {
    const world = fakes(history);
    await applyEvent(world.deps, orderDetails, v1);
    world.reads.length = 0;
    const gets = world.gets();
    const atV1 = structuredClone(world.doc()!);
    expect(await applyEvent(world.deps, orderDetails, v2)).toBe('applied');
    expect(world.gets()).toBe(gets);
    expect(world.doc()).toMatchObject({ version: 2, eventId: 'e-2' });
    // What it remembered gives the document a read would: a projector that must read v1 writes the same v2.
    const cold = fakes(history);
    cold.seed(atV1);
    expect(await applyEvent(cold.deps, orderDetails, v2)).toBe('applied');
    expect(cold.gets()).toBe(1);
    expect({ ...cold.doc()!, projectedAt: 'any' }).toEqual({ ...world.doc()!, projectedAt: 'any' });
  });

  it('folds onto what is stored when the document was replaced behind its back at the same version', async () => {
    const world = fakes(history);
    await applyEvent(world.deps, orderDetails, v1);
    // Another process wrote v1 again from another event (a repair): same version, other content.
    world.seed({ ...world.doc()!, eventId: 'e-1-other', data: { ...world.doc()!.data, currency: 'EUR' } });
    expect(await applyEvent(world.deps, orderDetails, v2)).toBe('applied');
    expect(world.doc()).toMatchObject({ version: 2, data: { currency: 'EUR' } });
  });
});

describe('given a document at v1', () => {
  const atV1 = async (events: StoredEvent[] = history) => {
    const world = fakes(events);
    await applyEvent(world.deps, orderDetails, v1);
    world.writes.length = 0;
    world.notices.length = 0;
    return world;
  };

  describe('when the same v1 is delivered again', () => {
    it('is a duplicate: the document is unchanged and no second notice is published', async () => {
      const world = fakes(history);
      expect(await applyEvent(world.deps, orderDetails, v1)).toBe('applied');
      const before = structuredClone(world.doc());
      expect(await applyEvent(world.deps, orderDetails, v1)).toBe('duplicate');
      expect(world.doc()).toEqual(before);
      expect(world.writes).toHaveLength(1);
      expect(world.notices).toHaveLength(1);
    });
  });

  describe('when v2 is delivered twice', () => {
    it('adds the item once and publishes once', async () => {
      const world = await atV1();
      expect(await applyEvent(world.deps, orderDetails, v2)).toBe('applied');
      expect(await applyEvent(world.deps, orderDetails, v2)).toBe('duplicate');
      expect(world.doc()?.data.items.find((line) => line.sku === 'G')?.quantity).toBe(3);
      expect(world.doc()?.version).toBe(2);
      expect(world.notices.map((n) => n.version)).toEqual([2]);
    });
  });

  describe('when v3 arrives before v2', () => {
    it('repairs the gap by reading v2 from the store, applies both, and publishes one notice for v3', async () => {
      const world = await atV1();
      expect(await applyEvent(world.deps, orderDetails, v3)).toBe('repaired');
      // From v1: the document's own last event is checked against the store too.
      expect(world.reads).toEqual([{ streamId: ORDER_ID, fromVersion: 1 }]);
      expect(world.doc()).toMatchObject({
        version: 3,
        eventAt: iso(3),
        data: { status: 'CONFIRMED', totalCents: 2500 + 2997, updatedAt: iso(3), createdAt: iso(1) },
      });
      expect(world.writes).toEqual([{ id: ORDER_ID, expectedVersion: 1, version: 3 }]);
      expect(world.notices).toEqual([{ collection: 'order', id: ORDER_ID, version: 3, userId: 'alice', eventType: 'OrderConfirmed', doc: world.doc() }]);
    });

    it('then treats the late v2 as a duplicate', async () => {
      const world = await atV1();
      await applyEvent(world.deps, orderDetails, v3);
      const before = structuredClone(world.doc());
      expect(await applyEvent(world.deps, orderDetails, v2)).toBe('duplicate');
      expect(world.doc()).toEqual(before);
      expect(world.notices).toHaveLength(1);
    });
  });

  describe('when v3 arrives but the store does not have it', () => {
    it('refuses it as a stray message (the store is the truth; the relay publishes only committed events) and writes and publishes nothing', async () => {
      const world = await atV1([v1, v2]);
      await expect(applyEvent(world.deps, orderDetails, v3)).rejects.toBeInstanceOf(StrayMessageError);
      expect(world.doc()?.version).toBe(1);
      expect(world.writes).toEqual([]);
      expect(world.notices).toEqual([]);
    });
  });

  describe('when another projector writes v2 between our read and our write', () => {
    it('looks again and finds its own event already applied: a duplicate, published once by the winner only', async () => {
      const world = await atV1();
      const winner = fakes(history);
      await applyEvent(winner.deps, orderDetails, v1);
      await applyEvent(winner.deps, orderDetails, v2);
      world.raceNextWrite(() => world.seed(winner.doc()!));
      expect(await applyEvent(world.deps, orderDetails, v2)).toBe('duplicate');
      // The document is the one this test seeded for the winner: reading it back would prove nothing.
      // That nothing wrote over it is what the loser must show.
      expect(world.writes).toEqual([]);
      expect(world.notices).toEqual([]);
    });
  });
});

describe('given a document at v3', () => {
  describe('when an older event (v2) is delivered out of order', () => {
    it('is a duplicate: nothing is read, written or published', async () => {
      const world = fakes(history);
      for (const event of history) await applyEvent(world.deps, orderDetails, event);
      const before = structuredClone(world.doc());
      world.reads.length = 0;
      world.writes.length = 0;
      world.notices.length = 0;
      expect(await applyEvent(world.deps, orderDetails, v2)).toBe('duplicate');
      expect(await applyEvent(world.deps, orderDetails, v1)).toBe('duplicate');
      expect(world.doc()).toEqual(before);
      expect(world.reads).toEqual([]);
      expect(world.writes).toEqual([]);
      expect(world.notices).toEqual([]);
    });
  });
});

describe('given an event store with a hole in the stream', () => {
  describe('when v3 is delivered onto a document at v1 and the store returns v1 and v3 but not v2', () => {
    it('refuses to write rather than skip v2', async () => {
      const f = fakes([v1, v3]);
      await applyEvent(f.deps, orderDetails, v1);
      await expect(applyEvent(f.deps, orderDetails, v3)).rejects.toThrow(`event store lacks ${ORDER_ID} v2..3`);
      expect(f.doc()?.version).toBe(1);
      expect(f.notices).toHaveLength(1);
    });
  });
});
