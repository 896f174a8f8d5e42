import { Repeater } from '@repeaterjs/repeater';
import type { Caller } from '../domain/order/index.js';
import type { ChangeFeed, ChangeNotice, ReadStore, VersionedDoc } from '../ports.js';
import { orderDetails, type OrderDoc } from '../projectors/orderDetails.js';
import { canSee } from './getOrder.js';

export interface OrderUpdate {
  doc: VersionedDoc<OrderDoc>;
  eventType: string;
  previousVersion: number | null;
  deliveredAt: Date;
}

/**
 * The current state first ("Snapshot"), then each newer version as the change feed announces it,
 * never going backwards: a client compares `previousVersion` with the last version it saw.
 * The feed is joined before the first read, so nothing committed in between is missed.
 */
export function orderUpdates(deps: { readStore: ReadStore; feed: ChangeFeed }, caller: Caller, id: string): AsyncIterable<OrderUpdate> {
  return new Repeater<OrderUpdate>(async (push, stop) => {
    const notices: ChangeNotice[] = [];
    let wake: (() => void) | null = null;
    const unsubscribe = await deps.feed.subscribe((notice) => {
      if (notice.collection !== orderDetails.collection || notice.id !== id) return;
      notices.push(notice);
      wake?.();
    });
    let last: number | null = null;
    const emit = async (eventType: string) => {
      const doc = await deps.readStore.get<OrderDoc>(orderDetails.collection, id);
      if (!doc || !canSee(caller, doc) || (last !== null && doc.version <= last)) return;
      await push({ doc, eventType, previousVersion: last, deliveredAt: new Date() });
      last = doc.version;
    };
    try {
      await emit('Snapshot');
      let stopped = false;
      void stop.then(() => {
        stopped = true;
        wake?.();
      });
      while (!stopped) {
        const notice = notices.shift();
        if (notice) {
          if (last === null || notice.version > last) await emit(notice.eventType);
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
