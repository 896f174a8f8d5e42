import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { BusMessage, BusSubscription, EventBus, StoredEvent } from '../../src/ports.js';
import { uniqueName } from '../services.js';

type Handler = (message: BusMessage) => Promise<void>;

// Redelivery after an ack wait or a nak delay takes a while on a real server; a silent miss must still
// fail in reasonable time.
const eventually = { timeout: 15_000, interval: 20 };
// `make` must configure an ack wait of at least this long: redelivery sooner proves a nak did it.
const ACK_WAIT_MS = 1000;

export function storedEvent(streamId: string, version: number): StoredEvent {
  return {
    // Beyond Number.MAX_SAFE_INTEGER: a position squeezed through a JS number would lose its last digit.
    position: 9_007_199_254_740_993n + BigInt(version),
    streamId,
    version,
    type: 'ItemAdded',
    schemaVersion: 1,
    data: { sku: `sku-${version}`, quantity: version, price: { amount: '12.50', currency: 'EUR' } },
    metadata: {
      eventId: randomUUID(),
      commandId: randomUUID(),
      correlationId: randomUUID(),
      causationId: randomUUID(),
      userId: 'user-1',
    },
    recordedAt: new Date(Date.UTC(2025, 0, 2, 3, 4, 5, 678) + version),
  };
}

function storedEvents(streamId: string, count: number): StoredEvent[] {
  return Array.from({ length: count }, (_, i) => storedEvent(streamId, i + 1));
}

