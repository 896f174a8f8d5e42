import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { ChangeFeed, DeadLetterStore, DocumentStore, DocWrite, EventStore, PinnedReadStore, ReadCoordination, StoredEvent, StreamVersions, VersionedDoc } from '../ports.js';
import { completeMarker, consumerOf, type Projection, rebuildLease } from '../readModels/projection.js';
import { reconcile } from './reconcile.js';
import { type ApplyDeps, applyEvents, foldEvent, ProjectionError, refold } from './runtime.js';

export interface RebuildDeps {
  store: EventStore;
  readStore: DocumentStore & ReadCoordination;
  versions: StreamVersions;
  deadLetters: DeadLetterStore;
  log: Logger;
}

export interface RebuildProgress {
  projection: string;
  events: number;
  position: bigint;
  head: bigint;
  startedAt: number;
}

export interface RebuildOptions {
  /** Events read from the store at once. */
  pageSize?: number;
  /** Orders held in memory before their documents are written. */
  flushOrders?: number;
  onProgress?: (progress: RebuildProgress) => void;
  /** Stops between pages; the new namespace is dropped and the old one stays active. */
  signal?: AbortSignal;
  /** Called once the new namespace is active and the completeness marker written, before the old one is dropped. */
  onSwitched?: () => void;
}

const LEASE_MS = 15_000;
const FENCE_MS = 30_000;
// Events committed while the rebuild read past their position (a lower position committing late) are
// caught by a reconciliation since the rebuild started, with this much allowance for clock skew.
const SKEW_MS = 60_000;

/** Where a rebuild writes: its fresh namespace, with nobody to notify. */
type Target = Omit<RebuildDeps, 'readStore'> & ApplyDeps & { readStore: PinnedReadStore };

// A rebuild's documents are not readable until the switch, so nobody needs to hear about them.
const silentFeed: ChangeFeed = { publish: async () => {}, subscribe: async () => async () => {}, close: async () => {} };

/**
 * Rebuilds one projection from the event store into a fresh namespace while the live projectors keep
 * writing the current one, then switches: (1) read every event in pages and fold them in; (2) fence the
 * collection, which holds live writes; (3) read up to the head again and reconcile the streams changed
 * since the start; (4) make the new namespace active and lift the fence in one step; (5) after every
 * process has seen the switch, delete the old namespace. Readers see the old documents until the switch
 * and the new ones after it, never none. Only one rebuild of a projection runs at a time (a lease).
 */
export async function rebuild(deps: RebuildDeps, projection: Projection<unknown>, options: RebuildOptions = {}): Promise<{ events: number; namespace: string; ms: number }> {
  const { readStore, log } = deps;
  const owner = randomUUID();
  const lease = rebuildLease(projection);
  if (!(await readStore.lease(lease, owner, LEASE_MS))) throw new Error(`a rebuild of ${projection.name} is already running`);
  const renew = setInterval(() => void readStore.lease(lease, owner, LEASE_MS).catch(() => {}), LEASE_MS / 3);
  const { namespaces } = readStore;
  const startedAt = Date.now();
  const ns = await namespaces.create();
  const target: Target = { ...deps, readStore: namespaces.pinned(ns), feed: silentFeed };
  const progress: RebuildProgress = { projection: projection.name, events: 0, position: 0n, head: await deps.store.headPosition(), startedAt };
  let switched = false;
  const written = { ids: new Set<string>() as Written | null };
  try {
    log.info({ projection: projection.name, namespace: ns }, 'rebuild started');
    await catchUp(target, projection, progress, written, options);
    const previous = await namespaces.active(projection.collection);
    await namespaces.fence(projection.collection, FENCE_MS);
    try {
      progress.head = await deps.store.headPosition();
      await catchUp(target, projection, progress, written, options);
      const { failed } = await reconcile({ ...target, log }, [projection], Date.now() - startedAt + SKEW_MS);
      if (failed > 0) throw new Error(`${failed} documents could not be brought to the head`);
      await target.readStore.setCheckpoint(projection.collection, progress.position);
      await namespaces.switchTo(projection.collection, ns);
      switched = true;
      await readStore.setInfo(completeMarker(projection), { at: new Date().toISOString(), events: String(progress.events) });
      options.onSwitched?.();
    } catch (error) {
      await namespaces.switchTo(projection.collection, previous); // lifts the fence, keeps the old namespace
      throw error;
    }
    log.info({ projection: projection.name, namespace: ns, events: progress.events, ms: Date.now() - startedAt }, 'rebuild switched');
    await sleep(2 * namespaces.activeCacheMs);
    await namespaces.drop(projection.collection, previous);
    return { events: progress.events, namespace: ns, ms: Date.now() - startedAt };
  } finally {
    clearInterval(renew);
    if (!switched) await namespaces.drop(projection.collection, ns).catch(() => {});
    await readStore.release(lease, owner);
  }
}

const yieldToIo = () => new Promise<void>((resolve) => setImmediate(resolve));

/** One order being folded in memory: what the namespace holds for it, and the fold since. */
interface Open {
  stored: VersionedDoc<unknown> | null;
  doc: unknown;
  version: number;
  last: StoredEvent | null;
  /** Dead-lettered at this event in this pass: later events of the order wait for the repairing path. */
  blocked: boolean;
  /** Events that did not follow on (a gap: a lower position committed late), for the repairing path. */
  gap: StoredEvent[] | null;
}

/** Orders written by this rebuild so far; any other order has no document in its fresh namespace. */
type Written = Set<string>;
/** Past this many orders the rebuild stops remembering which it wrote and asks Redis instead. */
const MAX_REMEMBERED = 2_000_000;

