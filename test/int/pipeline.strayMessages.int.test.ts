// Anyone can publish on orders.events.<id>. Nothing that is not in the event store may change a read
// document: a stray message (not JSON, an unknown type, a version the store lacks) is dead-lettered as
// rejected at once, blocks nothing, and the real events apply. And a document that disagrees with the
// store about an event it already applied is found by reconciliation (event ids, not only versions).
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { jetstream } from '@nats-io/jetstream';
import { connect, headers } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { orderDetails, type OrderDoc } from '../../src/projectors/orderDetails.js';
import { consumerOf } from '../../src/projectors/deadLetters.js';
import { projections } from '../../src/projectors/role.js';
import { projectionStatus } from '../../src/projectors/status.js';
import { busState } from '../../faults/bus.js';
import { urls } from '../services.js';
import { appendOne, fast, openPipeline, type Pipeline } from './fixtures/pipeline.js';

let p: Pipeline;
let reconcileNow: () => Promise<{ compared: number; diverged: number }>;
beforeAll(async () => {
  p = await openPipeline();
  await p.startRelay();
  // Reconciliation only when asked: what repairs the document must be the path under test.
  ({ reconcileNow } = await p.startProjector({ reconcileEveryMs: 3_600_000 }));
});
afterAll(() => p?.close());

const item = (sku: string) => ({ sku, name: `Item ${sku}`, quantity: 1, unitPriceCents: 100 });
const readDetails = (id: string) => p.readStore.get<OrderDoc>(orderDetails.collection, id);

async function publishRaw(orderId: string, payload: string, msgID?: string): Promise<void> {
  const nc = await connect({ servers: urls.nats });
  try {
    const h = headers();
    await jetstream(nc).publish(`${p.env.NATS_SUBJECT_PREFIX}.${orderId}`, payload, { headers: h, ...(msgID ? { msgID } : {}) });
  } finally {
    await nc.close();
  }
}

/** An envelope exactly like the relay's, for an event the store never held. */
function forged(orderId: string, version: number, type: string, data: unknown) {
  const eventId = randomUUID();
  const event = { position: '999999', streamId: orderId, version, type, schemaVersion: 1, data, committedAt: new Date().toISOString(), metadata: { eventId, commandId: eventId, correlationId: eventId, causationId: eventId, userId: 'mallory' } };
  return { payload: JSON.stringify(event), eventId };
}

