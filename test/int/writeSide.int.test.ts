// The write side against a real Postgres: concurrency, idempotency, snapshots, failures that leave
// nothing behind, and events stored in an older schema.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrder, snapshotSchemaVersion } from '../../src/commands/handleCommand.js';
import { type CommandHandlers, createCommandHandlers } from '../../src/commands/index.js';
import { loadConfig } from '../../src/config.js';
import { ConflictError, InvalidStateError, ValidationError } from '../../src/domain/errors.js';
import type { Caller, OrderItem } from '../../src/domain/order/index.js';
import { createEventStore, type PrismaEventStore } from '../../src/infrastructure/postgres/eventStore.js';
import { metrics } from '../../src/metrics.js';
import type { EventStore } from '../../src/ports.js';
import { createTestDatabase, type TestDatabase } from '../db.js';

const config = loadConfig({});
const log = pino({ level: 'silent' });
let db: TestDatabase;
let sql: pg.Pool;
let store: PrismaEventStore;
let commands: CommandHandlers;
/** Command instances with a connection pool each, like the command replicas of a deployment. */
let replicas: CommandHandlers[];
const stores: PrismaEventStore[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  sql = new pg.Pool({ connectionString: db.url });
  for (let i = 0; i < 5; i++) stores.push(createEventStore({ url: db.url }));
  store = stores[0]!;
  replicas = stores.map((on) => handlers(on));
  commands = replicas[0]!;
});
afterAll(async () => {
  await Promise.all(stores.map((each) => each.close()));
  await sql?.end();
  await db?.drop();
});

/** Sends call i through replica i mod 5. */
const spread = <T>(count: number, call: (commands: CommandHandlers, i: number) => Promise<T>): Promise<PromiseSettledResult<T>>[] =>
  Array.from({ length: count }, (_, i) => call(replicas[i % replicas.length]!, i)).map((promise) =>
    promise.then(
      (value) => ({ status: 'fulfilled' as const, value }),
      (reason: unknown) => ({ status: 'rejected' as const, reason }),
    ),
  );

/** The handlers as the service builds them, with the configuration's defaults. */
function handlers(on: EventStore, maxRetries = config.COMMAND_MAX_RETRIES): CommandHandlers {
  return createCommandHandlers({ store: on, maxRetries, snapshotEvery: config.SNAPSHOT_EVERY, log });
}

const customer = (): Caller => ({ userId: `user-${randomUUID()}`, roles: [] });
const as = (caller: Caller, extra: { expectedVersion?: number; idempotencyKey?: string } = {}) => ({ caller, correlationId: randomUUID(), ...extra });
const item = (sku: string, quantity = 1): OrderItem => ({ sku, name: `item ${sku}`, quantity, unitPriceCents: 250 });

