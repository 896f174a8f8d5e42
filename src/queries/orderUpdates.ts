import type { Caller } from '../domain/order/index.js';
import type { ChangeFeed, ChangeNotice, DocumentStore, StoredEvent, VersionedDoc } from '../ports.js';
import { orderDetails, type OrderDoc } from '../readModels/orderDetails/projection.js';
import { canSee } from '../readModels/orderDetails/queries.js';
import { toProjected } from '../readModels/projection.js';
import { routerOf } from './noticeRouter.js';
import { markShared, ThisMillisecond } from './sharedPayloads.js';
import { traced } from '../telemetry/hooks.js';

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

/** The update made of each document announced this millisecond, for the next subscriber that pushes it too. */
const announcedUpdates = new ThisMillisecond<VersionedDoc<OrderDoc>, OrderUpdate>();

/**
 * The update of a change notice's document, one object for every subscriber of the order that pushes it
 * in the same millisecond after the same version: each of them would have made an update equal to it
 * (the same document, event type and previous version, and a deliveredAt equal to the millisecond,
 * which is all a message shows of it), so it is marked shared and executed once for all of them
 * (server/subscriptionExecution.ts). Only ever given to subscribers that may see the order.
 */
function announcedUpdate(doc: VersionedDoc<OrderDoc>, eventType: string, previousVersion: number | null): OrderUpdate {
  const now = Date.now();
  const announced = announcedUpdates.of(now);
  const last = announced.get(doc);
  if (last && last.eventType === eventType && last.previousVersion === previousVersion) return last;
  const update = markShared({ doc, eventType, previousVersion, deliveredAt: new Date(now) });
  announced.set(doc, update);
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

/** A notice waiting to be pushed; `skipped` when it replaced an older one of the same order not pushed yet. */
type Pending = ChangeNotice & { skipped?: true };

/**
 * Changes of some orders, each order in version order and without gaps. First the current state
 * ("Snapshot"), or with `sinceVersion` every version after it; then each change the feed announces.
 * When the feed skips versions (a notice lost, or a projector that repaired a gap in one write) the
 * missing ones are replayed from the event store. `previousVersion` is per order. The feed is joined
 * before the first read, so nothing falls between.
 *
 * What one subscriber holds is bounded: pending notices are kept per order, the newest only (the read
 * store and the event store hold the rest), and a replay is read a page at a time as it is consumed.
 *
 * Pulled: each `next()` does the work of the next message, and nothing runs ahead of what the
 * subscriber reads. One object with its state, no producer task beside it: between messages an open
 * subscription holds this object, its two maps, its feed handler and the one promise of a `next()`
 * waiting for a notice, and a change reaches it in one turn of the microtask queue. It was a Repeater
 * fed by an async loop over the wake-ups of an async generator: about 6 KiB and a dozen promises per
 * change per subscriber, where this holds about 2 KiB (compiled code, 5,000 subscribers in one
 * process, heap snapshots compared with bench/micro/heapDiff.ts).
 */
class OrderWatch implements AsyncIterableIterator<OrderUpdate> {
  /** Insertion order is arrival order; a newer notice for the same order replaces the older one. */
  private readonly pending = new Map<string, Pending>();
  /** Per order: the last version sent (or the starting point), and whether anything was sent yet. */
  private readonly sent = new Map<string, { last: number | null; first: boolean }>();
  /** Orders of `watch.initial` whose first message is still to come: the index of the next one. */
  private initialNext = 0;
  private replaying: { id: string; steps: AsyncGenerator<{ doc: VersionedDoc<OrderDoc>; eventType: string }> } | null = null;
  private joined = false;
  private unwatch: (() => Promise<void>) | null = null;
  /** Returned, or past its final message: every `next()` answers done. */
  private ended = false;
  /** A final state was sent (completeOnFinal): the next `next()` ends the subscription. */
  private finished = false;
  /** Resolves a `next()` waiting for a notice. */
  private wake: (() => void) | null = null;
  /** Ends the span of the message sent last (with tracing) when the subscriber asks for the next one. */
  private demand: (() => void) | null = null;

  constructor(
    private readonly deps: OrderUpdatesDeps,
    private readonly caller: Caller,
    private readonly watch: Watch,
  ) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<OrderUpdate>> {
    this.demanded();
    // The usual wait, for an order's next change, holds a promise and its reaction: an async function
    // suspended there would also keep a generator and its context, per subscriber, for as long as the
    // orders stay quiet.
    if (this.joined && !this.ended && !this.finished && this.idle()) return new Promise<void>((resolve) => (this.wake = resolve)).then(() => this.pull());
    return this.pull();
  }

  /** Nothing to send until a notice comes. */
  private idle(): boolean {
    return !this.replaying && this.initialNext >= this.watch.initial.length && this.pending.size === 0;
  }

  private async pull(): Promise<IteratorResult<OrderUpdate>> {
    try {
      if (!this.joined) await this.join();
      for (;;) {
        if (this.ended || this.finished) return await this.close();
        if (this.idle()) {
          await new Promise<void>((resolve) => (this.wake = resolve));
          continue;
        }
        let update = this.step();
        if (update instanceof Promise) update = await update;
        if (update && !this.ended) return { done: false, value: update };
      }
    } catch (error) {
      await this.close();
      throw error;
    }
  }

  return(): Promise<IteratorResult<OrderUpdate>> {
    return this.close();
  }

  async throw(error: unknown): Promise<IteratorResult<OrderUpdate>> {
    await this.close();
    throw error;
  }

  private readonly onNotice = (notice: ChangeNotice) => {
    const earlier = this.pending.get(notice.id);
    if (earlier && earlier.version >= notice.version) return;
    this.pending.delete(notice.id);
    // The feed's own object, shared by every subscriber, unless it stands for several versions: a copy of
    // every notice for every subscriber was 0.7 µs each (a spread plus a field, V8's slow path on Node 20).
    this.pending.set(notice.id, earlier === undefined ? notice : { ...notice, skipped: true });
    this.wakeUp();
  };

  /** Joins the feed before anything is read, so no change falls between the read and the watch. */
  private async join(): Promise<void> {
    this.joined = true;
    const unwatch = await routerOf(this.deps.feed).watch({ collection: orderDetails.collection, ...this.watch.route }, this.onNotice);
    if (this.ended) await unwatch();
    else this.unwatch = unwatch;
  }

  /** The work of one message: a replay's next step, an initial order, or the oldest pending notice. */
  private step(): OrderUpdate | null | Promise<OrderUpdate | null> {
    if (this.replaying) return this.replayStep(this.replaying);
    if (this.initialNext < this.watch.initial.length) return this.advance(this.watch.initial[this.initialNext++]!, null);
    const notice: Pending = this.pending.values().next().value!;
    this.pending.delete(notice.id);
    // An order first heard of now is new to this subscription: all of it is news, from version 1.
    if (!this.sent.has(notice.id)) this.sent.set(notice.id, { last: 0, first: true });
    const { last } = this.track(notice.id);
    if (last !== null && notice.version <= last) return null;
    return this.deliver(notice);
  }

  /** With tracing, the notice's message gets a span in the trace of its change, until the next is asked for. */
  private deliver(notice: Pending): OrderUpdate | null | Promise<OrderUpdate | null> {
    if (!traced.spans(notice)) return this.advance(notice.id, notice);
    return new Promise((resolve, reject) => {
      traced
        .message(notice, async () => {
          const update = await this.advance(notice.id, notice);
          resolve(update);
          if (update) await new Promise<void>((sent) => (this.demand = sent));
        })
        .catch(reject);
    });
  }

  /**
   * Brings the subscriber from what it last saw of `id` to the read store's current document. The
   * common case, the next version announced with its document, reads nothing and waits for nothing.
   */
  private advance(id: string, announced: Pending | null): OrderUpdate | null | Promise<OrderUpdate | null> {
    const { last } = this.track(id);
    // The notice of exactly the next version, when one announced it (not one standing for several).
    const next = announced && !announced.skipped && last !== null && announced.version === last + 1 ? announced : null;
    if (next?.doc) return this.advanceTo(id, last, next.doc as VersionedDoc<OrderDoc>, next);
    return this.deps.readStore.get<OrderDoc>(orderDetails.collection, id).then((doc) => (this.ended ? null : this.advanceTo(id, last, doc, next)));
  }

  private advanceTo(id: string, last: number | null, doc: VersionedDoc<OrderDoc> | null, next: Pending | null): OrderUpdate | null {
    // Someone else's order and an unknown id look the same: nothing is sent.
    if (!doc || !canSee(this.caller, doc)) return null;
    if (last === null) return this.emit(id, doc, 'Snapshot');
    if (doc.version <= last) {
      // Resumed at (or past) a final version: there is nothing left to say.
      if (this.watch.completeOnFinal && finalStatuses.has(doc.data.status)) this.finished = true;
      return null;
    }
    if (next && doc.version === next.version) return this.emit(id, doc, next.eventType, next.doc === doc);
    this.replaying = { id, steps: replay(this.deps.history, id, last, doc) };
    return null;
  }

  private async replayStep(replaying: NonNullable<OrderWatch['replaying']>): Promise<OrderUpdate | null> {
    const step = await replaying.steps.next();
    if (step.done || this.ended) {
      if (this.replaying === replaying) this.replaying = null;
      return null;
    }
    return this.emit(replaying.id, step.value.doc, step.value.eventType);
  }

  /** `announced`: the document a change notice carried, one object for every subscriber of the order. */
  private emit(id: string, doc: VersionedDoc<OrderDoc>, eventType: string, announced = false): OrderUpdate {
    const order = this.track(id);
    // A resumed subscription's first message follows the version the client said it has.
    const previousVersion = order.first ? (this.watch.sinceVersion ?? null) : order.last;
    order.first = false;
    order.last = doc.version;
    if (this.watch.completeOnFinal && finalStatuses.has(doc.data.status)) this.finished = true;
    return announced ? announcedUpdate(doc, eventType, previousVersion) : { doc, eventType, previousVersion, deliveredAt: new Date() };
  }

  private track(id: string): { last: number | null; first: boolean } {
    let order = this.sent.get(id);
    if (!order) this.sent.set(id, (order = { last: this.watch.sinceVersion ?? null, first: true }));
    return order;
  }

  private wakeUp(): void {
    const waiting = this.wake;
    this.wake = null;
    waiting?.();
  }

  private demanded(): void {
    const sent = this.demand;
    this.demand = null;
    sent?.();
  }

  /** Ends the subscription: a `next()` waiting ends too; resolves once the feed is left and a replay let go of. */
  private async close(): Promise<IteratorReturnResult<undefined>> {
    this.ended = true;
    this.demanded();
    this.wakeUp();
    const { replaying, unwatch } = this;
    this.replaying = null;
    this.unwatch = null;
    await Promise.all([replaying?.steps.return(undefined), unwatch?.()]);
    return { done: true, value: undefined };
  }
}

function watchOrders(deps: OrderUpdatesDeps, caller: Caller, watch: Watch): AsyncIterable<OrderUpdate> {
  return new OrderWatch(deps, caller, watch);
}

/** One order: `orderUpdated(id, sinceVersion)`; completes after delivering a final state. */
export function orderUpdates(deps: OrderUpdatesDeps, caller: Caller, id: string, sinceVersion: number | null = null): AsyncIterable<OrderUpdate> {
  return watchOrders(deps, caller, { initial: [id], sinceVersion, route: { id }, completeOnFinal: true });
}

/** Every order of the caller: `myOrdersUpdated`, starting with the current state of `initial`. */
export function myOrderUpdates(deps: OrderUpdatesDeps, caller: Caller, initial: string[]): AsyncIterable<OrderUpdate> {
  return watchOrders(deps, caller, { initial, route: { userId: caller.userId } });
}
