import { Repeater } from '@repeaterjs/repeater';
import type { Caller } from '../domain/order/index.js';
import type { ChangeFeed, ChangeNotice, ReadStore, StoredEvent, VersionedDoc } from '../ports.js';
import { orderDetails, type OrderDoc } from '../projectors/orderDetails.js';
import { toProjected } from '../projectors/runtime.js';
import { canSee } from './getOrder.js';

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

/**
 * One order's changes, in version order and without gaps. First the current state ("Snapshot"), or,
 * with `sinceVersion`, every version after it. Then each change the feed announces; when the feed skips
 * versions (a notice lost, or a projector that repaired a gap in one write) the missing ones are
 * replayed from the event store. The feed is joined before the first read, so nothing falls between.
 */
export function orderUpdates(deps: OrderUpdatesDeps, caller: Caller, id: string, sinceVersion: number | null = null): AsyncIterable<OrderUpdate> {
  return new Repeater<OrderUpdate>(async (push, stop) => {
    const notices: ChangeNotice[] = [];
    let wake: (() => void) | null = null;
    const unsubscribe = await deps.feed.subscribe((notice) => {
      if (notice.collection !== orderDetails.collection || notice.id !== id) return;
      notices.push(notice);
      wake?.();
    });
    let last: number | null = sinceVersion;
    let first = true;

    const emit = async (doc: VersionedDoc<OrderDoc>, eventType: string) => {
      await push({ doc, eventType, previousVersion: first ? null : last, deliveredAt: new Date() });
      first = false;
      last = doc.version;
    };

    /** Brings the subscriber from `last` to the read store's current document. */
    const advance = async (announced: string | null) => {
      const doc = await deps.readStore.get<OrderDoc>(orderDetails.collection, id);
      if (!doc || !canSee(caller, doc)) return;
      if (last === null) return emit(doc, 'Snapshot');
      if (doc.version <= last) return;
      if (doc.version === last + 1 && announced) return emit(doc, announced);
      for (const step of await replay(deps, id, last, doc)) await emit(step.doc, step.eventType);
    };

    let stopped = false;
    void stop.then(() => {
      stopped = true;
      wake?.();
    });
    try {
      await advance(null);
      while (!stopped) {
        const notice = notices.shift();
        if (notice) {
          if (last === null || notice.version > last) await advance(notices.some((n) => n.version > notice.version) ? null : notice.eventType);
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