export function eventBusContract(
  name: string,
  make: () => Promise<{ bus: EventBus; cleanup(): Promise<void> }>,
): void {
  describe(`${name} event bus`, () => {
    let bus: EventBus;
    let cleanup: () => Promise<void>;
    let subscriptions: BusSubscription[];
    // A real bus may be shared by the whole file, so each test owns one order stream and fresh durable
    // names, and acks whatever else it is handed.
    let streamId: string;

    beforeEach(async () => {
      ({ bus, cleanup } = await make());
      subscriptions = [];
      streamId = uniqueName('order');
    });

    afterEach(async () => {
      await Promise.all(subscriptions.map((s) => s.stop()));
      await cleanup();
    });

    async function subscribe(durable: string, handler: Handler, concurrency?: number): Promise<BusSubscription> {
      const subscription = await bus.subscribe(
        durable,
        async (message) => (message.event.streamId === streamId ? handler(message) : message.ack()),
        concurrency === undefined ? undefined : { concurrency },
      );
      subscriptions.push(subscription);
      return subscription;
    }

    async function publishAll(events: StoredEvent[]): Promise<void> {
      for (const event of events) await bus.publish(event);
    }

    describe('when an event is published', () => {
      it('delivers it to a durable consumer', async () => {
        const received: BusMessage[] = [];
        await subscribe(uniqueName('durable'), async (message) => {
          received.push(message);
          await message.ack();
        });
        const event = storedEvent(streamId, 1);

        const before = Date.now();
        await bus.publish(event);
        const after = Date.now();

        await vi.waitFor(() => expect(received).toHaveLength(1), eventually);
        const [message] = received;
        expect(message!.event).toEqual(event);
        // When the bus stored it; a command receipt reports this as the PUBLISHED stage.
        expect(message!.publishedAt.getTime()).toBeGreaterThanOrEqual(before - 5);
        expect(message!.publishedAt.getTime()).toBeLessThanOrEqual(after + 5);
        expect(typeof message!.event.position).toBe('bigint');
        expect(message!.event.recordedAt).toBeInstanceOf(Date);
        expect(message!.deliveryCount).toBe(1);
      });
    });

    describe('when the same event id is published twice', () => {
      it('delivers it once', async () => {
        const [event, later] = storedEvents(streamId, 2);
        await publishAll([event!, event!, later!]);
        const versions: number[] = [];

        await subscribe(
          uniqueName('durable'),
          async (message) => {
            versions.push(message.event.version);
            await message.ack();
          },
          1,
        );

        // In order on one consumer: once the later event is in, a duplicate would be in too.
        await vi.waitFor(() => expect(versions).toContain(2), eventually);
        expect(versions).toEqual([1, 2]);
      });
    });

    describe('when two durables subscribe', () => {
      it('delivers every event to each of them', async () => {
        const events = storedEvents(streamId, 5);
        await publishAll(events);
        const seen = { a: new Set<string>(), b: new Set<string>() };

        for (const key of ['a', 'b'] as const) {
          await subscribe(uniqueName(`durable_${key}`), async (message) => {
            seen[key].add(message.event.metadata.eventId);
            await message.ack();
          });
        }

        const all = new Set(events.map((e) => e.metadata.eventId));
        await vi.waitFor(() => {
          expect(seen.a).toEqual(all);
          expect(seen.b).toEqual(all);
        }, eventually);
      });
    });

    describe('when two subscriptions share a durable', () => {
      it('splits the events between them and loses none', async () => {
        const durable = uniqueName('durable');
        const seen = [new Set<string>(), new Set<string>()] as const;
        let acks = 0;
        for (const mine of seen) {
          await subscribe(
            durable,
            async (message) => {
              mine.add(message.event.metadata.eventId);
              await sleep(20);
              await message.ack();
              acks++;
            },
            2,
          );
        }
        const events = storedEvents(streamId, 20);

        await publishAll(events);

        await vi.waitFor(() => expect(acks).toBe(events.length), eventually);
        expect(new Set([...seen[0], ...seen[1]])).toEqual(new Set(events.map((e) => e.metadata.eventId)));
        expect(seen[0].size).toBeGreaterThan(0);
        expect(seen[1].size).toBeGreaterThan(0);
      });
    });

    describe('when the handler naks', () => {
      it('redelivers the event with deliveryCount 2 at once', async () => {
        const deliveries: { count: number; at: number }[] = [];
        await subscribe(uniqueName('durable'), async (message) => {
          deliveries.push({ count: message.deliveryCount, at: Date.now() });
          if (message.deliveryCount === 1) await message.nak();
          else await message.ack();
        });

        await bus.publish(storedEvent(streamId, 1));

        await vi.waitFor(() => expect(deliveries.map((d) => d.count)).toEqual([1, 2]), eventually);
        expect(deliveries[1]!.at - deliveries[0]!.at).toBeLessThan(ACK_WAIT_MS / 2);
      });

      it('waits the given delay before redelivering', async () => {
        const times: number[] = [];
        await subscribe(uniqueName('durable'), async (message) => {
          times.push(Date.now());
          if (message.deliveryCount === 1) await message.nak(600);
          else await message.ack();
        });

        await bus.publish(storedEvent(streamId, 1));

        await vi.waitFor(() => expect(times).toHaveLength(2), eventually);
        expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(500);
      });
    });

    describe('when the handler throws', () => {
      it('redelivers the event after a short backoff', async () => {
        const deliveries: { count: number; at: number }[] = [];
        await subscribe(uniqueName('durable'), async (message) => {
          deliveries.push({ count: message.deliveryCount, at: Date.now() });
          if (message.deliveryCount === 1) throw new Error('projection failed');
          await message.ack();
        });

        await bus.publish(storedEvent(streamId, 1));

        await vi.waitFor(() => expect(deliveries.map((d) => d.count)).toEqual([1, 2]), eventually);
        expect(deliveries[1]!.at - deliveries[0]!.at).toBeLessThan(ACK_WAIT_MS * 0.8);
      });
    });

    describe('when the handler returns without acking', () => {
      it('loses nothing after stop and a new subscription', async () => {
        const durable = uniqueName('durable');
        await publishAll(storedEvents(streamId, 3));
        const unacked = new Set<number>();
        const first = await subscribe(durable, async (message) => {
          unacked.add(message.event.version);
        });
        await vi.waitFor(() => expect(unacked.size).toBe(3), eventually);
        await first.stop();

        const redelivered = new Map<number, number>();
        await subscribe(durable, async (message) => {
          redelivered.set(message.event.version, message.deliveryCount);
          await message.ack();
        });

        await vi.waitFor(() => expect([...redelivered.keys()].sort()).toEqual([1, 2, 3]), eventually);
        for (const count of redelivered.values()) expect(count).toBeGreaterThanOrEqual(2);
      });
    });

    describe('when stop() is called while a handler runs', () => {
      it('waits for the handler and then delivers nothing more', async () => {
        let started = 0;
        let finished = 0;
        const subscription = await subscribe(uniqueName('durable'), async (message) => {
          started++;
          await sleep(300);
          await message.ack();
          finished++;
        });
        await bus.publish(storedEvent(streamId, 1));
        await vi.waitFor(() => expect(started).toBe(1), eventually);

        await subscription.stop();

        expect(finished).toBe(1);
        // A consumer still running is handed the next event: by then the stopped one would have been too.
        const marker: number[] = [];
        await subscribe(uniqueName('durable'), async (message) => (marker.push(message.event.version), message.ack()));
        await bus.publish(storedEvent(streamId, 2));
        await vi.waitFor(() => expect(marker).toContain(2), eventually);
        expect(started).toBe(1);
      });
    });

    describe('when events arrive faster than the handlers finish', () => {
      it('runs at most `concurrency` handlers at once', async () => {
        let active = 0;
        let peak = 0;
        let acked = 0;
        await subscribe(
          uniqueName('durable'),
          async (message) => {
            active++;
            peak = Math.max(peak, active);
            await sleep(50);
            active--;
            await message.ack();
            acked++;
          },
          3,
        );

        await publishAll(storedEvents(streamId, 12));

        await vi.waitFor(() => expect(acked).toBe(12), eventually);
        expect(peak).toBeLessThanOrEqual(3);
        expect(peak).toBeGreaterThan(1);
      });
    });

    describe('when one stream is consumed by a single subscription with concurrency 1', () => {
      it('delivers its events in version order', async () => {
        const versions: number[] = [];
        await subscribe(
          uniqueName('durable'),
          async (message) => {
            await sleep(Math.random() * 10);
            versions.push(message.event.version);
            await message.ack();
          },
          1,
        );

        await publishAll(storedEvents(streamId, 10));

        await vi.waitFor(() => expect(versions).toHaveLength(10), eventually);
        expect(versions).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      });
    });
  });
}
