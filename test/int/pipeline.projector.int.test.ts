import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metrics } from '../../src/metrics.js';
import { RedisReadStore } from '../../src/infrastructure/redis/redisReadStore.js';
import { consumerOf } from '../../src/readModels/projection.js';
import { orderDetails } from '../../src/readModels/orderDetails/projection.js';
import { projections } from '../../src/readModels/index.js';
import { retryDeadLetters } from '../../src/projectors/retry.js';
import { applyEvent } from '../../src/projectors/runtime.js';
import { seededRandom } from '../random.js';
import { uniqueName, urls } from '../services.js';
import { expectConverged } from './convergence.js';
import { appendOne, deleteRedisPrefix, openPipeline, type Pipeline, writeOrders } from './fixtures/pipeline.js';
import { purgeStream } from '../jetStreamAdmin.js';

let p: Pipeline;
beforeAll(async () => {
  p = await openPipeline();
});
afterAll(async () => {
  await p?.close();
});

async function allEvents() {
  const events = [];
  for (let after = 0n; ; ) {
    const page = await p.store.readAll(after, 1000);
    if (page.length === 0) return events;
    events.push(...page);
    after = page.at(-1)!.position;
  }
}

async function outcomes(outcome: string): Promise<number> {
  const { values } = await metrics.projectorEvents.get();
  return values.filter((v) => v.labels.outcome === outcome).reduce((sum, v) => sum + v.value, 0);
}
const duplicates = () => outcomes('duplicate');

