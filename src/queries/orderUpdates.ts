import { Repeater } from '@repeaterjs/repeater';
import type { Caller } from '../domain/order/index.js';
import type { ChangeFeed, ChangeNotice, DocumentStore, StoredEvent, VersionedDoc } from '../ports.js';
import { orderDetails, type OrderDoc } from '../readModels/orderDetails/projection.js';
import { canSee } from '../readModels/orderDetails/queries.js';
import { toProjected } from '../readModels/projection.js';
import { routerOf } from './noticeRouter.js';
import { markShared } from './sharedPayloads.js';
import { traced } from '../telemetry/hooks.js';
import { wakeUps } from './wakeUps.js';

export interface OrderUpdate {
  doc: VersionedDoc<OrderDoc>;
  eventType: string;
  previousVersion: number | null;
  deliveredAt: Date;
}

/**
 * Where versions the read store no longer holds come from: the event store, read only, one page of at
 * most `limit` events from `fromVersion` on, so a long replay never sits in memory whole.
 */
export type OrderHistory = (orderId: string, fromVersion: number, limit: number) => Promise<StoredEvent[]>;

export interface OrderUpdatesDeps {
  readStore: DocumentStore;
  feed: ChangeFeed;
  history: OrderHistory;
}

/** Events read per page of a replay: a page and one document are what a replaying subscriber holds. */
export const REPLAY_PAGE = 200;

const finalStatuses: ReadonlySet<OrderDoc['status']> = new Set(['DELIVERED', 'CANCELLED']);

/** The newest update made of each announced document, for the next subscriber that pushes it too. */
const announcedUpdates = new WeakMap<VersionedDoc<OrderDoc>, OrderUpdate>();

/**
 * The update of a change notice's document, one object for every subscriber of the order that pushes it
 * in the same millisecond after the same version: each of them would have made an update equal to it
 * (the same document, event type and previous version, and a deliveredAt equal to the millisecond,
 * which is all a message shows of it), so it is marked shared and executed once for all of them
 * (server/subscriptionExecution.ts). Only ever given to subscribers that may see the order.
 */
function announcedUpdate(doc: VersionedDoc<OrderDoc>, eventType: string, previousVersion: number | null): OrderUpdate {
  const now = Date.now();
  const last = announcedUpdates.get(doc);
  if (last && last.deliveredAt.getTime() === now && last.eventType === eventType && last.previousVersion === previousVersion) return last;
  const update = markShared({ doc, eventType, previousVersion, deliveredAt: new Date(now) });
  announcedUpdates.set(doc, update);
  return update;
}

/**
 * Every version of an order's document past `after`, up to the read store's `upTo`, rebuilt from its
 * events with the same pure evolve the projector uses, one page at a time and only as fast as the
 * subscriber takes them (the caller awaits each step before asking for the next). The newest comes
 * from the read store as written; older ones were replaced there, so their projectedAt is now.
 */
async function* replay(history: OrderHistory, id: string, after: number, upTo: VersionedDoc<OrderDoc>): AsyncGenerator<{ doc: VersionedDoc<OrderDoc>; eventType: string }> {
  let data: OrderDoc | null = null;
  for (let from = 1; from <= upTo.version; ) {
    const page = await history(id, from, Math.min(REPLAY_PAGE, upTo.version - from + 1));
    if (page.length === 0) return;
    for (const event of page) {
      if (event.version > upTo.version) return;
      data = orderDetails.evolve(data, toProjected(event));
      if (event.version <= after) continue;
      yield event.version === upTo.version
        ? { doc: upTo, eventType: event.type }
        : { doc: { version: event.version, eventAt: event.recordedAt.toISOString(), projectedAt: new Date().toISOString(), data }, eventType: event.type };
    }
    from = page.at(-1)!.version + 1;
  }
}

interface Watch {
  /** Orders to start with: each sends its current state, or every version after `sinceVersion`. */
  initial: string[];
  sinceVersion?: number | null;
  /** Which change notices concern this subscription: one order's, or every order's of one user. */
  route: { id: string } | { userId: string };
  /** Ends the subscription once the order reached a final state (a single-order subscription). */
  completeOnFinal?: boolean;
}

/**
 * Changes of some orders, each order in version order and without gaps. First the current state
 * ("Snapshot"), or with `sinceVersion` every version after it; then each change the feed announces.
 * When the feed skips versions (a notice lost, or a projector that repaired a gap in one write) the
 * missing ones are replayed from the event store. `previousVersion` is per order. The feed is joined
 * before the first read, so nothing falls between.
 *
 * What one subscriber holds is bounded: pending notices are kept per order, the newest only (the read
 * store and the event store hold the rest), and a replay is read a page at a time as it is consumed.
 */
