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
  await deleteStream(options);
});

describe('when NATS comes back without its JetStream store (the stream and consumers are gone)', () => {
  it('recreates the stream on the next publish and the consumer for the running subscription', async () => {
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

      // Deleted through the bus's own connection, as this test did before the bus lost its deleteStream.
      // Deleted from another connection, the running subscription recreates the consumer (checked) but
      // its pulls never receive from it: a healing bug found here, open, see the closing note of issue 16.
      await (bus as unknown as { jsm: { streams: { delete(name: string): Promise<boolean> } } }).jsm.streams.delete(own.stream);
      await bus.publish(storedEvent('order-after', 1));
      await vi.waitFor(() => expect(received.map((m) => m.event.streamId)).toEqual(['order-before', 'order-after']), { timeout: 20_000, interval: 100 });
    } finally {
      await subscription.stop();
      await deleteStream(own).catch(() => {});
      await bus.close();
    }
  });
});
