import { randomUUID } from 'node:crypto';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentSchemaVersion } from '../../src/domain/order/index.js';
import { createEventStore } from '../../src/infrastructure/postgres/eventStore.js';
import type { NewEvent } from '../../src/ports.js';
import { uniqueName } from '../services.js';
import { collect, createOrderMutation, gql, type IsolatedServices, isolatedServices, jwtSecret, orderQuery, orderUpdatedSubscription, type StartedServer, startServer, tokenFor, wsClient } from './harness.js';

// Issue 18's holes, each closed against a started server on the real Postgres, NATS and Redis: what a
// customer with a valid token, inside the rate limit, could do to other customers or to the service.

const codes = (answer: { errors?: { extensions?: { code?: string } }[] }) => (answer.errors ?? []).map((error) => error.extensions?.code);
const item = (sku: string, name = 'Hardened') => ({ sku, name, quantity: 1, unitPriceCents: 100 });
const mib = (bytes: number) => Math.round(bytes / 1024 / 1024);

/** The server's resident memory, from its own /metrics. */
async function residentBytes(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^process_resident_memory_bytes (\d+)/m.exec(text)![1]);
}

async function counter(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)`, 'gm'))].reduce((sum, match) => sum + Number(match[1]), 0);
}

/**
 * A subscription over SSE whose response is never read: the client's socket buffer fills, then the
 * server's, as with a client that stopped reading. Resolves once the server sent the headers.
 */
function unreadSse(url: string, token: string, query: string, variables: Record<string, unknown>): Promise<{ response: IncomingMessage; readToEnd(): Promise<number>; close(): void }> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ query, variables });
    const req = httpRequest(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}`, 'content-length': Buffer.byteLength(body) },
    });
    req.on('response', (response) => {
      response.pause();
      // A paused socket notices the server's close only once it reads again: readToEnd resumes it and
      // answers how many bytes had been sent when the connection ended.
      const readToEnd = () =>
        new Promise<number>((done) => {
          let bytes = 0;
          response.on('data', (chunk: Buffer) => (bytes += chunk.length));
          response.once('close', () => done(bytes));
          response.once('error', () => done(bytes));
          response.resume();
        });
      resolve({ response, readToEnd, close: () => req.destroy() });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** An SSE subscription read to its first event (or error), then left open. */
async function sseFirst(url: string, token: string, query: string, variables: Record<string, unknown>): Promise<{ first: any; close(): void }> {
  const controller = new AbortController();
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
    signal: controller.signal,
  });
  const reader = response.body!.getReader();
  let text = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
    const data = /^data: (.+)$/m.exec(text);
    if (data) return { first: JSON.parse(data[1]!), close: () => controller.abort() };
  }
  throw new Error(`SSE ended without an event: ${text}`);
}