describe('when stray messages reach the subject of an order', () => {
  const orderId = randomUUID();
  let realV2: string;

  beforeAll(async () => {
    await appendOne(p.store, orderId, 0, { type: 'OrderCreated', data: { orderId, userId: 'alice', currency: 'EUR', items: [item('A')] } }, 'alice');
    await vi.waitFor(async () => expect((await readDetails(orderId))?.version).toBe(1), { timeout: 15_000 });

    const unknownType = forged(orderId, 2, 'OrderTeleported', { to: 'mars' });
    await publishRaw(orderId, unknownType.payload, unknownType.eventId);
    await publishRaw(orderId, 'this is not JSON {');
    const farAhead = forged(orderId, 1001, 'OrderConfirmed', {});
    await publishRaw(orderId, farAhead.payload, farAhead.eventId);

    const appended = await appendOne(p.store, orderId, 1, { type: 'OrderItemAdded', data: { item: item('B') } }, 'alice');
    realV2 = appended.events[0]!.metadata.eventId;
  });

  it('applies the real next event, and the document holds exactly what the store holds', async () => {
    await vi.waitFor(async () => expect((await readDetails(orderId))?.data.items.map((line) => line.sku)).toEqual(['A', 'B']), { timeout: 15_000 });
    const doc = await readDetails(orderId);
    expect(doc?.version).toBe(2);
    expect(doc?.eventId).toBe(realV2);
  });

  it('dead-letters each stray message as rejected, with its reason, for every read model, and blocks nothing', async () => {
    await vi.waitFor(
      async () => {
        const letters = (await p.deadLetters.list({ unresolvedOnly: true })).filter((letter) => letter.streamId === orderId);
        expect(letters.length).toBe(3 * projections.length);
      },
      { timeout: 15_000 },
    );
    const letters = (await p.deadLetters.list({ unresolvedOnly: true })).filter((letter) => letter.streamId === orderId && letter.consumer === consumerOf(orderDetails.name));
    expect(letters.every((letter) => letter.kind === 'rejected')).toBe(true);
    const reasons = letters.map((letter) => letter.reason);
    expect(reasons).toHaveLength(3);
    for (const reason of [/not JSON/, /OrderConfirmed .* v1001 .*the event store has no v1001/, /unknown event type OrderTeleported, and the event store does not hold it/])
      expect(reasons.filter((text) => reason.test(text))).toHaveLength(1);
    expect([...(await p.deadLetters.blocked(consumerOf(orderDetails.name))).keys()]).not.toContain(orderId);
  });

  it('never sees them again: the bus is told to drop them, not to redeliver after the ack wait', async () => {
    // Nothing left undelivered or waiting for an ack: the bus holds nothing it could deliver again. A
    // message left unacked would sit in ackPending until its ack wait, then come back (deliveries > 1).
    const durables = projections.map((projection) => consumerOf(projection.name));
    await vi.waitFor(
      async () => {
        const bus = await busState(urls.nats, p.env.NATS_STREAM, durables);
        expect(bus.missingConsumers).toEqual([]);
        for (const name of durables) expect(bus.consumers[name], name).toMatchObject({ pending: 0, ackPending: 0 });
      },
      { timeout: 5 * fast.ackWaitMs * fast.maxDeliver },
    );
    const letters = (await p.deadLetters.list({ unresolvedOnly: true })).filter((letter) => letter.streamId === orderId);
    expect(letters.map((letter) => letter.deliveries)).toEqual(letters.map(() => 1));
  });

  it('shows them in projectionStatus.deadLetters and in `npm run projections -- dead-letters`', async () => {
    await vi.waitFor(async () => expect((await projectionStatus(p.readStore, projections)).find((s) => s.name === orderDetails.name)?.deadLetters).toBeGreaterThanOrEqual(3), { timeout: 10_000 });
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/projections.ts', 'dead-letters'], {
      env: { PATH: process.env.PATH, DATABASE_URL: p.env.DATABASE_URL, REDIS_URL: p.env.REDIS_URL, REDIS_PREFIX: p.env.REDIS_PREFIX },
    });
    const lines = stdout.split('\n').filter((line) => line.includes(orderId));
    expect(lines.length).toBe(3 * projections.length);
    expect(lines.every((line) => line.includes('rejected'))).toBe(true);
    expect(stdout).toMatch(/unknown event type OrderTeleported/);
  });
});

describe('when a document disagrees with the event store about an event it applied', () => {
  it('reconciliation finds it by event id and folds the order again', async () => {
    const orderId = randomUUID();
    await appendOne(p.store, orderId, 0, { type: 'OrderCreated', data: { orderId, userId: 'bob', currency: 'EUR', items: [item('A')] } }, 'bob');
    await appendOne(p.store, orderId, 1, { type: 'OrderItemAdded', data: { item: item('B') } }, 'bob');
    await vi.waitFor(async () => expect((await readDetails(orderId))?.version).toBe(2), { timeout: 15_000 });
    const good = (await readDetails(orderId))!;

    // Same version, another event's effect: what a version-only comparison can never see.
    const wrong = { ...good, eventId: randomUUID(), data: { ...good.data, items: good.data.items.slice(0, 1) } };
    expect(await p.readStore.compareAndSet(orderDetails.collection, orderId, 2, wrong)).toBe(true);
    const result = await reconcileNow();
    expect(result.compared).toBeGreaterThan(0);
    expect(result.diverged).toBeGreaterThanOrEqual(1);
    const repaired = await readDetails(orderId);
    expect(repaired?.version).toBe(2);
    expect(repaired?.eventId).toBe(good.eventId);
    expect(repaired?.data.items.map((line) => line.sku)).toEqual(['A', 'B']);
  });
});