function watchOrders(deps: OrderUpdatesDeps, caller: Caller, watch: Watch): AsyncIterable<OrderUpdate> {
  return new Repeater<OrderUpdate>(async (push, stop) => {
    // Insertion order is arrival order; a newer notice for the same order replaces the older one.
    const pending = new Map<string, ChangeNotice & { skipped: boolean }>();
    const changes = wakeUps(
      (wake) =>
        routerOf(deps.feed).watch({ collection: orderDetails.collection, ...watch.route }, (notice) => {
          const earlier = pending.get(notice.id);
          if (earlier && earlier.version >= notice.version) return;
          pending.delete(notice.id);
          pending.set(notice.id, { ...notice, skipped: earlier !== undefined });
          wake();
        }),
      stop,
    );
    /** Per order: the last version sent (or the starting point), and whether anything was sent yet. */
    const sent = new Map<string, { last: number | null; first: boolean }>();
    const track = (id: string) => sent.get(id) ?? sent.set(id, { last: watch.sinceVersion ?? null, first: true }).get(id)!;
    let finished = false;

    /** `announced`: the document a change notice carried, the same object for every subscriber. */
    const emit = async (id: string, doc: VersionedDoc<OrderDoc>, eventType: string, announced = false) => {
      const order = track(id);
      // A resumed subscription's first message follows the version the client said it has.
      const previousVersion = order.first ? (watch.sinceVersion ?? null) : order.last;
      order.first = false;
      order.last = doc.version;
      await push(announced ? announcedUpdate(doc, eventType, previousVersion) : { doc, eventType, previousVersion, deliveredAt: new Date() });
      if (watch.completeOnFinal && finalStatuses.has(doc.data.status)) finished = true;
    };

    /**
     * Brings the subscriber from what it last saw of `id` to the read store's current document. The
     * common case, the next version announced with its document, reads nothing.
     */
    const advance = async (id: string, announced: (ChangeNotice & { skipped: boolean }) | null) => {
      const { last } = track(id);
      // The notice of exactly the next version, when one announced it (not one standing for several).
      const next = announced && !announced.skipped && last !== null && announced.version === last + 1 ? announced : null;
      const doc = (next?.doc as VersionedDoc<OrderDoc> | undefined) ?? (await deps.readStore.get<OrderDoc>(orderDetails.collection, id));
      // Someone else's order and an unknown id look the same: nothing is sent.
      if (!doc || !canSee(caller, doc)) return;
      if (last === null) return emit(id, doc, 'Snapshot');
      if (doc.version <= last) {
        // Resumed at (or past) a final version: there is nothing left to say.
        if (watch.completeOnFinal && finalStatuses.has(doc.data.status)) finished = true;
        return;
      }
      if (next && doc.version === next.version) return emit(id, doc, next.eventType, next.doc === doc);
      for await (const step of replay(deps.history, id, last, doc)) {
        if (stopped) return;
        await emit(id, step.doc, step.eventType);
      }
    };

    let stopped = false;
    void stop.then(() => (stopped = true));
    let joined = false;
    try {
      for await (const _ of changes) {
        // The first wake-up says the feed is joined: the current state is read after it.
        if (!joined) for (const id of watch.initial) await advance(id, null);
        joined = true;
        for (let next = pending.values().next(); !next.done && !stopped && !finished; next = pending.values().next()) {
          const notice = next.value;
          pending.delete(notice.id);
          // An order first heard of now is new to this subscription: all of it is news, from version 1.
          if (!sent.has(notice.id)) sent.set(notice.id, { last: 0, first: true });
          const { last } = track(notice.id);
          if (last === null || notice.version > last) await traced.message(notice, () => advance(notice.id, notice));
        }
        if (finished) break;
      }
      stop();
    } finally {
      await changes.return();
    }
  });
}

/** One order: `orderUpdated(id, sinceVersion)`; completes after delivering a final state. */
export function orderUpdates(deps: OrderUpdatesDeps, caller: Caller, id: string, sinceVersion: number | null = null): AsyncIterable<OrderUpdate> {
  return watchOrders(deps, caller, { initial: [id], sinceVersion, route: { id }, completeOnFinal: true });
}

/** Every order of the caller: `myOrdersUpdated`, starting with the current state of `initial`. */
export function myOrderUpdates(deps: OrderUpdatesDeps, caller: Caller, initial: string[]): AsyncIterable<OrderUpdate> {
  return watchOrders(deps, caller, { initial, route: { userId: caller.userId } });
}
