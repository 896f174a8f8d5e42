import type { Logger } from 'pino';
import { metrics } from '../metrics.js';
import type { EventBus, EventStore, StoredEvent } from '../ports.js';
import type { RelayOutboxOptions } from './postgres/eventStore.js';

/**
 * The store as the relay drives it: `inFlight` events may be on their way to the bus at once, failed
 * rows back off and are dead-lettered after `maxAttempts`. A store that ignores the options publishes
 * one at a time and retries forever, which is slower and just as correct.
 */
export type RelayStore = EventStore & {
  relayOutbox(limit: number, publish: (event: StoredEvent) => Promise<void>, options?: RelayOutboxOptions): Promise<number>;
  /** Gives a dead-lettered row back to the relay (`npm run projections -- retry`). */
  requeueOutbox?(position: bigint): Promise<void>;
};

// A JetStream publish waits about one round trip for its acknowledgement; with this many on the wire a
// backlog drains at the bus's speed instead of one round trip per event.
const PUBLISH_IN_FLIGHT = 64;

export interface RelayOptions {
  store: RelayStore;
  bus: EventBus;
  log: Logger;
  pollMs: number;
  batch: number;
  /** Unpublished outbox rows, sampled once per drain for the backlog gauge; absent where no cheap count exists. */
  backlog?: () => Promise<number>;
  /** Age in ms of the oldest row neither published nor dead-lettered (0 when none), sampled per drain for the gauge. */
  oldestPendingMs?: () => Promise<number>;
  /** Failures with the bus up after which a row is dead-lettered (OUTBOX_MAX_ATTEMPTS; default 10). */
  maxAttempts?: number;
  /** `ready()` fails while an event older than this waits to be published (OUTBOX_STALL_MS; default 60 s). */
  stallMs?: number;
}

/**
 * Moves committed events from the outbox to the bus. Wakes on the store's notification and polls as a
 * fallback (a lost NOTIFY or a publish that failed is picked up on the next tick). Rows are marked
 * done by the store only after the bus acknowledged them; the store's lock lets one relay at a time
 * publish, so several replicas neither double-publish nor reorder a stream.
 */
export async function startRelay(options: RelayOptions): Promise<{ stop(): Promise<void>; ready(): Promise<void> }> {
  const { store, bus, log } = options;
  let running = true;
  let draining: Promise<void> | null = null;
  /** Wake-ups heard (one per NOTIFY), and how many of them had been heard when the last batch read the outbox. */
  let notices = 0;
  let heardAtRead: number | undefined;

  const publish = async (event: StoredEvent) => {
    await bus.publish(event);
    metrics.outboxPublishDuration.observe((Date.now() - event.recordedAt.getTime()) / 1000);
    metrics.eventsPublished.inc();
  };

  const relayOptions: RelayOutboxOptions = {
    inFlight: PUBLISH_IN_FLIGHT,
    beforeRead: () => void (heardAtRead = notices),
    maxAttempts: options.maxAttempts,
    busUp: () => bus.ping().then(() => true),
    onDeadLetter: (event, reason, attempts) => {
      metrics.outboxDeadLettered.inc();
      log.error(
        { eventId: event.metadata.eventId, streamId: event.streamId, version: event.version, position: String(event.position), attempts, reason },
        'outbox row dead-lettered: the bus refused it again and again while answering; see npm run projections -- dead-letters',
      );
    },
  };

  // Another batch is due only for a wake-up heard after the last batch read the outbox: the append it
  // announces committed before the NOTIFY was sent, so a read sent after hearing it saw its rows. Counting
  // every wake-up during a drain instead ran more empty transactions (four round trips each, in the way of
  // the next event from commit to bus): at 600 createOrder/s, 323-396 in 10 s against 97-288 with this
  // (orders_outbox_batches_total; of 2,100-3,800 batches). A store that does not report its read (no
  // beforeRead call) falls back to that: another batch for any wake-up heard since the drain began.
  const batch = async () => {
    const published = await store.relayOutbox(options.batch, publish, relayOptions);
    metrics.outboxBatches.inc({ outcome: published > 0 ? 'published' : 'empty' });
    return published;
  };
  const drain = (): Promise<void> => {
    if (draining) return draining;
    draining = (async () => {
      let heardAtStart: number;
      do {
        heardAtStart = notices;
        heardAtRead = undefined;
        try {
          // A batch shorter than the limit found the outbox drained: no second, empty transaction.
          while (running && (await batch()) >= options.batch) {}
        } catch (error) {
          log.warn({ err: error }, 'outbox relay failed; retrying on the next tick');
        }
      } while (running && notices > (heardAtRead ?? heardAtStart));
    })().finally(() => {
      draining = null;
    });
    return draining;
  };
  const onNotice = () => {
    notices++;
    void drain();
  };

  // The gauges are sampled on the polling tick, off the path from commit to bus.
  const sample = async () => {
    try {
      if (options.backlog) metrics.outboxBacklog.set(await options.backlog());
      if (options.oldestPendingMs) metrics.outboxOldestSeconds.set((await options.oldestPendingMs()) / 1000);
    } catch (error) {
      log.debug({ err: error }, 'outbox gauges not sampled');
    }
  };

  const unwatch = await store.watchOutbox(onNotice);
  const timer = setInterval(() => void drain().then(sample), options.pollMs);
  void drain();
  return {
    /** For /readyz: degraded, not just slow, once an event has waited longer than `stallMs` for the bus. */
    async ready() {
      const age = options.oldestPendingMs ? await options.oldestPendingMs() : 0;
      const stallMs = options.stallMs ?? 60_000;
      if (age > stallMs) throw new Error(`the oldest unpublished event is ${Math.round(age / 1000)} s old (OUTBOX_STALL_MS ${stallMs})`);
    },
    async stop() {
      running = false;
      clearInterval(timer);
      await unwatch();
      await draining;
    },
  };
}
