import type { Logger } from 'pino';
import { isOrderEventType } from '../domain/order/index.js';
import { KeyedQueue } from '../keyedQueue.js';
import { metrics } from '../metrics.js';
import type { BusMessage, BusSubscription, ChangeFeed, DeadLetterStore, DocumentStore, EventBus, EventStore, ReadCoordination, ReceiptStore, StoredEvent, VersionedDoc } from '../ports.js';
import { consumerOf, type Projection, toProjected } from '../readModels/projection.js';

export interface ProjectorDeps {
  bus: EventBus;
  store: EventStore;
  readStore: DocumentStore & ReadCoordination;
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

/** What a projector process observed of one projection since its last sample. */
export interface ProjectionHealth {
  handled: number;
  failed: number;
}

/** What applying an event needs: the truth to repair from, the documents, and where to announce a write. */
export interface ApplyDeps {
  store: EventStore;
  readStore: DocumentStore;
  feed: ChangeFeed;
}
export type ApplyOutcome = 'applied' | 'duplicate' | 'repaired';

/** The projection itself cannot apply this event (bad data, an unknown type): retrying will not help. */
export class ProjectionError extends Error {
  constructor(readonly event: StoredEvent, cause: unknown) {
    super(`${event.type} ${event.streamId} v${event.version}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'ProjectionError';
  }
}

/**
 * A message the event store does not confirm: no event with its id at its version. It must not change a
 * document, and retrying will not make it true: it is dead-lettered as rejected at once.
 */
export class StrayMessageError extends Error {
  constructor(readonly event: StoredEvent, reason: string) {
    super(`${event.type} ${event.streamId} v${event.version} (event ${event.metadata.eventId}): ${reason}`);
    this.name = 'StrayMessageError';
  }
}


/** Whether the event store holds this very event (same id at the same version). One indexed read. */
export async function confirmedByStore(store: EventStore, event: StoredEvent): Promise<boolean> {
  const [stored] = await store.readStream(event.streamId, event.version);
  return stored?.version === event.version && stored.metadata.eventId === event.metadata.eventId;
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
  const written = writtenDocs(deps.readStore, projection.collection);
  // What the document is believed to be, without a read, in the two common cases: an order's first
  // event (no document yet), and the event after the one this process wrote last (remembered below).
  // The write then checks that belief (the version, and the last event id), so a wrong one costs a
  // refused write and a read, never a wrong document.
  let believed: VersionedDoc<D> | null | undefined =
    events.length === 1 && target.version === 1 ? null : (written.get(id) as VersionedDoc<D> | undefined)?.version === target.version - 1 ? (written.get(id) as VersionedDoc<D>) : undefined;
  for (;;) {
    const current = believed !== undefined ? believed : await deps.readStore.get<D>(projection.collection, id);
    const checked = believed !== undefined && believed !== null ? believed.eventId : undefined;
    believed = undefined;
    const at = current?.version ?? 0;
    if (target.version <= at) return 'duplicate';

    // The common case, the next version, applies what was delivered. Anything else is read from the
    // event store, the truth, which also confirms the delivered event and the document's own last one.
    let pending = events.filter((e) => e.version > at);
    const complete = (run: StoredEvent[]) => run.every((stored, i) => stored.version === at + 1 + i) && run.at(-1)?.version === target.version;
    const repairing = !complete(pending);
    if (repairing) {
      const checkFrom = current?.eventId ? at : at + 1;
      const stored = (await deps.store.readStream(id, checkFrom)).filter((e) => e.version <= target.version);
      const last = stored.at(-1);
      if (last?.version !== target.version || last.metadata.eventId !== target.metadata.eventId)
        throw new StrayMessageError(target, last?.version === target.version ? 'the event store holds another event at this version' : `the event store has no v${target.version} of this order`);
      if (checkFrom === at && stored[0]?.metadata.eventId !== current?.eventId) return refold(deps, projection, id, current, target.version);
      pending = stored.filter((e) => e.version > at);
      if (!complete(pending)) throw new Error(`event store lacks ${id} v${at + 1}..${target.version}`);
    }

    const before: D | null = current ? current.data : null;
    const doc = fold(projection, before, pending);
    const result = await write(deps, projection, id, current, doc, pending.at(-1)!, checked);
    if (result === 'lost') {
      written.delete(id);
      continue; // another projector moved the document (or a rebuild switched it), or the belief was wrong: look again
    }
    return repairing ? 'repaired' : 'applied';
  }
}

// Documents this process wrote last, per read store and collection, so the next event of a busy order
// needs no read: at most this many orders each, the oldest forgotten first.
const WRITTEN_DOCS = 5_000;
const writtenByStore = new WeakMap<DocumentStore, Map<string, Map<string, VersionedDoc<unknown>>>>();

function writtenDocs(readStore: DocumentStore, collection: string): Map<string, VersionedDoc<unknown>> {
  let byCollection = writtenByStore.get(readStore);
  if (!byCollection) writtenByStore.set(readStore, (byCollection = new Map()));
  let docs = byCollection.get(collection);
  if (!docs) byCollection.set(collection, (docs = new Map()));
  return docs;
}

function remember(readStore: DocumentStore, collection: string, id: string, doc: VersionedDoc<unknown>): void {
  const docs = writtenDocs(readStore, collection);
  docs.delete(id); // re-inserted last: the map's order is the order of writes
  docs.set(id, doc);
  if (docs.size > WRITTEN_DOCS) docs.delete(docs.keys().next().value!);
}

function fold<D>(projection: Projection<D>, from: D | null, events: StoredEvent[]): D {
  let doc = from;
  for (const stored of events) doc = foldEvent(projection, doc, stored);
  if (doc === null) throw new ProjectionError(events.at(-1)!, new Error('no document: the stream does not start with an event this projection handles'));
  return doc;
}

/** One event into a document (an event the projection does not handle leaves it as it is); ProjectionError when it cannot. */
export function foldEvent<D>(projection: Projection<D>, doc: D | null, stored: StoredEvent): D | null {
  // Not even skipped: an event of the store this code cannot read must stop the order here, honestly.
  if (!isOrderEventType(stored.type)) throw new ProjectionError(stored, new Error(`unknown event type ${stored.type}`));
  if (!projection.handles.includes(stored.type as never)) return doc;
  try {
    return projection.evolve(doc, toProjected(stored));
  } catch (error) {
    throw new ProjectionError(stored, error);
  }
}

/**
 * Compare-and-set from the document's current version (and, with `expectedEventId`, its last event);
 * notices and metrics once written.
 */
async function write<D>(deps: ApplyDeps, projection: Projection<D>, id: string, current: VersionedDoc<D> | null, doc: D, last: StoredEvent, expectedEventId?: string): Promise<'written' | 'lost'> {
  const at = current?.version ?? 0;
  const written = { version: last.version, eventId: last.metadata.eventId, eventAt: last.recordedAt.toISOString(), projectedAt: new Date().toISOString(), data: doc };
  const effects = projection.effects?.(current?.data ?? null, doc, id) ?? {};
  const ok = await deps.readStore.apply(projection.collection, id, at, written, effects, expectedEventId);
  if (!ok) return 'lost';
  remember(deps.readStore, projection.collection, id, written);
  metrics.projectionLatency.observe({ projection: projection.name }, (Date.parse(written.projectedAt) - last.recordedAt.getTime()) / 1000);
  await deps.feed.publish({ collection: projection.collection, id, version: last.version, userId: projection.ownerOf(doc), eventType: last.type, doc: written });
  return 'written';
}

/**
 * The document disagrees with the event store about an event it already applied (another event id at
 * its version, or a version the store does not have): fold the order again from its first event, up to
 * `upTo` (the store's head when omitted), and replace the document with that fold.
 */
export async function refold<D>(deps: ApplyDeps, projection: Projection<D>, id: string, current: VersionedDoc<D> | null, upTo?: number): Promise<ApplyOutcome> {
  for (;;) {
    const events = (await deps.store.readStream(id, 1)).filter((e) => upTo === undefined || e.version <= upTo);
    if (events.length === 0) return 'duplicate'; // archived meanwhile, or nothing to fold
    const doc = fold(projection, null, events);
    if ((await write(deps, projection, id, current, doc, events.at(-1)!)) === 'written') return 'repaired';
    current = await deps.readStore.get<D>(projection.collection, id);
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
  // Chained per order: concurrent handlers on one order would only race into gap repairs.
  const perOrder = new KeyedQueue();
  let health: ProjectionHealth = { handled: 0, failed: 0 };

  const reject = async (event: StoredEvent, reason: string, deliveries: number) => {
    await deps.deadLetters.reject({ consumer, streamId: event.streamId, version: event.version, messageKey: `event:${event.metadata.eventId}:v${event.version}`, reason, deliveries });
    metrics.projectorEvents.inc({ projection: projection.name, outcome: 'rejected' });
    log.error({ orderId: event.streamId, version: event.version, eventId: event.metadata.eventId, reason }, 'message rejected: the event store does not confirm it');
  };

  const handle = async (message: BusMessage): Promise<void> => {
    const { event } = message;
    try {
      // A type the domain does not know is only believed when the store holds the event (newer code wrote it).
      if (!isOrderEventType(event.type) && !(await confirmedByStore(deps.store, event)))
        throw new StrayMessageError(event, `unknown event type ${event.type}, and the event store does not hold it`);
      const outcome = await applyEvent(deps, projection, event);
      metrics.projectorEvents.inc({ projection: projection.name, outcome });
      health.handled++;
      checkpoint.reached(event.position);
      await recordReceipt(message);
      await message.ack();
    } catch (error) {
      if (error instanceof StrayMessageError) {
        await reject(event, error.message, message.deliveryCount);
        await message.ack();
        return;
      }
      metrics.projectorEvents.inc({ projection: projection.name, outcome: 'failed' });
      health.failed++;
      if (error instanceof ProjectionError) {
        const blockedAt = (await deps.deadLetters.blocked(consumer)).get(event.streamId);
        if ((blockedAt !== undefined && blockedAt <= event.version) || message.deliveryCount >= deps.maxDeliver) {
          // Only an event of the store may block its order: a message the store does not hold is refused instead.
          if (!(await confirmedByStore(deps.store, event))) {
            await reject(event, `${error.message}; the event store does not hold this event`, message.deliveryCount);
            await message.ack();
            return;
          }
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
    (message) => perOrder.run(message.event.streamId, () => handle(message)),
    {
      concurrency: deps.concurrency,
      // Not JSON, or no envelope our relay writes: parked at once with its reason, visible in the status.
      onInvalid: async ({ streamId, sequence, reason, deliveryCount }) => {
        await deps.deadLetters.reject({ consumer, streamId, version: 0, messageKey: `seq:${sequence}`, reason: `bus message ${sequence}: ${reason}`, deliveries: deliveryCount });
        metrics.projectorEvents.inc({ projection: projection.name, outcome: 'rejected' });
        log.error({ orderId: streamId, sequence, reason }, 'message rejected: not an event');
      },
    },
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
function checkpointSaver(readStore: Pick<ReadCoordination, 'setCheckpoint'>, name: string, everyMs: number, log: Logger) {
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