describe('given the relay and a projector running', () => {
  let first: Awaited<ReturnType<Pipeline['startProjector']>>;
  beforeAll(async () => {
    await p.startRelay();
    first = await p.startProjector();
    await writeOrders(p.store, { orders: 40, seed: 7 });
    await expectConverged(p);
  });

  describe('when every event is delivered again', () => {
    it('changes nothing: documents, lists and statistics stay equal to the event store', async () => {
      const before = { stats: await p.readStore.counters('orderStat'), all: await p.readStore.indexRange('userOrder:all', { reverse: true }) };
      const events = await allEvents();
      const seen = await duplicates();
      // A new message id gets past JetStream's deduplication, as a redelivery after the window would.
      for (const event of events) await p.bus.publish({ ...event, metadata: { ...event.metadata, eventId: randomUUID() } });
      for (const event of events.slice(0, 20)) for (const projection of projections) expect(await applyEvent(p, projection, event)).toBe('duplicate');
      await expect.poll(duplicates, { timeout: 15_000 }).toBeGreaterThanOrEqual(seen + events.length * projections.length);
      expect((await p.readStore.counters('orderStat')).values).toEqual(before.stats.values);
      expect(await p.readStore.indexRange('userOrder:all', { reverse: true })).toEqual(before.all);
      await expectConverged(p);
    });
  });

  describe('when the stream is purged while the projector is down and more orders come', () => {
    it('converges through reconciliation', async () => {
      await first.stop();
      await writeOrders(p.store, { orders: 20, seed: 8 });
      await expect.poll(() => p.versions.outboxBacklog(), { timeout: 10_000 }).toBe(0);
      await purgeStream({ url: p.env.NATS_URL, stream: p.env.NATS_STREAM }); // the 20 orders' messages are gone before any projector saw them
      const repairedBefore = await outcomes('reconciled');
      await p.startProjector();
      await writeOrders(p.store, { orders: 10, seed: 9 });
      await expectConverged(p);
      expect(await outcomes('reconciled')).toBeGreaterThanOrEqual(repairedBefore + 20);
    });
  });

  describe('when a second projector consumes the same durables', () => {
    it('converges with both running', async () => {
      await p.startProjector();
      await writeOrders(p.store, { orders: 40, seed: 10, concurrency: 12 });
      await expectConverged(p);
    });
  });

  describe('when one order has an event its projections cannot apply', () => {
    let poisoned: string;

    beforeAll(async () => {
      poisoned = randomUUID();
      await appendOne(p.store, poisoned, 0, { type: 'OrderCreated', data: { orderId: poisoned, userId: 'user-poison', currency: 'EUR', items: [{ sku: 'A', name: 'A', quantity: 1, unitPriceCents: 500 }] } }, 'user-poison');
      // Written around the command path, as a bad migration or a bug might: an item that is null.
      await sql(
        `WITH e AS (INSERT INTO events (event_id, stream_id, version, type, schema_version, data, metadata)
           VALUES ($1, $2, 2, 'OrderItemAdded', 1, '{"item": null}', $3) RETURNING position)
         INSERT INTO outbox (position) SELECT position FROM e`,
        [randomUUID(), poisoned, JSON.stringify({ eventId: randomUUID(), commandId: 'c', correlationId: 'c', causationId: 'c', userId: 'user-poison' })],
      );
      await sql(`SELECT pg_notify('outbox', '')`);
      await appendOne(p.store, poisoned, 2, { type: 'OrderConfirmed', data: {} }, 'user-poison');
      await writeOrders(p.store, { orders: 20, seed: 11 });
    });

    it('dead-letters it and the later events of that order, while other orders keep flowing', async () => {
      await expect
        .poll(async () => (await p.deadLetters.list({ unresolvedOnly: true })).map((l) => `${l.consumer} v${l.version}`).sort(), { timeout: 20_000 })
        .toEqual([`${consumerOf('orderDetails')} v2`, `${consumerOf('orderDetails')} v3`, `${consumerOf('orderStats')} v2`, `${consumerOf('orderStats')} v3`]);
      await expectConverged(p);
      // The document stays at its last good version, and says so.
      expect((await p.readStore.get(orderDetails.collection, poisoned))?.version).toBe(1);
      expect((await p.readStore.get('userOrder', poisoned))?.data).toMatchObject({ status: 'CONFIRMED' });
    });

    it('applies them on retry once the event is fixed', async () => {
      await sql(`UPDATE events SET data = '{"item": {"sku": "B", "name": "B", "quantity": 2, "unitPriceCents": 300}}' WHERE stream_id = $1 AND version = 2`, [poisoned]);
      const retried = await retryDeadLetters(p, projections, 'all');
      // Oldest first by position; the two consumers' letters of one event may come in either order.
      expect(retried.map((o) => `${o.letter.consumer} v${o.letter.version} ${o.outcome}`).sort()).toEqual([
        `${consumerOf('orderDetails')} v2 applied`,
        `${consumerOf('orderDetails')} v3 applied`,
        `${consumerOf('orderStats')} v2 applied`,
        `${consumerOf('orderStats')} v3 applied`,
      ]);
      expect(retried.map((o) => o.letter.version)).toEqual([2, 2, 3, 3]);
      expect(await p.deadLetters.list({ unresolvedOnly: true })).toEqual([]);
      expect((await p.readStore.get(orderDetails.collection, poisoned))?.data).toMatchObject({ status: 'CONFIRMED', totalCents: 1100 });
      await expectConverged(p);
    });
  });
});

describe('given events delivered in a random order, each several times', () => {
  it('converges to the same read models', async () => {
    const prefix = uniqueName('shuffled');
    const readStore = new RedisReadStore({ url: urls.redis, prefix });
    try {
      const events = await allEvents();
      const rand = seededRandom(3);
      const deliveries = [...events, ...events.filter(() => rand() < 0.3)].sort(() => rand() - 0.5);
      for (const projection of projections) for (const event of deliveries) await applyEvent({ store: p.store, readStore, feed: p.feed }, projection, event).catch(() => {});
      await expectConverged({ store: p.store, readStore, deadLetters: p.deadLetters });
    } finally {
      await readStore.close();
      await deleteRedisPrefix(prefix);
    }
  });
});

async function sql(text: string, values: unknown[] = []): Promise<void> {
  const client = new pg.Client({ connectionString: p.db.url });
  await client.connect();
  try {
    await client.query(text, values);
  } finally {
    await client.end();
  }
}
