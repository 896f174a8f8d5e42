import type { Logger } from 'pino';
import { upcast } from '../domain/order/index.js';
import type { BusSubscription, ChangeFeed, EventBus, EventStore, ReadStore, StoredEvent } from '../ports.js';
import type { ProjectedEvent, Projection } from './projection.js';

export interface ProjectorDeps {
  bus: EventBus;
  store: EventStore;
  readStore: ReadStore;
  feed: ChangeFeed;
  log: Logger;
  concurrency: number;
}

export type ApplyOutcome = 'applied' | 'duplicate' | 'repaired';

export function toProjected(stored: StoredEvent): ProjectedEvent {
  return {
    ...upcast(stored.type, stored.schemaVersion, stored.data),
    streamId: stored.streamId,
    version: stored.version,
    committedAt: stored.committedAt,
    userId: stored.metadata.userId,
  };
}

/**
 * Applies one delivered event to its document, exactly once in effect:
 * at or below the document's version it is a duplicate; one above, it applies; further above, the
 * missing events are read from the event store and applied first. The write is a compare-and-set on
 * the version, so two projectors racing on one order cannot both apply.
 */
export async function applyEvent<D>(deps: Pick<ProjectorDeps, 'store' | 'readStore' | 'feed'>, projection: Projection<D>, event: StoredEvent): Promise<ApplyOutcome> {
  for (;;) {
    const current = await deps.readStore.get<D>(projection.collection, event.streamId);
    const at = current?.version ?? 0;
    if (event.version <= at) return 'duplicate';

    const pending = event.version === at + 1 ? [event] : (await deps.store.readStream(event.streamId, at + 1)).filter((e) => e.version <= event.version);
    if (pending.some((stored, i) => stored.version !== at + 1 + i) || pending.at(-1)?.version !== event.version)
      throw new Error(`event store lacks ${event.streamId} v${at + 1}..${event.version}`);

    let doc: D | null = current ? current.data : null;
    for (const stored of pending) doc = projection.evolve(doc, toProjected(stored));
    const last = pending.at(-1)!;
    const written = await deps.readStore.compareAndSet(projection.collection, event.streamId, at, {
      version: last.version,
      eventAt: last.committedAt.toISOString(),
      projectedAt: new Date().toISOString(),
      data: doc!,
    });
    if (!written) continue; // another projector moved the document: look again
    await deps.feed.publish({ collection: projection.collection, id: event.streamId, version: last.version, userId: projection.ownerOf(doc!), eventType: last.type });
    return pending.length > 1 ? 'repaired' : 'applied';
  }
}

/** Consumes the bus with a durable consumer per projection; failures are nak'ed and retried. */
export async function startProjector<D>(deps: ProjectorDeps, projection: Projection<D>): Promise<BusSubscription> {
  const log = deps.log.child({ projection: projection.name });
  return deps.bus.subscribe(
    `projector-${projection.name}`,
    async (message) => {
      try {
        const outcome = await applyEvent(deps, projection, message.event);
        if (outcome !== 'applied') log.debug({ orderId: message.event.streamId, version: message.event.version, outcome }, 'event applied');
        await message.ack();
      } catch (error) {
        log.warn({ err: error, orderId: message.event.streamId, version: message.event.version, delivery: message.deliveryCount }, 'projection failed; will retry');
        throw error;
      }
    },
    { concurrency: deps.concurrency },
  );
}
