import { setTimeout as sleep } from 'node:timers/promises';
import { connect, headers, nanos, type NatsConnection } from '@nats-io/transport-node';
import {
  AckPolicy,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  jetstream,
  jetstreamManager,
  StorageType,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import PQueue from 'p-queue';
import type { BusMessage, BusSubscription, EventBus, StoredEvent, SubscribeOptions } from '../../ports.js';
import { decodeEvent, encodeEvent, MalformedMessageError } from '../codec.js';
import { retryDelayMs } from '../backoff.js';
import { traced } from '../../telemetry/hooks.js';

export interface JetStreamBusOptions {
  url: string;
  stream?: string;
  subjectPrefix?: string;
  duplicateWindowMs?: number;
  replicas?: number;
  storage?: 'file' | 'memory';
  ackWaitMs?: number;
  maxDeliver?: number;
  /** How long a publish, an ack or an API call waits: while NATS is away they reject, and the caller retries. */
  timeoutMs?: number;
  name?: string;
}

export const EVENT_TYPE_HEADER = 'Event-Type';

/** `a,b,c` → the servers of one cluster, trimmed. */
export function serverList(url: string): string[] {
  return url
    .split(',')
    .map((server) => server.trim())
    .filter(Boolean);
}

/**
 * Workers started together race to create the stream and the durable consumers, on a server whose
 * JetStream may still be electing its meta leader: a create that lost the race, or an API call that
 * timed out meanwhile, is retried (the operations are idempotent) rather than failing the start.
 */
async function settle<T>(operation: () => Promise<T>, { attempts = 8, firstDelayMs = 100 } = {}): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation();
    } catch (error) {
      if (attempt >= attempts || !isTransient(error)) throw error;
      await sleep(Math.min(firstDelayMs * 2 ** (attempt - 1), 3_000) * (0.5 + Math.random()));
    }
  }
}

function isTransient(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'TimeoutError' || error.name === 'NoRespondersError' || /timeout|no responders/i.test(error.message)) return true;
  if (error instanceof JetStreamApiError)
    // Lost a create race (name in use, consumer exists; or "subjects overlap", which a server may answer
    // the loser of two creates of the same stream, seen in CI) or JetStream is not ready yet (no leader).
    // A real overlap with another stream fails the same way after the last attempt.
    return [10058, 10065, 10148, 10013, 10008, 10074].includes(error.code) || /already|in use|overlap|leader|not (yet )?(ready|available)/i.test(error.message);
  return false;
}

function isNotFound(error: unknown): boolean {
  return (
    error instanceof JetStreamApiError &&
    (error.code === JetStreamApiCodes.StreamNotFound || error.code === JetStreamApiCodes.ConsumerNotFound)
  );
}

export class JetStreamBus implements EventBus {
  private readonly subscriptions = new Set<BusSubscription>();

