import type { Logger } from 'pino';
import type { ChangeFeed, DeadLetterStore, DocumentStore, EventBus, EventStore, ReadCoordination, ReceiptStore, StreamVersions } from '../ports.js';
import { projections } from '../readModels/index.js';
import { completeMarker, rebuildLease } from '../readModels/projection.js';
import { rebuild } from './rebuild.js';
import { reconcile, type ReconcileResult } from './reconcile.js';
import { startProjector } from './runtime.js';
import { sampleProjections } from './status.js';

const START_WINDOW_MS = 120_000;
/**
 * A periodic sweep looks back to where the previous one ended, less this much: an event's recordedAt is
 * its transaction's start (Postgres now()), not its commit, and the database's clock need not be this host's.
 */
const SWEEP_OVERLAP_MS = 60_000;

export interface ProjectorRoleDeps {
  bus: EventBus;
  store: EventStore;
  readStore: DocumentStore & ReadCoordination;
  feed: ChangeFeed;
  deadLetters: DeadLetterStore;
  versions: StreamVersions;
  log: Logger;
  concurrency: number;
  maxDeliver: number;
  /** Command receipts: a projection with `recordsReceipts` records PUBLISHED and PROJECTED. */
  receipts?: ReceiptStore;
}

export interface ProjectorRoleOptions {
  reconcileEveryMs: number;
  reconcileWindowMs: number;
  statusEveryMs?: number;
  /** How often to check that every read model is complete (see ensureComplete). */
  completenessEveryMs?: number;
  checkpointEveryMs?: number;
}

export interface ProjectorRole {
  /** One reconciliation sweep now, besides the periodic ones. */
  reconcileNow(): Promise<ReconcileResult>;
  stop(): Promise<void>;
}

/**
 * The projector role: a durable consumer per read model, a reconciliation sweep every
 * `reconcileEveryMs`, a status sample every second, and a rebuild of any read model not known to be
 * complete, e.g. on a first start or after Redis lost its data.
 */
export async function startProjectorRole(deps: ProjectorRoleDeps, options: ProjectorRoleOptions): Promise<ProjectorRole> {
  const { log } = deps;
  const stopping = new AbortController();
  const rebuilds = new Map<string, Promise<unknown>>();

  // A read model is complete once a rebuild has switched to it (its marker exists). A first start, a
  // flushed Redis or a Redis restarted without persistence all lose the marker: documents of orders
  // idle for longer than reconciliation looks back would then never return, so rebuild from Postgres.
  // One process rebuilds (a lease); the others see the lease and wait for the marker.
  const ensureComplete = async () => {
    for (const projection of projections) {
      if (rebuilds.has(projection.collection) || stopping.signal.aborted) continue;
      if ((await deps.readStore.getInfo(completeMarker(projection))).at) continue;
      if (await deps.readStore.leaseHolder(rebuildLease(projection))) continue;
      log.warn({ projection: projection.name }, 'read model is not known to be complete (first start or Redis lost its data): rebuilding from the event store');
      // Switched is done: the cleanup after it (dropping the old namespace) must not keep the next
      // rebuild from starting if Redis loses its data again meanwhile.
      const task = rebuild(deps, projection, { signal: stopping.signal, onSwitched: () => rebuilds.delete(projection.collection) })
        .catch((error: unknown) => log.warn({ err: error, projection: projection.name }, 'automatic rebuild did not finish; will try again'))
        .finally(() => rebuilds.get(projection.collection) === task && rebuilds.delete(projection.collection));
      rebuilds.set(projection.collection, task);
    }
  };
  // In the background: live consumers start at once.
  void ensureComplete().catch((error: unknown) => log.warn({ err: error }, 'could not check the read models'));

  const running = await Promise.all(
    projections.map(async (projection) => ({
      projection,
      subscription: await startProjector(
        { ...deps, checkpointEveryMs: options.checkpointEveryMs, receipts: projection.recordsReceipts ? deps.receipts : undefined },
        projection,
      ),
    })),
  );

  let sweep: Promise<ReconcileResult> | null = null;
  const reconcileNow = () => (sweep ??= reconcile(deps, projections, options.reconcileWindowMs).finally(() => (sweep = null)));
  // At once on start, not after the first interval: a projector that died while holding deliveries
  // leaves them unacked until the bus's ack wait (30 s by default) ends; its successor brings those
  // orders up to date from the event store now. Off the delivery path: one query and a read per order.
  // Only the last two minutes: a delivery held longer than the ack wait has been redelivered already,
  // and a sweep over the whole window would cost a large read at every start.
  const startedAt = Date.now();
  let coveredUntil = startedAt;
  void reconcile(deps, projections, Math.min(options.reconcileWindowMs, START_WINDOW_MS)).catch((error: unknown) => {
    coveredUntil = Math.min(coveredUntil, startedAt - START_WINDOW_MS); // the next sweep covers it instead
    log.warn({ err: error }, 'reconciliation at start failed');
  });
  // Each periodic sweep compares the streams changed since the previous sweep (with an overlap), not the
  // whole window every time: its cost follows the write rate, and it no longer arrives as a burst of
  // work every interval, on the same CPU as every event's path from commit to subscriber. A document
  // left behind is found by the first sweep after its order changed; a failed sweep is covered again.
  const sweepChanged = () => {
    const now = Date.now();
    const windowMs = Math.min(options.reconcileWindowMs, now - coveredUntil + SWEEP_OVERLAP_MS);
    return (sweep ??= reconcile(deps, projections, windowMs)
      .then((result) => ((coveredUntil = now), result))
      .finally(() => (sweep = null)));
  };
  const reconcileTimer = setInterval(() => void sweepChanged().catch((error: unknown) => log.warn({ err: error }, 'reconciliation failed')), options.reconcileEveryMs);
  const completenessTimer = setInterval(
    () => void ensureComplete().catch((error: unknown) => log.warn({ err: error }, 'could not check the read models')),
    options.completenessEveryMs ?? 2000,
  );

  let sampling = false;
  const statusTimer = setInterval(() => {
    if (sampling) return;
    sampling = true;
    const sampled = running.map(({ projection, subscription }) => ({ projection, health: () => subscription.health() }));
    void sampleProjections(deps, sampled)
      .catch((error: unknown) => log.warn({ err: error }, 'status sample failed'))
      .finally(() => (sampling = false));
  }, options.statusEveryMs ?? 1000);
  for (const timer of [reconcileTimer, statusTimer, completenessTimer]) timer.unref();

  return {
    reconcileNow,
    async stop() {
      clearInterval(reconcileTimer);
      clearInterval(statusTimer);
      clearInterval(completenessTimer);
      stopping.abort();
      await Promise.all(running.map(({ subscription }) => subscription.stop()));
      await Promise.all([sweep, ...rebuilds.values()].map((task) => task?.catch(() => {})));
    },
  };
}
