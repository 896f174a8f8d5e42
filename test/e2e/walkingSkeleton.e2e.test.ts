import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { urls } from '../services.js';
import {
  collect,
  createOrderMutation,
  gql,
  type IsolatedServices,
  isolatedServices,
  orderQuery,
  orderUpdatedSubscription,
  type StartedServer,
  startServer,
  tokenFor,
  wsClient,
} from './harness.js';

const addItem = /* GraphQL */ `
  mutation Add($id: ID!, $item: OrderItemInput!) { addOrderItem(orderId: $id, item: $item) { version events } }
`;
const items = [{ sku: 'BOOK-1', name: 'A book', quantity: 2, unitPriceCents: 1250 }];

/** The same journey in both modes: create over HTTP, read your write, watch it change over graphql-ws. */
async function journey(server: StartedServer) {
  const token = await tokenFor('alice');
  const created = await gql(server.url, createOrderMutation, { input: { items } }, token);
  expect(created.errors).toBeUndefined();
  const result = created.data.createOrder;
  expect(result).toMatchObject({ version: 1, events: ['OrderCreated'] });
  expect(BigInt(result.position)).toBeGreaterThan(0n);

  const read = await gql(server.url, orderQuery, { id: result.orderId, minVersion: result.version }, token);
  expect(read.errors).toBeUndefined();
  expect(read.data.order).toMatchObject({
    id: result.orderId,
    userId: 'alice',
    status: 'CREATED',
    currency: 'USD',
    totalCents: 2500,
    version: 1,
    items: [{ sku: 'BOOK-1', quantity: 2, lineTotalCents: 2500 }],
    freshness: { version: 1 },
  });
  expect(read.data.order.freshness.lagMs).toBeGreaterThanOrEqual(0);
  expect(read.data.order.freshness.ageMs).toBeGreaterThanOrEqual(0);

  const client = wsClient(server.url, token);
  try {
    const updates = collect(client, orderUpdatedSubscription, { id: result.orderId });
    const [snapshot] = await updates.next(1);
    expect(snapshot!.data.orderUpdated).toMatchObject({ eventType: 'Snapshot', version: 1, previousVersion: null });

    const added = await gql(server.url, addItem, { id: result.orderId, item: { sku: 'PEN-1', name: 'A pen', quantity: 1, unitPriceCents: 99 } }, token);
    expect(added.data.addOrderItem).toEqual({ version: 2, events: ['OrderItemAdded'] });
    const [, change] = await updates.next(2);
    expect(change!.data.orderUpdated).toMatchObject({
      eventType: 'OrderItemAdded',
      version: 2,
      previousVersion: 1,
      order: { status: 'CREATED', items: [{ sku: 'BOOK-1', quantity: 2 }, { sku: 'PEN-1', quantity: 1 }] },
    });
    expect(change!.data.orderUpdated.endToEndLagMs).toBeGreaterThanOrEqual(0);
    updates.unsubscribe();
  } finally {
    await client.dispose();
  }
  return result.orderId as string;
}

describe('given the real Postgres, NATS JetStream and Redis', () => {
  let services: IsolatedServices;
  let database: IsolatedServices['database'];
  let server: StartedServer;
  let stream: string;
  let subjectPrefix: string;
  let redisPrefix: string;

  beforeAll(async () => {
    services = await isolatedServices('e2e');
    ({ database, stream, subjectPrefix, redisPrefix } = services);
    server = await startServer(services.env);
  });

  afterAll(async () => {
    await server?.stop();
    await services?.cleanup();
  });

  describe('when a customer creates an order and reads it back', () => {
    it('travels through every component and reaches a live subscriber', async () => {
      const orderId = await journey(server);

      const db = new pg.Client({ connectionString: database.url });
      await db.connect();
      const rows = await db.query('SELECT stream_id, version, type FROM events WHERE stream_id = $1 ORDER BY version', [orderId]);
      const pending = await db.query('SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL');
      await db.end();
      expect(rows.rows).toEqual([
        { stream_id: orderId, version: 1, type: 'OrderCreated' },
        { stream_id: orderId, version: 2, type: 'OrderItemAdded' },
      ]);
      expect(pending.rows[0].n).toBe(0);

      const nc = await connect({ servers: urls.nats });
      const message = await (await jetstreamManager(nc)).streams.getMessage(stream, { last_by_subj: `${subjectPrefix}.${orderId}` });
      await nc.close();
      expect(message?.json<{ streamId: string; version: number }>()).toMatchObject({ streamId: orderId, version: 2 });

      const redis = new Redis(urls.redis);
      const keys = await redis.keys(`${redisPrefix}:*${orderId}*`);
      await redis.quit();
      expect(keys.length).toBeGreaterThan(0);
    });
  });

  describe('when the token is missing', () => {
    it('refuses the command with UNAUTHENTICATED', async () => {
      const response = await gql(server.url, createOrderMutation, { input: { items } });
      expect(response.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    });
  });
});

describe('given no DATABASE_URL, NATS_URL or REDIS_URL (embedded mode)', () => {
  let dataDir: string;
  let server: StartedServer;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'cqrs-embedded-'));
    server = await startServer({ DATA_DIR: dataDir });
  });

  afterAll(async () => {
    await server?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  describe('when a customer creates an order and reads it back', () => {
    it('runs the same flow on PGlite, the in-process bus and the in-memory store', async () => {
      await journey(server);
    });
  });

  describe('when GraphiQL is opened in a browser', () => {
    it('serves the GraphiQL page', async () => {
      const response = await fetch(`${server.url}/graphql`, { headers: { accept: 'text/html' } });
      expect(response.status).toBe(200);
      expect(await response.text()).toContain('graphiql');
    });
  });
});