  private constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly options: Required<Omit<JetStreamBusOptions, 'name'>>,
  ) {}

  static async connect(options: JetStreamBusOptions): Promise<JetStreamBus> {
    const resolved = {
      stream: 'ORDERS',
      subjectPrefix: 'orders.events',
      duplicateWindowMs: 120_000,
      replicas: 1,
      storage: 'file' as const,
      ackWaitMs: 30_000,
      maxDeliver: 10,
      timeoutMs: 5_000,
      ...options,
    };
    // Reconnect forever: a NATS restart must not end the process's ability to publish and consume.
    // No async traces: by default every request (each publish, each ackAck) builds two Error objects with
    // stack traces, in case it times out; that was a fifth of the relay's CPU. A timeout still says what
    // timed out, only not from which line of ours.
    // NATS_URL may list several servers of one cluster: the client takes a list, and a comma string
    // given as one URL would be one unreachable address. Any live server is enough to start.
    const nc = await connect({ servers: serverList(resolved.url), name: options.name, maxReconnectAttempts: -1, noAsyncTraces: true });
    try {
      const timeout = resolved.timeoutMs;
      const bus = new JetStreamBus(nc, jetstream(nc, { timeout }), await settle(() => jetstreamManager(nc, { timeout })), resolved);
      await settle(() => bus.ensureStream());
      return bus;
    } catch (error) {
      await nc.close();
      throw error;
    }
  }

  // Several processes start at once, so creation must be idempotent: update (which merges into the
  // current config) and create only when missing; a create racing another with the same config succeeds.
  private async ensureStream(): Promise<void> {
    const { stream, subjectPrefix, duplicateWindowMs, replicas, storage } = this.options;
    const config = {
      subjects: [`${subjectPrefix}.>`],
      duplicate_window: nanos(duplicateWindowMs),
      num_replicas: replicas,
    };
    try {
      await this.jsm.streams.update(stream, config);
    } catch (error) {
      if (!isNotFound(error)) throw error;
      await this.jsm.streams.add({
        name: stream,
        storage: storage === 'memory' ? StorageType.Memory : StorageType.File,
        ...config,
      });
    }
  }

  // consumers.add() cannot be create-or-update in 3.4.0 (an empty action is coerced to "create", which
  // servers >= 2.10 reject when the config differs), hence update first.
  /** Whether it had to create the consumer. */
  private async ensureConsumer(durable: string): Promise<boolean> {
    const { stream, ackWaitMs, maxDeliver } = this.options;
    const config = { ack_wait: nanos(ackWaitMs), max_deliver: maxDeliver };
    try {
      await this.jsm.consumers.update(stream, durable, config);
      return false;
    } catch (error) {
      if (!isNotFound(error)) throw error;
      await this.jsm.consumers.add(stream, {
        durable_name: durable,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ...config,
      });
      return true;
    }
  }

  async publish(event: StoredEvent): Promise<void> {
    const subject = `${this.options.subjectPrefix}.${event.streamId}`;
    // JetStream drops a repeated event id only within the duplicate window. An event older than most of
    // it is being published again (a lost ack, a retried outbox row): if its subject already holds this
    // version or a later one, it was stored, and storing it again would only make a duplicate.
    if (Date.now() - event.recordedAt.getTime() > this.options.duplicateWindowMs * 0.75 && (await this.storedVersion(subject)) >= event.version) return;
    const h = headers();
    h.set(EVENT_TYPE_HEADER, event.type);
    traced.inject(h);
    const send = () => this.js.publish(subject, encodeEvent(event), { msgID: event.metadata.eventId, headers: h });
    try {
      await send();
    } catch (error) {
      // Nothing stores the subject: the server came back without its JetStream store. Recreate the
      // stream (the outbox still holds everything) and publish again.
      if (!(error instanceof Error && error.name === 'JetStreamNotEnabled')) throw error;
      await this.ensureStream();
      await send();
    }
  }

  /** The version of the last message stored on `subject`, or 0 when none is (or it cannot be read). */
  private async storedVersion(subject: string): Promise<number> {
    try {
      const last = await this.jsm.streams.getMessage(this.options.stream, { last_by_subj: subject });
      return last ? decodeEvent(last.string()).version : 0;
    } catch {
      return 0;
    }
  }

  async subscribe(
    durable: string,
    handler: (message: BusMessage) => Promise<void>,
    { concurrency = 16, onInvalid }: SubscribeOptions = {},
  ): Promise<BusSubscription> {
    await settle(() => this.ensureConsumer(durable));
    const consumer = await settle(() => this.js.consumers.get(this.options.stream, durable));
    // The iterator only asks the server for more once we pull from it, so the client buffers at most
    // `concurrency` messages on top of the ones being handled.
    // Short pulls (5 s, heartbeats every 2.5 s) so a vanished consumer is noticed in seconds, not 30.
    const pulls = { max_messages: concurrency, expires: 5000 };
    let messages = await consumer.consume(pulls);
    const handling = new PQueue({ concurrency });
    let stopping = false;
    let restarting = false;
    // consume() keeps pulling when the consumer or the stream disappears (a NATS server back without
    // its store, a deleted consumer) but never recreates them: do that.
    // Only on consume()'s own verdict, from the consumer info it requests after missed heartbeats or a
    // reconnect, never on the 409 "consumer deleted": a server deleting a stream sends that to the waiting
    // pulls before it removes the stream's directory, and on nats-server 2.9 a stream created under the
    // same name meanwhile (from another connection than the deleting one) loses its files to that removal.
    // It then counts its messages but cannot load them: pulls get heartbeats and timeouts, never a message.
    // By the time heartbeats are missed (2 x 2.5 s) the deletion is long over.
    // consume() itself asks again only after a pull's expiry (5 s more); when this member has just created
    // the consumer, a fresh consume() pulls at once instead. The old one has nothing to hand over: its
    // consumer is gone, and after the not-found verdict it has no pull waiting on the new one. A consumer
    // that merely missed heartbeats (a busy or reconnecting server) is still there: no restart.
    const watch = (current: typeof messages) =>
      void (async () => {
        for await (const status of current.status()) {
          if (stopping || (status.type !== 'consumer_not_found' && status.type !== 'stream_not_found')) continue;
          const created = await this.ensureStream()
            .then(() => this.ensureConsumer(durable))
            .catch(() => false); // still unreachable: consume() checks again and reports it again
          if (created && !stopping) {
            restarting = true;
            void current.close();
            return;
          }
        }
      })().catch(() => {}); // the status stream ends with its consume()
    watch(messages);

    const loop = (async () => {
      for (;;) {
        for await (const m of messages) {
          // close() still yields what was buffered: hand it straight back so another member takes it.
          void handling.add(() => (stopping ? m.nak() : handle(m, handler, this.options.subjectPrefix, onInvalid)));
          // The next message is pulled only once this one is being handled.
          await handling.onSizeLessThan(1);
        }
        if (stopping || !restarting) return;
        restarting = false;
        messages = await consumer.consume(pulls);
        // stop() came meanwhile and closed the previous one: close this one too, and the loop ends.
        if (stopping) void messages.close();
        else watch(messages);
      }
    })();
    // consume() recovers from disconnects by itself; what still ends the loop is surfaced by stop()
    // rather than as an unhandled rejection.
    loop.catch(() => {});

    let stopped: Promise<void> | undefined;
    const subscription: BusSubscription = {
      stop: () =>
        (stopped ??= (async () => {
          stopping = true;
          this.subscriptions.delete(subscription);
          await messages.close();
          await loop;
          await handling.onIdle();
        })()),
    };
    this.subscriptions.add(subscription);
    return subscription;
  }

  async ping(): Promise<void> {
    await this.nc.rtt();
  }

  async close(): Promise<void> {
    if (this.nc.isClosed() || this.nc.isDraining()) return;
    await Promise.all([...this.subscriptions].map((s) => s.stop()));
    await this.nc.drain();
  }
}