/**
 * Folds the log into `target` until a page comes back short, in memory: pages of `pageSize` events by
 * position (the next one read while this one folds), each order's events folded into its document as
 * they come, interleaved orders and all, and the documents written in pipelines once `flushOrders`
 * orders are open (and at the end), so an order costs one write per flush, not one round trip per event.
 * The namespace is fresh and the rebuild lease keeps it ours, so its documents are what this fold wrote.
 * What does not follow on (a gap, a poison event) goes through the live path (`applyEvents`), which
 * reads the store, repairs or dead-letters exactly as a delivery would.
 */
async function catchUp(
  target: Target,
  projection: Projection<unknown>,
  progress: RebuildProgress,
  written: { ids: Written | null },
  { pageSize = 10_000, flushOrders = 50_000, onProgress, signal }: RebuildOptions,
): Promise<void> {
  let open = new Map<string, Open>();
  // One flush writes while the next pages are read and folded; an order of the flush in progress that
  // shows up again waits for it (it must be read back from the namespace once written).
  let flushing: { orders: Map<string, Open>; done: Promise<void> } | null = null;
  const read = (after: bigint) => target.store.readAll(after, pageSize);
  let next = read(progress.position);
  for (;;) {
    signal?.throwIfAborted();
    const page = await next;
    if (page.length === 0) break;
    const full = page.length === pageSize;
    if (full) next = read(page.at(-1)!.position);
    if (flushing && page.some((event) => flushing!.orders.has(event.streamId) && !open.has(event.streamId))) {
      await flushing.done;
      flushing = null;
    }
    await openOrders(target, projection, open, page, written);
    for (let i = 0; i < page.length; i++) {
      foldInto(open.get(page[i]!.streamId)!, projection, page[i]!);
      // Lets the replies of the flush in flight in between: a reply that waits behind a whole page's fold
      // on a busy machine would reach Redis' command timeout.
      if (i % 1000 === 999) await yieldToIo();
    }
    progress.events += page.length;
    progress.position = page.at(-1)!.position;
    if (progress.position > progress.head) progress.head = progress.position;
    if (!full) break;
    if (open.size >= flushOrders) {
      await flushing?.done;
      const orders = open;
      flushing = { orders, done: flush(target, projection, orders, written) };
      open = new Map();
    }
    onProgress?.(progress);
  }
  await flushing?.done;
  await flush(target, projection, open, written);
  onProgress?.(progress);
}

/** Opens the orders of a page not open yet: from the namespace when this rebuild wrote them, else empty. */
async function openOrders(target: Target, projection: Projection<unknown>, open: Map<string, Open>, page: StoredEvent[], written: { ids: Written | null }) {
  const toRead: string[] = [];
  for (const { streamId } of page) {
    if (open.has(streamId)) continue;
    open.set(streamId, { stored: null, doc: null, version: 0, last: null, blocked: false, gap: null });
    if (!written.ids || written.ids.has(streamId)) toRead.push(streamId);
  }
  if (toRead.length === 0) return;
  const docs = await target.readStore.getMany(projection.collection, toRead);
  for (const [i, id] of toRead.entries()) {
    const stored = docs[i] ?? null;
    if (stored) Object.assign(open.get(id)!, { stored, doc: stored.data, version: stored.version });
  }
}

function foldInto(order: Open, projection: Projection<unknown>, event: StoredEvent): void {
  if (order.gap) return void order.gap.push(event);
  if (order.blocked || event.version <= order.version) return; // behind a poison event, or already in the document
  if (event.version !== order.version + 1) return void (order.gap = [event]);
  try {
    const doc = foldEvent(projection, order.doc, event);
    // No document yet after an event (a stream that does not start with one this projection handles): the repairing path says why.
    if (doc === null) return void (order.gap = [event]);
    order.doc = doc;
    order.version = event.version;
    order.last = event;
  } catch (error) {
    if (!(error instanceof ProjectionError)) throw error;
    // The repairing path folds the order again from the document and dead-letters this event.
    order.gap = [event];
  }
}

/** Writes every open order that moved, in pipelines; then the gaps and poison events one by one. */
async function flush(target: Target, projection: Projection<unknown>, open: Map<string, Open>, written: { ids: Written | null }) {
  const writes: DocWrite<unknown>[] = [];
  const at = new Date().toISOString();
  for (const [id, order] of open) {
    if (!order.last || order.doc === null) continue;
    const doc = { version: order.version, eventId: order.last.metadata.eventId, eventAt: order.last.recordedAt.toISOString(), projectedAt: at, data: order.doc };
    writes.push({ id, expectedVersion: order.stored?.version ?? 0, doc, effects: projection.effects?.(order.stored?.data ?? null, order.doc, id) ?? {} });
  }
  const outcomes = target.readStore.applyMany
    ? await target.readStore.applyMany(projection.collection, writes)
    : await Promise.all(writes.map((w) => target.readStore.apply(projection.collection, w.id, w.expectedVersion, w.doc, w.effects)));
  // Nobody else writes this namespace; a refused write means it changed under us: fold that order again from the store.
  for (const [i, ok] of outcomes.entries()) if (!ok) await refold(target, projection, writes[i]!.id, await target.readStore.get(projection.collection, writes[i]!.id));
  if (written.ids) {
    for (const { id } of writes) written.ids.add(id);
    if (written.ids.size > MAX_REMEMBERED) written.ids = null;
  }
  for (const [id, order] of open) {
    if (!order.gap) continue;
    await applyEvents(target, projection, order.gap).catch(async (error: unknown) => {
      if (!(error instanceof ProjectionError)) throw error;
      await target.deadLetters.record({ consumer: consumerOf(projection.name), event: error.event, reason: error.message, deliveries: 0 });
    });
    written.ids?.add(id);
  }
  open.clear();
}
