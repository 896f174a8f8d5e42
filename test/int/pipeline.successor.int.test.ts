// A projector that dies while it holds a delivery leaves that message unacked until JetStream's ack wait
// (30 s by default) ends. With the DEFAULT settings, its successor must bring the order up to date at
// once, not after the ack wait: it reconciles recently changed streams from the event store on start.
import { randomUUID } from 'node:crypto';
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { JetStreamBus } from '../../src/infrastructure/nats/jetStreamBus.js';
import { consumerOf } from '../../src/readModels/projection.js';
import { orderDetails, type OrderDoc } from '../../src/readModels/orderDetails/projection.js';
import { type ProjectorRole, startProjectorRole } from '../../src/projectors/role.js';
import { urls } from '../services.js';
import { appendOne, openPipeline, type Pipeline, quietLog } from './fixtures/pipeline.js';

const defaults = loadConfig({});
let p: Pipeline;
const roles: { role: ProjectorRole; bus: JetStreamBus }[] = [];

/** A projector role as `main` builds it, with the service's default ack wait, delivery limit and timers. */
async function startWithDefaults(): Promise<void> {
  const bus = await JetStreamBus.connect({ url: urls.nats, stream: p.env.NATS_STREAM, subjectPrefix: p.env.NATS_SUBJECT_PREFIX, ackWaitMs: defaults.NATS_ACK_WAIT_MS, maxDeliver: defaults.NATS_MAX_DELIVER, storage: 'memory' });
  const role = await startProjectorRole(
    { bus, store: p.store, readStore: p.readStore, feed: p.feed, deadLetters: p.deadLetters, versions: p.versions, log: quietLog, concurrency: defaults.PROJECTOR_CONCURRENCY, maxDeliver: defaults.NATS_MAX_DELIVER },
    { reconcileEveryMs: defaults.RECONCILE_INTERVAL_MS, reconcileWindowMs: defaults.RECONCILE_WINDOW_MS },
  );
  roles.push({ role, bus });
}

beforeAll(async () => {
  p = await openPipeline();
  await p.startRelay();
});
afterAll(async () => {
  for (const { role, bus } of roles) await role.stop().then(() => bus.close());
  await p?.close();
});

describe('when a projector dies holding an unacked delivery and a successor starts (default settings)', () => {
  it('the successor brings that order up to date without waiting for the ack wait', async () => {
    expect(defaults.NATS_ACK_WAIT_MS).toBeGreaterThanOrEqual(30_000);
    // A first projector creates the durable consumers with the default ack wait, then stops cleanly.
    await startWithDefaults();
    const warm = randomUUID();
    await appendOne(p.store, warm, 0, { type: 'OrderCreated', data: { orderId: warm, userId: 'u', currency: 'EUR', items: [{ sku: 'A', name: 'A', quantity: 1, unitPriceCents: 1 }] } }, 'u');
    await vi.waitFor(async () => expect((await p.readStore.get(orderDetails.collection, warm))?.version).toBe(1), { timeout: 15_000 });
    const first = roles.pop()!;
    await first.role.stop();
    await first.bus.close();

    // The dying projector: takes the order's message off the orderDetails consumer, never acks, vanishes.
    const orderId = randomUUID();
    await appendOne(p.store, orderId, 0, { type: 'OrderCreated', data: { orderId, userId: 'u', currency: 'EUR', items: [{ sku: 'B', name: 'B', quantity: 2, unitPriceCents: 5 }] } }, 'u');
    const nc = await connect({ servers: urls.nats });
    const consumer = await jetstream(nc).consumers.get(p.env.NATS_STREAM, consumerOf(orderDetails.name));
    const held = await vi.waitFor(async () => {
      const message = await consumer.next({ expires: 1000 });
      expect(message?.subject).toBe(`${p.env.NATS_SUBJECT_PREFIX}.${orderId}`);
      return message!;
    }, { timeout: 15_000 });
    expect(held.info.deliveryCount).toBe(1);
    await nc.close(); // gone without an ack: JetStream hands it out again only after the ack wait

    await startWithDefaults();
    // Well inside the 30 s ack wait: only the successor's own catch-up can do this.
    await vi.waitFor(async () => expect((await p.readStore.get<OrderDoc>(orderDetails.collection, orderId))?.version).toBe(1), { timeout: 10_000, interval: 100 });
  }, 60_000);
});
