import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { ACTIVE_NAMESPACE_TTL_MS } from '../infrastructure/readIndex.js';
import type { ChangeFeed, EventStore, ReadStore, StoredEvent } from '../ports.js';
import { consumerOf, type DeadLetterStore } from './deadLetters.js';
import type { Projection } from './projection.js';
import { reconcile, type StreamVersions } from './reconcile.js';
import { applyEvents, ProjectionError } from './runtime.js';

export interface RebuildDeps {
  store: EventStore;
  readStore: ReadStore;
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
  pageSize?: number;
  /** Orders folded at once within a page. */
  concurrency?: number;
  onProgress?: (progress: RebuildProgress) => void;
  /** Stops between pages; the new namespace is dropped and the old one stays active. */
  signal?: AbortSignal;
  /** Called once the new namespace is active and the completeness marker written, before the old one is dropped. */
  onSwitched?: () => void;
}

export const rebuildLease = (projection: Projection<unknown>) => `rebuild:${projection.collection}`;
/**
 * Written when a rebuild switches, and lost with everything else when Redis loses its data (a flush, a
 * restart without persistence): its absence tells projectors that documents may be missing.
 */
export const completeMarker = (projection: Projection<unknown>) =>
  `complete:${projection.collection}${(projection.layout ?? 1) > 1 ? `:layout${projection.layout}` : ''}`;
const LEASE_MS = 15_000;
const FENCE_MS = 30_000;
// Events committed while the rebuild read past their position (a lower position committing late) are
// caught by a reconciliation since the rebuild started, with this much allowance for clock skew.
const SKEW_MS = 60_000;

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
  const target = { ...deps, readStore: namespaces.pinned(ns), feed: silentFeed };
  const progress: RebuildProgress = { projection: projection.name, events: 0, position: 0n, head: await deps.store.headPosition(), startedAt };
  let switched = false;
  try {
    log.info({ projection: projection.name, namespace: ns }, 'rebuild started');
    await catchUp(target, projection, progress, options);
    const previous = await namespaces.active(projection.collection);
    await namespaces.fence(projection.collection, FENCE_MS);
    try {
      progress.head = await deps.store.headPosition();
      await catchUp(target, projection, progress, options);
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
    await sleep(2 * ACTIVE_NAMESPACE_TTL_MS);
    await namespaces.drop(projection.collection, previous);
    return { events: progress.events, namespace: ns, ms: Date.now() - startedAt };
  } finally {
    clearInterval(renew);
    if (!switched) await namespaces.drop(projection.collection, ns).catch(() => {});
    await readStore.release(lease, owner);
  }
}

/**
 * Folds pages of the log into `target` until a page comes back short. A poison event is dead-lettered
 * as a delivery would be, and its order stays at its last good version; the rebuild goes on.
 */
async function catchUp(
  target: RebuildDeps & Parameters<typeof applyEvents>[0],
  projection: Projection<unknown>,
  progress: RebuildProgress,
  { pageSize = 2000, concurrency = 32, onProgress, signal }: RebuildOptions,
): Promise<void> {
  const apply = (run: StoredEvent[]) =>
    applyEvents(target, projection, run).catch(async (error: unknown) => {
      if (!(error instanceof ProjectionError)) throw error;
      await target.deadLetters.record({ consumer: consumerOf(projection.name), event: error.event, reason: error.message, deliveries: 0 });
    });
  for (;;) {
    signal?.throwIfAborted();
    const page = await target.store.readAll(progress.position, pageSize);
    if (page.length === 0) return;
    const byOrder = new Map<string, StoredEvent[]>();
    for (const event of page) byOrder.set(event.streamId, [...(byOrder.get(event.streamId) ?? []), event]);
    const runs = [...byOrder.values()];
    for (let i = 0; i < runs.length; i += concurrency) await Promise.all(runs.slice(i, i + concurrency).map(apply));
    progress.events += page.length;
    progress.position = page.at(-1)!.position;
    if (progress.position > progress.head) progress.head = progress.position;
    onProgress?.(progress);
    if (page.length < pageSize) return;
  }
}
