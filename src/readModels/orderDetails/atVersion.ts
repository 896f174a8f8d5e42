// The order at a past version: folded from the event store (the truth) with this read model's evolve.
import { snapshotSchemaVersion } from '../../commands/handleCommand.js';
import { NotFoundError, ValidationError } from '../../domain/errors.js';
import { type Caller, isAdmin, type OrderState } from '../../domain/order/index.js';
import type { DocumentStore, EventStore, StoredEvent, VersionedDoc } from '../../ports.js';
import { toProjected } from '../projection.js';
import { orderDetailsCollection } from './keys.js';
import { orderDetails, type OrderDoc, toDoc } from './projection.js';

export interface OrderAtVersionDeps {
  /** The event store, opened on first need (read only on a query-only instance). */
  events: () => Promise<EventStore>;
  readStore: DocumentStore;
}

/**
 * Where to start folding: the stream's snapshot when it is usable and not past `atVersion`, else
 * nothing. The snapshot holds the domain state, without createdAt; that never changes after the first
 * event, so it comes from the read document, and without one the whole stream is folded instead.
 */
async function startingPoint(deps: OrderAtVersionDeps, store: EventStore, id: string, atVersion: number) {
  const snapshot = await store.readSnapshot(id);
  if (!snapshot || snapshot.schemaVersion !== snapshotSchemaVersion || snapshot.version > atVersion) return null;
  const current = await deps.readStore.get<OrderDoc>(orderDetailsCollection, id);
  if (!current) return null;
  // From the snapshot's own event on: its recordedAt is the updatedAt of the snapshot's state.
  const events = await store.readStream(id, snapshot.version);
  if (events[0]?.version !== snapshot.version) return null;
  const data = toDoc(snapshot.state as OrderState, current.data.createdAt, events[0].recordedAt.toISOString());
  return { data, event: events[0], later: events.slice(1) };
}

/**
 * The order as it was right after `atVersion`, folded from the event store with the projector's own
 * evolve. Someone else's order reads as null, as does an unknown id; a version the order has not
 * reached is NOT_FOUND.
 */
export async function orderAtVersion(deps: OrderAtVersionDeps, caller: Caller, id: string, atVersion: number): Promise<VersionedDoc<OrderDoc> | null> {
  if (!Number.isInteger(atVersion) || atVersion < 1) throw new ValidationError('atVersion must be a positive integer');
  const store = await deps.events();
  const start = await startingPoint(deps, store, id, atVersion);
  let data: OrderDoc | null = start?.data ?? null;
  let last: StoredEvent | null = start?.event ?? null;
  for (const event of start ? start.later : await store.readStream(id)) {
    if (event.version > atVersion) break;
    data = orderDetails.evolve(data, toProjected(event));
    last = event;
  }
  if (!data || !last || (data.userId !== caller.userId && !isAdmin(caller))) return null;
  if (last.version < atVersion) throw new NotFoundError(`order ${id} has no version ${atVersion}`, { version: last.version });
  return { version: last.version, eventAt: last.recordedAt.toISOString(), projectedAt: new Date().toISOString(), data };
}
