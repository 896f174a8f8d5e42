import type { Logger } from 'pino';
import { ROOT_NAMESPACE } from '../infrastructure/readIndex.js';
import type { ChangeFeed, EventBus, EventStore, ReadStore, ReceiptStore } from '../ports.js';
import type { DeadLetterStore } from './deadLetters.js';
import { orderDetails } from './orderDetails.js';
import { orderStats } from './orderStats.js';
import type { Projection } from './projection.js';
import { rebuild } from './rebuild.js';
import { reconcile, type ReconcileResult, type StreamVersions } from './reconcile.js';
import { startProjector } from './runtime.js';
import { sampleProjections } from './status.js';
import { userOrders } from './userOrders.js';

/** Every read model, in the order status and `rebuild all` list them. */
export const projections = [orderDetails, userOrders, orderStats] as readonly Projection<unknown>[];

export interface ProjectorRoleDeps {
  bus: EventBus;
  store: EventStore;
  readStore: ReadStore;
  feed: ChangeFeed;
  deadLetters: DeadLetterStore;
  versions: StreamVersions;
  log: Logger;
  concurrency: number;
  maxDeliver: number;
  /** Command receipts: the order-details projection records PUBLISHED and PROJECTED. */
  receipts?: ReceiptStore;
}

export interface ProjectorRoleOptions {
  reconcileEveryMs: number;
  reconcileWindowMs: number;
  statusEveryMs?: number;
  checkpointEveryMs?: number;
}

export interface ProjectorRole {
  /** One reconciliation sweep now, besides the periodic ones. */
  reconcileNow(): Promise<ReconcileResult>;
  stop(): Promise<void>;
}

/**
 * The projector role: a durable consumer per read model, a reconciliation sweep every
 * `reconcileEveryMs`, a status sample every second, and a rebuild of any read model that finds Redis
 * empty (no active namespace, no checkpoint), e.g. after Redis lost its data or on a first start.
 */
export async function startProjectorRole(deps: ProjectorRoleDeps, options: ProjectorRoleOptions): Promise<ProjectorRole> {
  const { log } = deps;
  const rebuilds: Promise<unknown>[] = [];
  const stopping = new AbortController();
  for (const projection of projections) {
    const empty = (await deps.readStore.namespaces.active(projection.collection)) === ROOT_NAMESPACE && (await deps.readStore.getCheckpoint(projection.collection)) === null;
    if (!empty) continue;
    log.info({ projection: projection.name }, 'read store is empty: rebuilding from the event store');
    // In the background: live consumers start at once, and a second process finds the lease taken.
    rebuilds.push(rebuild(deps, projection, { signal: stopping.signal }).catch((error: unknown) => log.warn({ err: error, projection: projection.name }, 'automatic rebuild did not run')));
  }

  const running = await Promise.all(
    projections.map(async (projection) => ({
      projection,
      subscription: await startProjector(
        { ...deps, checkpointEveryMs: options.checkpointEveryMs, receipts: projection === orderDetails ? deps.receipts : undefined },
        projection,
      ),
    })),
  );

  let sweep: Promise<ReconcileResult> | null = null;
  const reconcileNow = () => (sweep ??= reconcile(deps, projections, options.reconcileWindowMs).finally(() => (sweep = null)));
  const reconcileTimer = setInterval(() => void reconcileNow().catch((error: unknown) => log.warn({ err: error }, 'reconciliation failed')), options.reconcileEveryMs);

  let sampling = false;
  const statusTimer = setInterval(() => {
    if (sampling) return;
    sampling = true;
    const sampled = running.map(({ projection, subscription }) => ({ projection, health: () => subscription.health() }));
    void sampleProjections(deps, sampled)
      .catch((error: unknown) => log.warn({ err: error }, 'status sample failed'))
      .finally(() => (sampling = false));
  }, options.statusEveryMs ?? 1000);
  for (const timer of [reconcileTimer, statusTimer]) timer.unref();

  return {
    reconcileNow,
    async stop() {
      clearInterval(reconcileTimer);
      clearInterval(statusTimer);
      stopping.abort();
      await Promise.all(running.map(({ subscription }) => subscription.stop()));
      await Promise.all([sweep, ...rebuilds].map((task) => task?.catch(() => {})));
    },
  };
}
