import { afterAll } from 'vitest';
import { JetStreamBus, type JetStreamBusOptions } from '../../src/infrastructure/nats/jetStreamBus.js';
import { eventBusContract } from '../contracts/eventBus.contract.js';
import { uniqueName, urls } from '../services.js';

// Every test connects its own bus to this file's stream, so connecting also proves that creating the
// stream is idempotent, and with NATS down every test fails instead of being skipped after a failed
// beforeAll. A short ack wait keeps the redelivery tests fast.
const options: JetStreamBusOptions = {
  url: urls.nats,
  stream: uniqueName('EVENTBUS_TEST'),
  subjectPrefix: `test.${uniqueName('eventbus')}`,
  ackWaitMs: 1000,
};

eventBusContract('JetStream', async () => {
  const bus = await JetStreamBus.connect(options);
  return { bus, cleanup: () => bus.close() };
});

afterAll(async () => {
  const admin = await JetStreamBus.connect(options);
  try {
    await admin.deleteStream();
  } finally {
    await admin.close();
  }
});
