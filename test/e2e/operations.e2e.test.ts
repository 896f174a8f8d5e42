import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, createOrderMutation, gql, type IsolatedServices, isolatedServices, orderQuery, type StartedServer, startServer, tokenFor, wsClient } from './harness.js';

const items = [{ sku: 'OPS-1', name: 'Ops item', quantity: 1, unitPriceCents: 100 }];
// Nothing listens here: a role that tried to use this server would fail to start or be unready.
const nowhere = { DATABASE_URL: 'postgresql://postgres@127.0.0.1:1/none', NATS_URL: 'nats://127.0.0.1:1', REDIS_URL: 'redis://127.0.0.1:1' };

describe('given the real services and one database, stream and prefix for this file', () => {
  let services: IsolatedServices;
  let database: IsolatedServices['database'];
  let real: Record<string, string>;
  const started: StartedServer[] = [];
  const start = async (env: Record<string, string>) => {
    const server = await startServer(env);
    started.push(server);
    return server;
  };

  beforeAll(async () => {
    services = await isolatedServices('ops');
    database = services.database;
    real = { ...services.env, OUTBOX_POLL_MS: '200' };
  });

  afterAll(async () => {
    await Promise.all(started.map((server) => server.stop()));
    await services?.cleanup();
  });

  // Which servers each role uses; every other URL points nowhere and must not matter.
  const uses: Record<string, (keyof typeof nowhere)[]> = {
    command: ['DATABASE_URL'],
    relay: ['DATABASE_URL', 'NATS_URL'],
    projector: ['DATABASE_URL', 'NATS_URL', 'REDIS_URL'],
    query: ['REDIS_URL'],
  };

  describe.each(Object.entries(uses))('when the %s role starts alone', (role, needed) => {
    it('starts, is ready, and connects only to the servers it uses', async () => {
      const env = { ...real, ...nowhere, ROLE: role, ...Object.fromEntries(needed.map((key) => [key, real[key]!])) };
      const server = await start(env);
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      const ready = await fetch(`${server.url}/readyz`);
      expect(ready.status, await ready.clone().text()).toBe(200);
      await server.stop();
      expect(server.process.exitCode).toBe(0);
    });
  });

  describe('when a dependency of a role is down', () => {
    it('answers /readyz with 503 naming it', async () => {
      const server = await start({ ...real, ROLE: 'query', REDIS_URL: nowhere.REDIS_URL });
      const ready = await fetch(`${server.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ failing: { redis: expect.any(String) } });
      await server.stop();
    });
  });

  describe('when the roles run as separate processes, as the deployment splits them', () => {
    it('carries a command from the command process to a read on the query process', async () => {
      const command = await start({ ...real, ROLE: 'command' });
      const relay = await start({ ...real, ROLE: 'relay' });
      const projector = await start({ ...real, ROLE: 'projector' });
      const query = await start({ ...real, ROLE: 'query' });
      const token = await tokenFor('splitter');

      const created = await gql(command.url, createOrderMutation, { input: { items } }, token);
      expect(created.errors).toBeUndefined();
      const { orderId, version } = created.data.createOrder;
      const read = await gql(query.url, orderQuery, { id: orderId, minVersion: version, timeoutMs: 10_000 }, token);
      expect(read.errors).toBeUndefined();
      expect(read.data.order).toMatchObject({ id: orderId, version: 1, freshness: { version: 1 } });

      const misplaced = await gql(query.url, createOrderMutation, { input: { items } }, token);
      expect(misplaced.errors?.[0]).toMatchObject({ message: expect.stringMatching(/does not run the command role/), extensions: { code: 'ROLE_NOT_SERVED' } });
      // Later tests count what one process relays and projects: leave no other consumers running.
      await Promise.all([command, relay, projector, query].map((server) => server.stop()));
    });
  });

  describe('when a scenario has run, GET /metrics', () => {
    it('exposes commands, events, outbox, projector lag, dead letters, subscriptions and read waits with sensible values', async () => {
      const server = await start({ ...real, ROLE: 'all' });
      const token = await tokenFor('metered');
      const metric = async (name: string, labels: Record<string, string> = {}) => {
        const text = await (await fetch(`${server.url}/metrics`)).text();
        const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
        const line = text.split('\n').find((l) => l.startsWith(name) && (l[name.length] === ' ' || l[name.length] === '{') && wanted.every((w) => l.includes(w)));
        return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
      };

      const { orderId, version } = (await gql(server.url, createOrderMutation, { input: { items } }, token)).data.createOrder;
      const refused = await gql(server.url, `mutation($id: ID!) { payOrder(orderId: $id, paymentReference: "p") { version } }`, { id: orderId }, token);
      expect(refused.errors?.[0]?.extensions?.code).toBe('INVALID_STATE');
      expect((await gql(server.url, orderQuery, { id: orderId, minVersion: version }, token)).errors).toBeUndefined();

      const client = wsClient(server.url, token);
      const updates = collect(client, `subscription($id: ID!) { orderUpdated(id: $id) { version } }`, { id: orderId });
      await updates.next(1);
      expect(await metric('orders_active_subscriptions', { field: 'orderUpdated' })).toBe(1);
      await client.dispose();
      await expect.poll(() => metric('orders_active_subscriptions', { field: 'orderUpdated' })).toBe(0);

      expect(await metric('orders_command_duration_seconds_count', { command: 'CreateOrder', outcome: 'ok' })).toBe(1);
      expect(await metric('orders_command_duration_seconds_count', { command: 'PayOrder', outcome: 'INVALID_STATE' })).toBe(1);
      expect(await metric('orders_events_appended_total', { type: 'OrderCreated' })).toBe(1);
      await expect.poll(() => metric('orders_events_published_total'), { timeout: 10_000 }).toBeGreaterThanOrEqual(1);
      expect(await metric('orders_outbox_publish_duration_seconds_count')).toBeGreaterThanOrEqual(1);
      await expect.poll(() => metric('orders_outbox_backlog'), { timeout: 10_000 }).toBe(0);
      // Applied by the projector, or a duplicate when the first start's rebuild (an empty Redis) wrote it first.
      expect(await metric('orders_projector_events_total', { projection: 'orderDetails' })).toBeGreaterThanOrEqual(1);
      await expect.poll(() => metric('orders_projector_lag_events', { projection: 'orderDetails' }), { timeout: 10_000 }).toBe(0);
      await expect.poll(() => metric('orders_dead_letters', { consumer: 'projector-orderDetails' }), { timeout: 10_000 }).toBe(0);
      expect(await metric('orders_read_waits_total', { outcome: 'reached' })).toBe(1);
      expect(await metric('process_cpu_seconds_total')).toBeGreaterThan(0);
      await server.stop();
    });
  });

  describe('when SIGTERM arrives during a stream of commands', () => {
    it('loses none of the acknowledged commands, and every one is projected after a restart', async () => {
      // Deliveries on the wire when a consumer stops come back after the ack wait: keep it short here.
      const fast = { ...real, NATS_ACK_WAIT_MS: '5000' };
      const server = await start({ ...fast, ROLE: 'all' });
      const token = await tokenFor('sigterm');
      const acknowledged: { orderId: string; version: number }[] = [];
      let refused = 0;
      let stop = false;
      const client = async () => {
        while (!stop) {
          try {
            const response = await gql(server.url, createOrderMutation, { input: { items } }, token);
            if (response.data?.createOrder) acknowledged.push(response.data.createOrder);
            else refused++;
          } catch {
            refused++; // connection refused or reset once the server stops listening
            if (server.process.exitCode !== null) return;
          }
        }
      };
      const clients = Array.from({ length: 8 }, client);
      await expect.poll(() => acknowledged.length, { timeout: 30_000, interval: 50 }).toBeGreaterThanOrEqual(20);
      const exitCode = await server.stop('SIGTERM');
      stop = true;
      await Promise.all(clients);
      expect(exitCode).toBe(0);

      const db = new pg.Client({ connectionString: database.url });
      await db.connect();
      const stored = await db.query<{ stream_id: string }>("SELECT stream_id FROM events WHERE type = 'OrderCreated'");
      await db.end();
      const storedIds = new Set(stored.rows.map((row) => row.stream_id));
      expect(acknowledged.filter((ack) => !storedIds.has(ack.orderId))).toEqual([]);

      const restarted = await start({ ...fast, ROLE: 'all' });
      for (const ack of acknowledged) {
        const read = await gql(restarted.url, orderQuery, { id: ack.orderId, minVersion: ack.version, timeoutMs: 30_000 }, token);
        expect(read.errors, ack.orderId).toBeUndefined();
        expect(read.data.order.version).toBe(1);
      }
    });
  });
});