describe('given the service on the real Postgres, NATS and Redis, with low subscription limits', () => {
  let services: IsolatedServices;
  let server: StartedServer;
  let replica: StartedServer;

  beforeAll(async () => {
    services = await isolatedServices('hard');
    [server, replica] = await Promise.all([
      startServer({ ...services.env, OUTBOX_POLL_MS: '200', RATE_LIMIT_PER_MINUTE: '100000', MAX_SUBSCRIPTIONS_PER_CALLER: '4', SUBSCRIPTION_STALL_MS: '1500', WS_MAX_SUBSCRIPTIONS: '20' }),
      // A second query replica on the same Redis: the subscription cap counts both.
      startServer({ ...services.env, ROLE: 'query', RATE_LIMIT_PER_MINUTE: '40', MAX_SUBSCRIPTIONS_PER_CALLER: '4', SUBSCRIPTION_STALL_MS: '1500' }),
    ]);
  });

  afterAll(async () => {
    await Promise.all([server, replica].map((started) => started?.stop()));
    await services?.cleanup();
  });

  async function createOrder(token: string, input: Record<string, unknown>) {
    const created = await gql(server.url, createOrderMutation, { input }, token);
    if (created.errors) return created;
    const { orderId, version } = created.data.createOrder;
    const read = await gql(server.url, orderQuery, { id: orderId, minVersion: version, timeoutMs: 10_000 }, token);
    expect(read.data?.order?.id).toBe(orderId);
    return created;
  }

  describe('when a customer picks an order id that is not 1-64 of A-Z a-z 0-9 _ -', () => {
    it.each(['poison id', '', 'a.b', 'orders.>', 'x'.repeat(65), 'caf\u00e9', 'tab\tid', 'alice:status:CREATED'])('refuses %j with BAD_USER_INPUT and appends nothing', async (orderId) => {
      const token = await tokenFor(uniqueName('picker'));
      const answer = await gql(server.url, createOrderMutation, { input: { orderId, items: [item('ID-1')] } }, token);
      expect(codes(answer)).toEqual(['BAD_USER_INPUT']);
    });

    it('accepts one that follows the rule, and the pipeline still carries everyone\'s orders', async () => {
      const token = await tokenFor(uniqueName('picker'));
      const orderId = `Valid_${randomUUID().slice(0, 8)}-x`;
      const created = await createOrder(token, { orderId, items: [item('ID-2')] });
      expect(created.data.createOrder.orderId).toBe(orderId);
    });
  });

  describe("when a token's sub spells another user's storage key", () => {
    it('lists none of the other user\'s orders, and its own orders stay out of the other user\'s lists', async () => {
      const alice = uniqueName('alice');
      const aliceToken = await tokenFor(alice);
      const aliceOrder = (await createOrder(aliceToken, { items: [item('ALICE-1', 'private')] })).data.createOrder.orderId;
      const intruders = [`${alice}:status:CREATED`, `${alice}*`, `{${alice}}`, `${alice}}`, `${alice}:status:CREATED:x`];
      for (const sub of intruders) {
        const token = await tokenFor(sub);
        const own = (await createOrder(token, { items: [item('MINE-1')] })).data.createOrder.orderId;
        for (const status of [null, 'CREATED']) {
          const listed = await gql(server.url, 'query($s: OrderStatus) { orders(status: $s, first: 100) { totalCount edges { node { id userId } } } }', { s: status }, token);
          expect(listed.errors).toBeUndefined();
          expect(listed.data.orders.edges.map((edge: any) => edge.node.id)).toEqual([own]);
          expect(listed.data.orders.totalCount).toBe(1);
        }
        const alices = await gql(server.url, 'query { orders(status: CREATED, first: 100) { edges { node { id } } } }', {}, aliceToken);
        expect(alices.data.orders.edges.map((edge: any) => edge.node.id)).toEqual([aliceOrder]);
      }
    });
  });

  describe('when a string is not well-formed Unicode (a lone surrogate)', () => {
    it('refuses it with BAD_USER_INPUT in an item name, a variable or a literal, and in a token subject with UNAUTHENTICATED', async () => {
      const token = await tokenFor(uniqueName('surrogate'));
      const asVariable = await gql(server.url, createOrderMutation, { input: { items: [item('LONE-1', 'bad \ud800 name')] } }, token);
      expect(codes(asVariable)).toEqual(['BAD_USER_INPUT']);
      const asKey = await gql(server.url, createOrderMutation, { input: { items: [item('LONE-2')] }, key: '\udc00' }, token);
      expect(codes(asKey)).toEqual(['BAD_USER_INPUT']);
      const literal = await gql(server.url, 'mutation { createOrder(input: { items: [{ sku: "L-3", name: "x\\ud800", quantity: 1, unitPriceCents: 1 }] }) { orderId } }', {}, token);
      expect(codes(literal)).toEqual(['BAD_USER_INPUT']);
      const badSub = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('mallory\ud800').setExpirationTime('1h').sign(new TextEncoder().encode(jwtSecret));
      expect(codes(await gql(server.url, createOrderMutation, { input: { items: [item('LONE-4')] } }, badSub))).toEqual(['UNAUTHENTICATED']);
      // A paired surrogate (an emoji) is well-formed and welcome.
      expect((await gql(server.url, createOrderMutation, { input: { items: [item('LONE-5', 'gift \ud83c\udf81')] } }, token)).errors).toBeUndefined();
    });
  });

  describe('when a token has no exp', () => {
    it('refuses it with UNAUTHENTICATED', async () => {
      const forever = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('forever').sign(new TextEncoder().encode(jwtSecret));
      const answer = await gql(server.url, '{ orders { totalCount } }', {}, forever);
      expect(codes(answer)).toEqual(['UNAUTHENTICATED']);
      expect(answer.errors![0]!.message).toMatch(/exp/);
    });
  });

  describe('when one caller opens more than MAX_SUBSCRIPTIONS_PER_CALLER subscriptions over WebSocket and SSE, on two replicas', () => {
    it('refuses the one past the cap with RATE_LIMITED, and admits one again after another ends', async () => {
      const token = await tokenFor(uniqueName('hoarder'));
      const ws = wsClient(server.url, token);
      const open: { first: any; close(): void }[] = [];
      try {
        const first = collect(ws, 'subscription { myOrdersUpdated { version } }', {});
        const second = collect(ws, 'subscription { myOrdersUpdated { version } }', {});
        // A positive signal that both are open: an order of the caller reaches both.
        await createOrder(token, { items: [item('SUB-1')] });
        await Promise.all([first.next(1), second.next(1)]);
        open.push(await sseFirst(server.url, token, orderUpdatedSubscription, { id: (await gql(server.url, '{ orders { edges { node { id } } } }', {}, token)).data.orders.edges[0].node.id }));
        expect(open[0]!.first.data.orderUpdated.eventType).toBe('Snapshot');
        open.push(await sseFirst(replica.url, token, 'subscription { myOrdersUpdated { version } }', {}));

        const refusedSse = await sseFirst(replica.url, token, 'subscription { myOrdersUpdated { version } }', {});
        expect(codes(refusedSse.first)).toEqual(['RATE_LIMITED']);
        expect(refusedSse.first.errors[0].extensions.limit).toBe('MAX_SUBSCRIPTIONS_PER_CALLER');
        const refusedWs = collect(ws, 'subscription { myOrdersUpdated { version } }', {});
        expect(codes((await refusedWs.next(1))[0]!)).toEqual(['RATE_LIMITED']);

        // Ending one gives its slot back (after the server has seen the end).
        first.unsubscribe();
        await expect
          .poll(async () => {
            const again = await sseFirst(replica.url, token, 'subscription { myOrdersUpdated { version } }', {});
            again.close();
            return codes(again.first);
          }, { timeout: 10_000, interval: 200 })
          .toEqual([]);
      } finally {
        for (const subscription of open) subscription.close();
        await ws.dispose();
      }
    });
  });

  describe('when a customer replays a long order from version 0 many times over SSE and reads nothing', () => {
    let orderId: string;
    let token: string;

    beforeAll(async () => {
      const userId = uniqueName('replayer');
      token = await tokenFor(userId);
      // 100 lines of 200-character names, then 1,100 more events (a line removed and added again,
      // over and over): each version of the document is about 30 kB, the whole replay over 30 MB.
      const lines = Array.from({ length: 100 }, (_, i) => item(`R-${i}`, `${i}`.padEnd(200, 'x')));
      orderId = (await createOrder(token, { items: lines })).data.createOrder.orderId;
      const store = createEventStore({ url: services.database.url });
      try {
        const events: NewEvent[] = Array.from({ length: 1100 }, (_, i) => {
          const type = i % 2 === 0 ? 'OrderItemRemoved' : 'OrderItemAdded';
          return {
            type,
            schemaVersion: currentSchemaVersion[type],
            data: i % 2 === 0 ? { sku: 'R-0' } : { item: lines[0] },
            metadata: { eventId: randomUUID(), commandId: randomUUID(), correlationId: randomUUID(), causationId: randomUUID(), userId },
          };
        });
        await store.append(orderId, 1, events);
      } finally {
        await store.close();
      }
      const read = await gql(server.url, orderQuery, { id: orderId, minVersion: 1101, timeoutMs: 20_000 }, token);
      expect(read.data.order.version).toBe(1101);
    });

    it('holds each replay to a page at a time: memory stays bounded, other callers are served, and stalled readers are dropped', async () => {
      const dropped = await counter(server.url, 'orders_dropped_subscribers_total');
      const before = await residentBytes(server.url);
      const replayWhole = 'subscription($id: ID!, $sinceVersion: Int) { orderUpdated(id: $id, sinceVersion: $sinceVersion) { version order { items { sku name quantity unitPriceCents lineTotalCents } } } }';
      const readers = await Promise.all(Array.from({ length: 4 }, () => unreadSse(server.url, token, replayWhole, { id: orderId, sinceVersion: 0 })));
      try {
        // Another customer is served while the replays are open.
        const other = await tokenFor(uniqueName('bystander'));
        expect((await gql(server.url, '{ orders { totalCount } }', {}, other)).data.orders.totalCount).toBe(0);
        // Every reader stalls (its buffers full) and the server drops it after SUBSCRIPTION_STALL_MS.
        await expect.poll(() => counter(server.url, 'orders_dropped_subscribers_total'), { timeout: 30_000, interval: 250 }).toBeGreaterThanOrEqual(dropped + readers.length);
        const after = await residentBytes(server.url);
        // The connections ended long before the whole replay (over 30 MB each) was sent.
        const sent = await Promise.all(readers.map((reader) => reader.readToEnd()));
        console.log(`replays: resident ${mib(before)} → ${mib(after)} MiB with ${readers.length} unread replays; sent before the drop: ${sent.map(mib).join(', ')} MiB`);
        for (const bytes of sent) expect(bytes).toBeLessThan(20 * 1024 * 1024);
        // Four whole replays built in memory were over 120 MB; page by page they are a few buffers each.
        expect(mib(after - before), `resident ${mib(before)} → ${mib(after)} MiB`).toBeLessThan(60);
      } finally {
        for (const reader of readers) reader.close();
      }
    });

    it('still gives a reading client every version, in order', async () => {
      const ws = wsClient(server.url, token);
      try {
        const updates = collect(ws, 'subscription($id: ID!, $since: Int) { orderUpdated(id: $id, sinceVersion: $since) { version previousVersion } }', { id: orderId, since: 1090 });
        const messages = await updates.next(11, 20_000);
        expect(messages.map((message) => message.data.orderUpdated.version)).toEqual(Array.from({ length: 11 }, (_, i) => 1091 + i));
        expect(messages[0]!.data.orderUpdated.previousVersion).toBe(1090);
      } finally {
        await ws.dispose();
      }
    });
  });

  describe('when GraphiQL is opened again and again', () => {
    it('serves one cached page with a CSP and frame protection, without growing memory per request', async () => {
      const first = await fetch(`${server.url}/graphql`, { headers: { accept: 'text/html' } });
      expect(first.status).toBe(200);
      expect(first.headers.get('content-security-policy')).toMatch(/frame-ancestors 'none'/);
      expect(first.headers.get('content-security-policy')).toMatch(/script-src 'sha256-/);
      expect(first.headers.get('x-frame-options')).toBe('DENY');
      expect(first.headers.get('x-content-type-options')).toBe('nosniff');
      const page = await first.text();
      const before = await residentBytes(server.url);
      const pages = await Promise.all(Array.from({ length: 30 }, () => fetch(`${server.url}/graphql`, { headers: { accept: 'text/html' } }).then((response) => response.text())));
      expect(pages.every((text) => text === page)).toBe(true);
      const after = await residentBytes(server.url);
      console.log(`GraphiQL: resident ${mib(before)} → ${mib(after)} MiB after 30 pages`);
      // Rendered per request, 30 pages of 9 MB took over 500 MB.
      expect(mib(after - before), `resident ${mib(before)} → ${mib(after)} MiB`).toBeLessThan(150);
    });

    it('rate-limits it like any operation', async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 45; i++) {
        const response = await fetch(`${replica.url}/graphql`, { method: 'GET', headers: { accept: 'text/html' } });
        await response.arrayBuffer();
        statuses.push(response.status);
        if (response.status === 429) {
          expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
          break;
        }
      }
      expect(statuses.at(-1)).toBe(429);
      expect(statuses.filter((status) => status === 200).length).toBeLessThanOrEqual(40);
    });
  });
});
