import { afterAll, describe, expect, it, vi } from 'vitest';
import type { BusMessage } from '../../src/ports.js';
import { JetStreamBus, type JetStreamBusOptions } from '../../src/infrastructure/nats/jetStreamBus.js';
import { eventBusContract, storedEvent } from '../contracts/eventBus.contract.js';
import { uniqueName, urls } from '../services.js';
import { deleteStream } from '../jetStreamAdmin.js';

// Every test connects its own bus to this file's stream, so connecting also proves that creating the
// stream is idempotent, and with NATS down every test fails instead of being skipped after a failed
// beforeAll. A short ack wait keeps the redelivery tests fast.
const options = {
  url: urls.nats,
  stream: uniqueName('EVENTBUS_TEST'),
  subjectPrefix: `test.${uniqueName('eventbus')}`,
  ackWaitMs: 1000,
} satisfies JetStreamBusOptions;

eventBusContract('JetStream', async () => {
  const bus = await JetStreamBus.connect(options);
  return { bus, cleanup: () => bus.close() };
});

afterAll(async () => {
  // Absent when only the wipe cases ran (-t): they use streams of their own.
  await deleteStream(options).catch((error: unknown) => {
    if (!(error instanceof Error && /stream not found/i.test(error.message))) throw error;
  });
});

describe('when NATS comes back without its JetStream store (the stream and consumers are gone)', () => {
  type Own = typeof options;
  // The real-world case is another connection (a server back without its store, an operator deleting the
  // stream); the bus's own connection is kept as a second case, as it once behaved differently.
  const deletions: [string, (bus: JetStreamBus, own: Own) => Promise<unknown>][] = [
    ['from another connection', (_bus, own) => deleteStream(own)],
    [
      "through the bus's own connection",
      (bus, own) => (bus as unknown as { jsm: { streams: { delete(name: string): Promise<boolean> } } }).jsm.streams.delete(own.stream),
    ],
  ];

  it.each(deletions)('recreates the stream on the next publish and the consumer for the running subscription (deleted %s)', async (_how, remove) => {
    const own = { ...options, stream: uniqueName('EVENTBUS_WIPE'), subjectPrefix: `test.${uniqueName('wipe')}` };
    const bus = await JetStreamBus.connect(own);
    const received: BusMessage[] = [];
    const subscription = await bus.subscribe('wiped-durable', async (message) => {
      received.push(message);
      await message.ack();
    });
    try {
      await bus.publish(storedEvent('order-before', 1));
      await vi.waitFor(() => expect(received).toHaveLength(1), { timeout: 5000 });

      await remove(bus, own);
      await bus.publish(storedEvent('order-after', 1));
      await vi.waitFor(() => expect(received.map((m) => m.event.streamId)).toEqual(['order-before', 'order-after']), { timeout: 20_000, interval: 100 });
    } finally {
      await subscription.stop();
      await deleteStream(own).catch(() => {});
      await bus.close();
    }
  });
});