async function count(table: 'events' | 'outbox' | 'idempotency_records'): Promise<number> {
  const { rows } = await sql.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`);
  return Number(rows[0]!.n);
}

function rejections(results: PromiseSettledResult<unknown>[]): unknown[] {
  return results.flatMap((result) => (result.status === 'rejected' ? [result.reason] : []));
}

/** Counts the events `readStream` hands out, to see how much of a stream a load replays. */
function countingReads(inner: EventStore): { store: EventStore; rows: { read: number } } {
  const rows = { read: 0 };
  const store = new Proxy(inner, {
    get(target, property) {
      if (property === 'readStream')
        return async (streamId: string, fromVersion?: number) => {
          const events = await target.readStream(streamId, fromVersion);
          rows.read += events.length;
          return events;
        };
      const value = Reflect.get(target, property) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { store, rows };
}

describe('when 50 items are added to one order at the same time through 5 command instances, without expectedVersion', () => {
  it('applies every item exactly once, at versions 1..51 without holes', async () => {
    const alice = customer();
    const { orderId } = await commands.createOrder({ items: [item('BASE')] }, as(alice));
    const skus = Array.from({ length: 50 }, (_, i) => `SKU-${i}`);

    // Five replicas writing one order at once is the worst hot spot there is: on a loaded machine one of
    // them can lose ten races in a row, so this test gives it the budget such a deployment would set
    // (COMMAND_MAX_RETRIES); exactly-once and no holes are what it proves.
    const hot = stores.map((on) => handlers(on, 40));
    const results = await Promise.all(spread(50, (_, i) => hot[i % hot.length]!.addOrderItem(orderId, item(skus[i]!), as(alice))));

    expect(rejections(results)).toEqual([]);
    const versions = results.map((result) => (result as PromiseFulfilledResult<{ version: number }>).value.version);
    expect([...versions].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 2));
    const stream = await store.readStream(orderId);
    expect(stream.map((event) => event.version)).toEqual(Array.from({ length: 51 }, (_, i) => i + 1));
    const added = stream.filter((event) => event.type === 'OrderItemAdded').map((event) => (event.data as { item: OrderItem }).item.sku);
    expect([...added].sort()).toEqual([...skus].sort());
    const { state } = await loadOrder(store, orderId);
    expect(state!.items).toHaveLength(51);
    expect(state!.items.every((line) => line.quantity === 1)).toBe(true);
  });

  it('queues them within one instance instead of retrying', async () => {
    const alice = customer();
    const { orderId } = await commands.createOrder({ items: [item('BASE')] }, as(alice));
    const retries = await counterValue(metrics.commandRetries, { command: 'AddOrderItem' });

    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => commands.addOrderItem(orderId, item(`ONE-${i}`), as(alice))));

    expect(results.map((result) => result.version)).toEqual(Array.from({ length: 50 }, (_, i) => i + 2));
    expect(await counterValue(metrics.commandRetries, { command: 'AddOrderItem' })).toBe(retries);
  });
});

describe('when one idempotent createOrder is sent 20 times at once', () => {
  it.each([
    ['names its order id', true],
    ['lets the server pick the order id', false],
  ])('that %s leaves exactly one order and gives all 20 the same result', async (_, namesId) => {
    const bob = customer();
    const key = `key-${randomUUID()}`;
    const input = { ...(namesId ? { orderId: randomUUID() } : {}), items: [item('A-1', 2)] };

    const settled = await Promise.all(spread(20, (replica) => replica.createOrder(input, as(bob, { idempotencyKey: key }))));

    expect(rejections(settled)).toEqual([]);
    const results = settled.map((result) => (result as PromiseFulfilledResult<{ orderId: string }>).value);
    for (const result of results) expect(result).toEqual(results[0]);
    const { rows } = await sql.query(`SELECT stream_id FROM events WHERE type = 'OrderCreated' AND data->>'userId' = $1`, [bob.userId]);
    expect(rows).toEqual([{ stream_id: results[0]!.orderId }]);
    expect(await store.readStream(results[0]!.orderId)).toHaveLength(1);
    expect(await store.findIdempotency(bob.userId, key)).toMatchObject({ result: results[0] });
  });

  it('rejects the same key with different input as CONFLICT, and creates nothing more', async () => {
    const bob = customer();
    const key = `key-${randomUUID()}`;
    const first = await commands.createOrder({ items: [item('A-1')] }, as(bob, { idempotencyKey: key }));
    const before = await count('events');

    await expect(commands.createOrder({ items: [item('A-1', 3)] }, as(bob, { idempotencyKey: key }))).rejects.toBeInstanceOf(ConflictError);

    expect(await count('events')).toBe(before);
    expect(await commands.createOrder({ items: [item('A-1')] }, as(bob, { idempotencyKey: key }))).toEqual(first);
  });
});

describe('when 10 commands pin the same expectedVersion at once', () => {
  it('lets exactly one through and rejects the others with CONFLICT', async () => {
    const carol = customer();
    const { orderId, version } = await commands.createOrder({ items: [item('BASE')] }, as(carol));

    const results = await Promise.all(
      spread(10, (replica, i) => replica.addOrderItem(orderId, item(`PIN-${i}`), as(carol, { expectedVersion: version }))),
    );

    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
    const failures = rejections(results);
    expect(failures).toHaveLength(9);
    for (const failure of failures) expect(failure).toBeInstanceOf(ConflictError);
    expect((await store.readStream(orderId)).map((event) => event.version)).toEqual([1, 2]);
  });
});

describe('when an order has 10,000 events and a snapshot', () => {
  const every = config.SNAPSHOT_EVERY;
  const dave = customer();
  const orderId = randomUUID();

  beforeAll(async () => {
    // 9,999 events in one statement: created, then items added (two in three) and removed (one in three).
    await sql.query(
      `INSERT INTO events (event_id, stream_id, version, type, schema_version, data, metadata)
       SELECT gen_random_uuid(), $1, g,
         CASE WHEN g = 1 THEN 'OrderCreated' WHEN g % 3 = 0 THEN 'OrderItemRemoved' ELSE 'OrderItemAdded' END,
         CASE WHEN g = 1 THEN 2 ELSE 1 END,
         CASE WHEN g = 1 THEN jsonb_build_object('orderId', $1::text, 'userId', $2::text, 'currency', 'EUR',
                'items', jsonb_build_array(jsonb_build_object('sku', 'BASE', 'name', 'base', 'quantity', 1, 'unitPriceCents', 100)))
              WHEN g % 3 = 0 THEN jsonb_build_object('sku', 'S-' || ((g * 7) % 50))
              ELSE jsonb_build_object('item', jsonb_build_object('sku', 'S-' || (g % 50), 'name', 'bulk', 'quantity', 1, 'unitPriceCents', 10)) END,
         jsonb_build_object('eventId', gen_random_uuid(), 'commandId', 'bulk', 'correlationId', 'bulk', 'causationId', 'bulk', 'userId', $2::text)
       FROM generate_series(1, 9999) AS g`,
      [orderId, dave.userId],
    );
    // The 10,000th through a command, which crosses a multiple of SNAPSHOT_EVERY and so writes the snapshot.
    await commands.addOrderItem(orderId, item('BASE'), as(dave));
  });

  it('snapshots the stream when its version crosses a multiple of SNAPSHOT_EVERY', async () => {
    expect(every).toBe(100);
    expect(await store.readSnapshot(orderId)).toMatchObject({ version: 10_000, schemaVersion: snapshotSchemaVersion });
  });

  it('loads through the snapshot, never replaying more than SNAPSHOT_EVERY events, and as fast as it should', async () => {
    const counted = countingReads(store);
    const busy = handlers(counted.store);
    let most = 0;
    for (let i = 0; i < 150; i++) {
      counted.rows.read = 0;
      await busy.addOrderItem(orderId, item('BASE'), as(dave));
      most = Math.max(most, counted.rows.read);
    }
    expect(most).toBeLessThanOrEqual(every);
    expect(await store.readSnapshot(orderId)).toMatchObject({ version: 10_100 });

    counted.rows.read = 0;
    const fromSnapshot = await timed(() => loadOrder(counted.store, orderId));
    expect(fromSnapshot.value.version).toBe(10_150);
    expect(counted.rows.read).toBe(50);

    counted.rows.read = 0;
    const replayed = await timed(() => loadOrder(counted.store, orderId, { useSnapshot: false }));
    expect(counted.rows.read).toBe(10_150);
    expect(replayed.value).toEqual(fromSnapshot.value);
    console.info(`10,150-event stream: load ${fromSnapshot.ms.toFixed(1)} ms through its snapshot, ${replayed.ms.toFixed(1)} ms replaying every event`);
    expect(fromSnapshot.ms).toBeLessThan(replayed.ms);
  });

  it('gives the same state, and the same next command, with every snapshot deleted', async () => {
    const withSnapshot = await loadOrder(store, orderId);

    await sql.query('DELETE FROM snapshots');

    expect(await loadOrder(store, orderId)).toEqual(withSnapshot);
    expect(withSnapshot.state).toMatchObject({ currency: 'EUR', status: 'CREATED' });
    const next = await commands.removeOrderItem(orderId, withSnapshot.state!.items.at(-1)!.sku, as(dave));
    expect(next.version).toBe(withSnapshot.version + 1);
  });
});

describe('when a command fails', () => {
  let erin: Caller;
  let orderId: string;

  beforeAll(async () => {
    erin = customer();
    ({ orderId } = await commands.createOrder({ items: [item('BASE')] }, as(erin)));
  });

  it.each([
    ['invalid input', ValidationError, () => commands.addOrderItem(orderId, item('BAD', 0), as(erin, { idempotencyKey: randomUUID() }))],
    ['an invalid state', InvalidStateError, () => commands.payOrder(orderId, 'pay-1', as(erin, { idempotencyKey: randomUUID() }))],
    ['an existing order id', ConflictError, () => commands.createOrder({ orderId, items: [item('A')] }, as(erin, { idempotencyKey: randomUUID() }))],
    ['a stale expectedVersion', ConflictError, () => commands.addOrderItem(orderId, item('B'), as(erin, { expectedVersion: 7, idempotencyKey: randomUUID() }))],
  ])('for %s, it leaves no event, outbox row or idempotency record', async (_, type, run) => {
    const before = { events: await count('events'), outbox: await count('outbox'), keys: await count('idempotency_records') };

    await expect(run()).rejects.toBeInstanceOf(type);

    expect({ events: await count('events'), outbox: await count('outbox'), keys: await count('idempotency_records') }).toEqual(before);
  });
});

describe('when createOrder names a new order', () => {
  it('appends without reading the stream: expected version 0 is the check', async () => {
    const reads: string[] = [];
    const watched = new Proxy(store as EventStore, {
      get(target, property) {
        const value = Reflect.get(target, property) as unknown;
        if (typeof value !== 'function') return value;
        if (property === 'readStream' || property === 'readSnapshot') reads.push(property);
        return value.bind(target);
      },
    });

    const created = await handlers(watched).createOrder({ items: [item('NEW')] }, as(customer()));

    expect(created.version).toBe(1);
    expect(reads).toEqual([]);
    expect(await store.readStream(created.orderId)).toHaveLength(1);
  });
});

describe('when createOrder names an order that exists', () => {
  let henry: Caller;
  let orderId: string;

  beforeAll(async () => {
    henry = customer();
    ({ orderId } = await commands.createOrder({ items: [item('BASE')] }, as(henry)));
  });

  it('answers as a load would: CONFLICT before any check of the input, and no retry counted', async () => {
    const retries = await counterValue(metrics.commandRetries, { command: 'CreateOrder' });

    await expect(commands.createOrder({ orderId, items: [item('BAD', 0)] }, as(henry))).rejects.toBeInstanceOf(ConflictError);
    await expect(commands.createOrder({ orderId, items: [item('OK')] }, as(henry))).rejects.toThrow(`order ${orderId} already exists`);
    await expect(commands.createOrder({ orderId, items: [item('OK')] }, as(henry, { expectedVersion: 0 }))).rejects.toMatchObject({
      code: 'CONFLICT',
      details: { version: 1 },
    });

    expect(await counterValue(metrics.commandRetries, { command: 'CreateOrder' })).toBe(retries);
    expect(await store.readStream(orderId)).toHaveLength(1);
  });
});

describe('when an OrderCreated was stored in schema version 1, before orders had a currency', () => {
  it('reads it through the upcaster as USD, and the next command works', async () => {
    const frank = customer();
    const orderId = randomUUID();
    const data = { orderId, userId: frank.userId, items: [item('OLD')] };
    const metadata = { eventId: randomUUID(), commandId: 'legacy', correlationId: 'legacy', causationId: 'legacy', userId: frank.userId };
    await sql.query(
      `INSERT INTO events (event_id, stream_id, version, type, schema_version, data, metadata)
       VALUES ($1, $2, 1, 'OrderCreated', 1, $3, $4)`,
      [metadata.eventId, orderId, data, metadata],
    );

    expect((await loadOrder(store, orderId)).state).toMatchObject({ currency: 'USD', items: [item('OLD')] });
    const next = await commands.addOrderItem(orderId, item('NEW'), as(frank));

    expect(next.version).toBe(2);
    expect((await loadOrder(store, orderId)).state).toMatchObject({ currency: 'USD', items: [item('OLD'), item('NEW')] });
  });
});

describe('when commands run', () => {
  it('records their duration by outcome, retries and appended events', async () => {
    const grace = customer();
    const sample = async () => ({
      ok: await histogramCount('CreateOrder', 'ok'),
      conflict: await histogramCount('CreateOrder', 'CONFLICT'),
      created: await counterValue(metrics.eventsAppended, { type: 'OrderCreated' }),
    });
    const before = await sample();

    const { orderId } = await commands.createOrder({ items: [item('M')] }, as(grace));
    await expect(commands.createOrder({ orderId, items: [item('M')] }, as(grace))).rejects.toBeInstanceOf(ConflictError);

    expect(await sample()).toEqual({ ok: before.ok + 1, conflict: before.conflict + 1, created: before.created + 1 });
    // The 50 additions spread over 5 instances above lost races between instances and were decided again.
    expect(await counterValue(metrics.commandRetries, { command: 'AddOrderItem' })).toBeGreaterThan(0);
  });
});

async function histogramCount(command: string, outcome: string): Promise<number> {
  const { values } = await metrics.commandDuration.get();
  return values.find((v) => v.metricName === 'orders_command_duration_seconds_count' && v.labels.command === command && v.labels.outcome === outcome)?.value ?? 0;
}

async function counterValue(counter: { get(): Promise<{ values: { labels: object; value: number }[] }> }, labels: Record<string, string>): Promise<number> {
  const { values } = await counter.get();
  return values.find((v) => Object.entries(labels).every(([k, l]) => (v.labels as Record<string, unknown>)[k] === l))?.value ?? 0;
}

async function timed<T>(run: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await run();
  return { value, ms: performance.now() - started };
}
