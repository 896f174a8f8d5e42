import type { BusMessage, BusSubscription, EventBus, StoredEvent } from '../../ports.js';
import { decodeEvent, encodeEvent } from '../codec.js';
import { retryDelayMs } from '../backoff.js';

export interface InProcessBusOptions {
  /** An unsettled delivery is handed out again after this long, as JetStream's ack wait does. */
  ackWaitMs?: number;
  /** Deliveries per event and durable before the bus gives up on it, as JetStream's max deliver does. */
  maxDeliver?: number;
}

type Handler = (message: BusMessage) => Promise<void>;

interface Member {
  handler: Handler;
  concurrency: number;
  running: Set<Promise<void>>;
}

/** One durable consumer: a cursor into the log plus what is handed out and not yet acked. */
interface Durable {
  next: number;
  /** Log indexes due again (nak, handler error, ack wait). */
  ready: number[];
  /** Unacked log index → deliveries so far. */
  deliveries: Map<number, number>;
  members: Member[];
  turn: number;
}

export class InProcessBus implements EventBus {
  // Events are kept encoded so every delivery decodes a fresh copy, exactly as off the wire.
  private readonly log: { encoded: string; storedAt: Date }[] = [];
  private readonly eventIds = new Set<string>();
  private readonly durables = new Map<string, Durable>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly ackWaitMs: number;
  private readonly maxDeliver: number;
  private closed = false;

  constructor(options: InProcessBusOptions = {}) {
    this.ackWaitMs = options.ackWaitMs ?? 30_000;
    this.maxDeliver = options.maxDeliver ?? 10;
  }

  async publish(event: StoredEvent): Promise<void> {
    if (this.closed) throw new Error('the bus is closed');
    if (this.eventIds.has(event.metadata.eventId)) return;
    this.eventIds.add(event.metadata.eventId);
    this.log.push({ encoded: encodeEvent(event), storedAt: new Date() });
    for (const durable of this.durables.values()) this.pump(durable);
  }

  async subscribe(
    name: string,
    handler: Handler,
    { concurrency = 16 }: { concurrency?: number } = {},
  ): Promise<BusSubscription> {
    if (this.closed) throw new Error('the bus is closed');
    const durable: Durable = this.durables.get(name) ?? {
      next: 0,
      ready: [],
      deliveries: new Map(),
      members: [],
      turn: 0,
    };
    this.durables.set(name, durable);
    const member: Member = { handler, concurrency, running: new Set() };
    durable.members.push(member);
    this.pump(durable);
    return {
      stop: async () => {
        durable.members = durable.members.filter((m) => m !== member);
        await Promise.all(member.running);
      },
    };
  }

  async ping(): Promise<void> {
    if (this.closed) throw new Error('the bus is closed');
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    const members = [...this.durables.values()].flatMap((d) => d.members);
    for (const durable of this.durables.values()) durable.members = [];
    await Promise.all(members.flatMap((m) => [...m.running]));
  }

  /** Hands out due redeliveries first, then new events, to members with a free slot, round robin. */
  private pump(durable: Durable): void {
    for (;;) {
      const member = this.freeMember(durable);
      if (!member) return;
      const index = this.nextIndex(durable);
      if (index === undefined) return;
      this.deliver(durable, member, index);
    }
  }

  private freeMember(durable: Durable): Member | undefined {
    const { members } = durable;
    for (let i = 0; i < members.length; i++) {
      const member = members[(durable.turn + i) % members.length]!;
      if (member.running.size < member.concurrency) {
        durable.turn = (durable.turn + i + 1) % members.length;
        return member;
      }
    }
    return undefined;
  }

  private nextIndex(durable: Durable): number | undefined {
    if (durable.ready.length > 0) return durable.ready.shift();
    return durable.next < this.log.length ? durable.next++ : undefined;
  }

  private deliver(durable: Durable, member: Member, index: number): void {
    const deliveryCount = (durable.deliveries.get(index) ?? 0) + 1;
    durable.deliveries.set(index, deliveryCount);
    let settled = false;
    const settle = (redeliverAfterMs?: number): void => {
      if (settled) return;
      settled = true;
      clearTimeout(ackWait);
      this.timers.delete(ackWait);
      if (redeliverAfterMs === undefined) durable.deliveries.delete(index);
      else this.redeliver(durable, index, deliveryCount, redeliverAfterMs);
    };
    const ackWait = this.later(this.ackWaitMs, () => settle(0));
    const message: BusMessage = {
      event: decodeEvent(this.log[index]!.encoded),
      deliveryCount,
      publishedAt: this.log[index]!.storedAt,
      ack: async () => settle(),
      nak: async (delayMs = 0) => settle(delayMs),
    };
    // Started on the next microtask so the slot is taken before the handler can re-enter pump().
    const run = Promise.resolve()
      .then(() => member.handler(message))
      .catch(() => settle(retryDelayMs(deliveryCount)))
      .finally(() => {
        member.running.delete(run);
        this.pump(durable);
      });
    member.running.add(run);
  }

  private redeliver(durable: Durable, index: number, deliveryCount: number, delayMs: number): void {
    if (deliveryCount >= this.maxDeliver) {
      durable.deliveries.delete(index);
      return;
    }
    this.later(delayMs, () => {
      durable.ready.push(index);
      this.pump(durable);
    });
  }

  private later(ms: number, fn: () => void): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    // Pending redeliveries alone must not keep the process alive.
    timer.unref();
    this.timers.add(timer);
    return timer;
  }
}
