import { Repeater } from '@repeaterjs/repeater';
import type { Caller } from '../domain/order/index.js';
import type { ChangeFeed, ChangeNotice, ReadStore, StoredEvent, VersionedDoc } from '../ports.js';
import { orderDetails, type OrderDoc } from '../projectors/orderDetails.js';
import { toProjected } from '../projectors/runtime.js';
import { canSee } from './getOrder.js';
import { traced } from '../telemetry/hooks.js';

export interface OrderUpdate {
  doc: VersionedDoc<OrderDoc>;
  eventType: string;
  previousVersion: number | null;
  deliveredAt: Date;
}

/** Where versions the read store no longer holds come from: the event store, read only. */
export type OrderHistory = (orderId: string) => Promise<StoredEvent[]>;

export interface OrderUpdatesDeps {
  readStore: ReadStore;
  feed: ChangeFeed;
  history: OrderHistory;
}

/**
 * Every version of an order's document past `after`, rebuilt from its events with the same pure evolve
 * the projector uses. The newest comes from the read store as written; older ones were replaced there,
 * so their projectedAt is the moment they are replayed here.
 */
async function replay(deps: OrderUpdatesDeps, id: string, after: number, upTo: VersionedDoc<OrderDoc>): Promise<{ doc: VersionedDoc<OrderDoc>; eventType: string }[]> {
  const events = await deps.history(id);
  const replayed: { doc: VersionedDoc<OrderDoc>; eventType: string }[] = [];
  let data: OrderDoc | null = null;
  for (const event of events) {
    if (event.version > upTo.version) break;
    data = orderDetails.evolve(data, toProjected(event));
    if (event.version <= after) continue;
    const doc =
      event.version === upTo.version
        ? upTo
        : { version: event.version, eventAt: event.committedAt.toISOString(), projectedAt: new Date().toISOString(), data };
    replayed.push({ doc, eventType: event.type });
  }
  return replayed;
}

interface Watch {
  /** Orders to start with: each sends its current state, or every version after `sinceVersion`. */
  initial: string[];
  sinceVersion?: number | null;
  /** Which change notices concern this subscription. */
  accepts(notice: ChangeNotice): boolean;
}

/**
 * Changes of some orders, each order in version order and without gaps. First the current state
 * ("Snapshot"), or with `sinceVersion` every version after it; then each change the feed announces.
 * When the feed skips versions (a notice lost, or a projector that repaired a gap in one write) the
 * missing ones are replayed from the event store. `previousVersion` is per order. The feed is joined
 * before the first read, so nothing falls between.
 */
function watchOrders(deps: OrderUpdatesDeps, caller: Caller, watch: Watch): AsyncIterable<OrderUpdate> {
  return new Repeater<OrderUpdate>(async (push, stop) => {
    const notices: ChangeNotice[] = [];
    let wake: (() => void) | null = null;
    const unsubscribe = await deps.feed.subscribe((notice) => {
      if (notice.collection !== orderDetails.collection || !watch.accepts(notice)) return;
      notices.push(notice);
      wake?.();
    });
    /** Per order: the last version sent (or the starting point), and whether anything was sent yet. */
    const sent = new Map<string, { last: number | null; first: boolean }>();
    const track = (id: string) => sent.get(id) ?? sent.set(id, { last: watch.sinceVersion ?? null, first: true }).get(id)!;

    const emit = async (id: string, doc: VersionedDoc<OrderDoc>, eventType: string) => {
      const order = track(id);
      await push({ doc, eventType, previousVersion: order.first ? null : order.last, deliveredAt: new Date() });
      order.first = false;
      order.last = doc.version;
    };

    /** Brings the subscriber from what it last saw of `id` to the read store's current document. */
    const advance = async (id: string, announced: string | null) => {
      const { last } = track(id);
      const doc = await deps.readStore.get<OrderDoc>(orderDetails.collection, id);
      if (!doc || !canSee(caller, doc)) return;
      if (last === null) return emit(id, doc, 'Snapshot');
      if (doc.version <= last) return;
      if (doc.version === last + 1 && announced) return emit(id, doc, announced);
      for (const step of await replay(deps, id, last, doc)) await emit(id, step.doc, step.eventType);
    };

    let stopped = false;
    void stop.then(() => {
      stopped = true;
      wake?.();
    });
    try {
      for (const id of watch.initial) await advance(id, null);
      while (!stopped) {
        const notice = notices.shift();
        if (notice) {
          // An order first heard of now is new to this subscription: all of it is news, from version 1.
          if (!sent.has(notice.id)) sent.set(notice.id, { last: 0, first: true });
          const { last } = track(notice.id);
          const more = notices.some((n) => n.id === notice.id && n.version > notice.version);
          if (last === null || notice.version > last) await traced.message(notice, () => advance(notice.id, more ? null : notice.eventType));
          continue;
        }
        await new Promise<void>((resolve) => (wake = resolve));
        wake = null;
      }
    } finally {
      await unsubscribe();
    }
  });
}

/** One order: `orderUpdated(id, sinceVersion)`. */
export function orderUpdates(deps: OrderUpdatesDeps, caller: Caller, id: string, sinceVersion: number | null = null): AsyncIterable<OrderUpdate> {
  return watchOrders(deps, caller, { initial: [id], sinceVersion, accepts: (notice) => notice.id === id });
}

/** Every order of the caller: `myOrdersUpdated`, starting with the current state of `initial`. */
export function myOrderUpdates(deps: OrderUpdatesDeps, caller: Caller, initial: string[]): AsyncIterable<OrderUpdate> {
  return watchOrders(deps, caller, { initial, accepts: (notice) => notice.userId === caller.userId });
}