async function handle(m: JsMsg, handler: (message: BusMessage) => Promise<void>, subjectPrefix: string, onInvalid: SubscribeOptions['onInvalid']): Promise<void> {
  const deliveryCount = m.info.deliveryCount;
  let event: StoredEvent;
  try {
    event = checkedEvent(m, subjectPrefix);
  } catch (error) {
    if (!(error instanceof MalformedMessageError)) throw error;
    // Parked at once with its reason; redelivering a message that cannot parse would never help.
    const streamId = m.subject.startsWith(`${subjectPrefix}.`) ? m.subject.slice(subjectPrefix.length + 1) : m.subject;
    try {
      if (!onInvalid) throw error;
      await onInvalid({ streamId, sequence: m.info.streamSequence, reason: error.message, deliveryCount });
      // No reason with the TERM: servers before 2.10.4 do not parse "+TERM <reason>", ignore it and
      // redeliver the message after every ack wait. The reason is in the dead letter.
      m.term();
    } catch {
      m.nak(retryDelayMs(deliveryCount));
    }
    return;
  }
  try {
    await handler({
      event,
      deliveryCount,
      publishedAt: new Date(Math.floor(m.info.timestampNanos / 1e6)),
      // A plain ack, not ackAck: ackAck makes every ack a request (an inbox, a timer, a reply to wait for),
      // three per event with three read models, and buys nothing here. An ack the server never got means
      // a redelivery after the ack wait, which the projector's version check answers as a duplicate.
      ack: async () => m.ack(),
      nak: async (delayMs) => m.nak(delayMs),
    });
  } catch {
    // A no-op when the handler already acked or nakked.
    m.nak(retryDelayMs(deliveryCount));
  }
}

/** The event a message carries, if our relay could have published it: the envelope, and ids that agree. */
function checkedEvent(m: JsMsg, subjectPrefix: string): StoredEvent {
  const event = decodeEvent(m.string());
  if (m.subject !== `${subjectPrefix}.${event.streamId}`) throw new MalformedMessageError(`subject ${m.subject} does not name order ${event.streamId}`);
  // The relay publishes every event with its id as Nats-Msg-Id (the bus's deduplication key).
  const messageId = m.headers?.get('Nats-Msg-Id');
  if (messageId !== event.metadata.eventId) throw new MalformedMessageError(`Nats-Msg-Id ${messageId || '(none)'} is not the event id ${event.metadata.eventId}`);
  return event;
}
