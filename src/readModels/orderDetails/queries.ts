import { StaleReadError, ValidationError } from '../../domain/errors.js';
import { type Caller, isAdmin } from '../../domain/order/index.js';
import { metrics } from '../../metrics.js';
import type { DocumentStore, VersionedDoc } from '../../ports.js';
import type { VersionWaiter } from '../../queries/versionWaiter.js';
import { orderDetailsCollection } from './keys.js';
import type { OrderDoc } from './projection.js';

export const readWait = { defaultMs: 5000, maxMs: 30_000 } as const;

export interface OrderQueryDeps {
  readStore: DocumentStore;
  waiter: VersionWaiter;
}

export function canSee(caller: Caller, doc: VersionedDoc<OrderDoc>): boolean {
  return isAdmin(caller) || doc.data.userId === caller.userId;
}

/**
 * Reads the order document from the read store only. With `minVersion`, waits on the change feed until
 * the document has applied that version, up to `timeoutMs`, then fails with STALE_READ.
 * Someone else's order reads as null, exactly like a missing one; with `minVersion` both end in STALE_READ.
 */
export async function getOrder(
  deps: OrderQueryDeps,
  caller: Caller,
  id: string,
  options: { minVersion?: number | null; timeoutMs?: number | null } = {},
): Promise<VersionedDoc<OrderDoc> | null> {
  // A query's read: the near cache may answer it, with at least the version asked for.
  const read = async () => {
    const doc = await deps.readStore.get<OrderDoc>(orderDetailsCollection, id, { cachedFrom: options.minVersion ?? 0 });
    return doc && canSee(caller, doc) ? doc : null;
  };
  const { minVersion, timeoutMs } = options;
  if (minVersion == null) return read();
  if (!Number.isInteger(minVersion) || minVersion < 1) throw new ValidationError('minVersion must be a positive integer');
  const timeout = timeoutMs ?? readWait.defaultMs;
  if (!Number.isInteger(timeout) || timeout < 0 || timeout > readWait.maxMs)
    throw new ValidationError(`timeoutMs must be 0-${readWait.maxMs}`);

  let doc: VersionedDoc<OrderDoc> | null = null;
  const reached = await deps.waiter.waitFor(`${orderDetailsCollection}:${id}`, minVersion, timeout, async () => {
    doc = await read();
    return doc !== null && doc.version >= minVersion;
  });
  metrics.readWaits.inc({ outcome: reached ? 'reached' : 'stale' });
  // Someone else's order waits out the timeout like an unknown id or one not projected yet: answering
  // it sooner (or differently) would tell that it exists.
  if (!reached) {
    throw new StaleReadError(`order ${id} has not reached version ${minVersion} within ${timeout} ms`, { minVersion, timeoutMs: timeout });
  }
  return doc;
}
