import type { Logger } from 'pino';
import { upcast } from '../domain/order/index.js';
import { metrics } from '../metrics.js';
import type { BusMessage, BusSubscription, ChangeFeed, EventBus, EventStore, ReadStore, ReceiptStore, StoredEvent } from '../ports.js';
import { consumerOf, type DeadLetterStore } from './deadLetters.js';
import type { ProjectedEvent, Projection } from './projection.js';
import type { ProjectionHealth } from './status.js';

export interface ProjectorDeps {
  bus: EventBus;
  store: EventStore;
  readStore: ReadStore;
  feed: ChangeFeed;
  deadLetters: DeadLetterStore;
  log: Logger;
  concurrency: number;
  /** The bus's delivery limit: a poison event is dead-lettered on its last delivery. */
  maxDeliver: number;
  /** How often the highest applied position is saved. */
  checkpointEveryMs?: number;
  /** Where to record a command's PUBLISHED and PROJECTED stages; given to the projection clients read orders from. */
  receipts?: ReceiptStore;
}

export type ApplyDeps = Pick<ProjectorDeps, 'store' | 'readStore' | 'feed'>;
export type ApplyOutcome = 'applied' | 'duplicate' | 'repaired';

/** The projection itself cannot apply this event (bad data, an unknown type): retrying will not help. */
export class ProjectionError extends Error {
  constructor(readonly event: StoredEvent, cause: unknown) {
    super(`${event.type} ${event.streamId} v${event.version}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'ProjectionError';
  }
}

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
 * the version (with the projection's index and counter changes in the same atomic step), so two
 * projectors racing on one order cannot both apply.
 */
export function applyEvent<D>(deps: ApplyDeps, projection: Projection<D>, event: StoredEvent): Promise<ApplyOutcome> {
  return applyEvents(deps, projection, [event]);
}

/**
 * `applyEvent` for a run of one order's events in version order (a rebuild's page): one read and one
 * write for the run. Whatever the run lacks below its last event is read from the event store.
 */
export async function applyEvents<D>(deps: ApplyDeps, projection: Projection<D>, events: StoredEvent[]): Promise<ApplyOutcome> {
  const target = events.at(-1)!;
  const id = target.streamId;
  for (;;) {
    const current = await deps.readStore.get<D>(projection.collection, id);
    const at = current?.version ?? 0;
    if (target.version <= at) return 'duplicate';

    let pending = events.filter((e) => e.version > at);
    const complete = (run: StoredEvent[]) => run.every((stored, i) => stored.version === at + 1 + i) && run.at(-1)?.version === target.version;
    const repairing = !complete(pending);
    if (repairing) pending = (await deps.store.readStream(id, at + 1)).filter((e) => e.version <= target.version);
    if (!complete(pending)) throw new Error(`event store lacks ${id} v${at + 1}..${target.version}`);

    const before: D | null = current ? current.data : null;
    let doc = before;
    for (const stored of pending) {
      if (!projection.handles.includes(stored.type as never)) continue;
      try {
        doc = projection.evolve(doc, toProjected(stored));
      } catch (error) {
        throw new ProjectionError(stored, error);
      }
    }
    const last = pending.at(-1)!;
    if (doc === null) throw new ProjectionError(last, new Error('no document: the stream does not start with an event this projection handles'));
    const written = { version: last.version, eventAt: last.committedAt.toISOString(), projectedAt: new Date().toISOString(), data: doc };
    const ok = projection.effects
      ? await deps.readStore.apply(projection.collection, id, at, written, projection.effects(before, doc, id))
      : await deps.readStore.compareAndSet(projection.collection, id, at, written);
    if (!ok) continue; // another projector moved the document (or a rebuild switched it): look again
    metrics.projectionLatency.observe({ projection: projection.name }, (Date.parse(written.projectedAt) - last.committedAt.getTime()) / 1000);
    await deps.feed.publish({ collection: projection.collection, id, version: last.version, userId: projection.ownerOf(doc), eventType: last.type, doc: written });
    return repairing ? 'repaired' : 'applied';
  }
}

/**
 * Consumes the bus with a durable consumer per projection. A failure is nak'ed and retried; a poison
 * event (the projection throws on it) is dead-lettered on its last delivery and acked, and so is every
 * later event of that order, at once: the document stays at its last good version, which its freshness
 * shows, while other orders keep flowing. Events of one order are handled one at a time per process.
 */
export async function startProjector<D>(deps: ProjectorDeps, projection: Projection<D>): Promise<BusSubscription & { health(): ProjectionHealth }> {
  const log = deps.log.child({ projection: projection.name });
  const consumer = consumerOf(projection.name);
  const checkpoint = checkpointSaver(deps.readStore, projection.collection, deps.checkpointEveryMs ?? 250, log);
  const tails = new Map<string, Promise<void>>();
  let health: ProjectionHealth = { handled: 0, failed: 0 };

  const handle = async (message: BusMessage): Promise<void> => {
    const { event } = message;
    try {
      const outcome = await applyEvent(deps, projection, event);
      metrics.projectorEvents.inc({ projection: projection.name, outcome });
      health.handled++;
      checkpoint.reached(event.position);
      await recordReceipt(message);
      await message.ack();
    } catch (error) {
      metrics.projectorEvents.inc({ projection: projection.name, outcome: 'failed' });
      health.failed++;
      if (error instanceof ProjectionError) {
        const blockedAt = (await deps.deadLetters.blocked(consumer)).get(event.streamId);
        if ((blockedAt !== undefined && blockedAt <= event.version) || message.deliveryCount >= deps.maxDeliver) {
          const reason = blockedAt !== undefined && blockedAt < event.version ? `behind dead-lettered v${blockedAt}: ${error.message}` : error.message;
          await deps.deadLetters.record({ consumer, event, reason, deliveries: message.deliveryCount });
          log.error({ orderId: event.streamId, version: event.version, reason }, 'event dead-lettered');
          await message.ack();
          return;
        }
      }
      log.warn({ err: error, orderId: event.streamId, version: event.version, delivery: message.deliveryCount }, 'projection failed; will retry');
      throw error;
    }
  };

  /** Best effort: a receipt store that is down costs receipts, never projections. */
  const recordReceipt = async ({ event, publishedAt }: BusMessage) => {
    await deps.receipts
      ?.record(
        { commandId: event.metadata.commandId, orderId: event.streamId, userId: event.metadata.userId, version: event.version },
        { PUBLISHED: publishedAt.toISOString(), PROJECTED: new Date().toISOString() },
      )
      .catch((error: unknown) => log.warn({ err: error, commandId: event.metadata.commandId }, 'could not record the command receipt'));
  };

  const subscription = await deps.bus.subscribe(
    consumer,
    (message) => {
      // Chained per order: concurrent handlers on one order would only race into gap repairs.
      const id = message.event.streamId;
      const run = (tails.get(id) ?? Promise.resolve()).then(() => handle(message));
      const tail = run.catch(() => {});
      tails.set(id, tail);
      void tail.then(() => tails.get(id) === tail && tails.delete(id));
      return run;
    },
    { concurrency: deps.concurrency },
  );
  return {
    async stop() {
      await subscription.stop();
      await checkpoint.stop();
    },
    /** What happened since the last call. */
    health() {
      const seen = health;
      health = { handled: 0, failed: 0 };
      return seen;
    },
  };
}

/** Keeps the highest applied position and saves it every `everyMs`: for status and lag, not correctness. */
function checkpointSaver(readStore: ReadStore, name: string, everyMs: number, log: Logger) {
  let highest = 0n;
  let saved = 0n;
  const save = async () => {
    if (highest <= saved) return;
    const position = highest;
    await readStore.setCheckpoint(name, position).then(
      () => void (saved = position),
      (error: unknown) => log.warn({ err: error }, 'could not save the checkpoint'),
    );
  };
  const timer = setInterval(() => void save(), everyMs);
  timer.unref();
  return {
    reached(position: bigint) {
      if (position > highest) highest = position;
    },
    async stop() {
      clearInterval(timer);
      await save();
    },
  };
}
