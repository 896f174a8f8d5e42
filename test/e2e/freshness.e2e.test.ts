import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { uniqueName, urls } from '../services.js';
import { collect, createOrderMutation, type GraphQLResponse, gql, type IsolatedServices, isolatedServices, orderQuery, type StartedServer, startServer, tokenFor, wsClient } from './harness.js';

const items = [{ sku: 'F-1', name: 'Fresh', quantity: 1, unitPriceCents: 500 }];
const addItem = /* GraphQL */ `
  mutation Add($id: ID!, $sku: String!) { addOrderItem(orderId: $id, item: { sku: $sku, name: "x", quantity: 1, unitPriceCents: 1 }) { version } }
`;
const updates = /* GraphQL */ `
  subscription Updates($id: ID!, $since: Int) {
    orderUpdated(id: $id, sinceVersion: $since) { eventType version previousVersion freshness { version eventAt } order { version items { sku } } }
  }
`;

describe('given the real services, a write instance A and a read-only instance B', () => {
  let services: IsolatedServices;
  let a: StartedServer;
  let b: StartedServer;
  let alice: string;
  let bob: string;

  const create = async (token: string, url = a.url) => {
    const response = await gql(url, createOrderMutation, { input: { items } }, token);
    expect(response.errors).toBeUndefined();
    return response.data.createOrder as { orderId: string; version: number };
  };
  const add = async (id: string, sku: string, token = alice) => {
    const response = await gql(a.url, addItem, { id, sku }, token);
    expect(response.errors).toBeUndefined();
    return response.data.addOrderItem.version as number;
  };

  beforeAll(async () => {
    services = await isolatedServices('fresh');
    const { env } = services;
    // The rate limit, counted across both in Redis, is lifted for the 2,000 readers that wait on B at once (below).
    const unlimited = { RATE_LIMIT_PER_MINUTE: '100000' };
    [a, b] = await Promise.all([startServer({ ...env, ROLE: 'command,relay,projector,query', ...unlimited }), startServer({ ...env, ROLE: 'query', ...unlimited })]);
    [alice, bob] = await Promise.all([tokenFor('alice'), tokenFor('bob')]);
  });

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await services?.cleanup();
  });

  describe('when a client writes and then reads with minVersion, again and again', () => {
    it('never sees a version older than its write', async () => {
      const { orderId } = await create(alice);
      for (let i = 0; i < 15; i++) {
        const version = await add(orderId, `S-${i}`);
        const read = await gql(b.url, orderQuery, { id: orderId, minVersion: version }, alice);
        expect(read.errors).toBeUndefined();
        expect(read.data.order.version).toBeGreaterThanOrEqual(version);
        expect(read.data.order.freshness.version).toBe(read.data.order.version);
      }
    });
  });

  describe('when a followed order reaches a final state', () => {
    /** Every message, and whether the server completed the subscription. */
    const follow = (token: string, id: string, since?: number) => {
      const client = wsClient(b.url, token);
      const messages: { eventType: string; version: number; previousVersion: number | null }[] = [];
      const completed = new Promise<void>((resolve, reject) =>
        client.subscribe(
          { query: updates, variables: { id, since } },
          { next: (message) => void messages.push((message.data as any).orderUpdated), error: reject, complete: resolve },
        ),
      );
      return { messages, completed, dispose: () => client.dispose() };
    };

    it('completes right after delivering it (CANCELLED)', async () => {
      const { orderId } = await create(alice);
      const followed = follow(alice, orderId);
      try {
        await expect.poll(() => followed.messages.length).toBe(1);
        const cancelled = await gql(a.url, 'mutation($id: ID!) { cancelOrder(orderId: $id, reason: "done") { version } }', { id: orderId }, alice);
        expect(cancelled.errors).toBeUndefined();
        await followed.completed;
        expect(followed.messages.map((m) => m.eventType)).toEqual(['Snapshot', 'OrderCancelled']);
      } finally {
        await followed.dispose();
      }
    });

    it('completes right after the Snapshot when the order was already final, and after the final version on a resume', async () => {
      const { orderId } = await create(alice);
      await gql(a.url, 'mutation($id: ID!) { cancelOrder(orderId: $id, reason: "done") { version } }', { id: orderId }, alice);
      await gql(b.url, orderQuery, { id: orderId, minVersion: 2 }, alice);
      const late = follow(alice, orderId);
      const resumed = follow(alice, orderId, 1);
      try {
        await Promise.all([late.completed, resumed.completed]);
        expect(late.messages.map((m) => [m.eventType, m.version])).toEqual([['Snapshot', 2]]);
        expect(resumed.messages.map((m) => [m.eventType, m.version, m.previousVersion])).toEqual([['OrderCancelled', 2, 1]]);
      } finally {
        await Promise.all([late.dispose(), resumed.dispose()]);
      }
    });
  });

  describe('when a subscriber on B disconnects, misses three versions and resubscribes with sinceVersion', () => {
    it('receives exactly those three, then live ones, each with previousVersion', async () => {
      const { orderId } = await create(alice);
      const first = wsClient(b.url, alice);
      const before = collect(first, updates, { id: orderId });
      const [snapshot] = await before.next(1);
      expect(snapshot!.data.orderUpdated).toMatchObject({ eventType: 'Snapshot', version: 1, previousVersion: null });
      await first.dispose();

      for (const sku of ['M-1', 'M-2', 'M-3']) await add(orderId, sku);
      await gql(b.url, orderQuery, { id: orderId, minVersion: 4 }, alice);

      const second = wsClient(b.url, alice);
      try {
        const resumed = collect(second, updates, { id: orderId, since: 1 });
        const missed = await resumed.next(3);
        expect(missed.map((m) => [m.data.orderUpdated.eventType, m.data.orderUpdated.version, m.data.orderUpdated.previousVersion])).toEqual([
          ['OrderItemAdded', 2, 1], // a resumed subscription starts from the version the client has
          ['OrderItemAdded', 3, 2],
          ['OrderItemAdded', 4, 3],
        ]);
        expect(missed[2]!.data.orderUpdated.order.items.map((item: { sku: string }) => item.sku)).toEqual(['F-1', 'M-1', 'M-2', 'M-3']);
        await add(orderId, 'L-1');
        const [, , , live] = await resumed.next(4);
        expect(live!.data.orderUpdated).toMatchObject({ eventType: 'OrderItemAdded', version: 5, previousVersion: 4, freshness: { version: 5 } });
      } finally {
        await second.dispose();
      }
    });
  });

  describe('when a change is projected by instance A', () => {
    it('reaches a subscriber connected to instance B', async () => {
      const { orderId } = await create(alice);
      const client = wsClient(b.url, alice);
      try {
        const stream = collect(client, updates, { id: orderId });
        await stream.next(1);
        await add(orderId, 'X-1');
        const [, change] = await stream.next(2);
        expect(change!.data.orderUpdated).toMatchObject({ version: 2, previousVersion: 1 });
      } finally {
        await client.dispose();
      }
    });
  });

  describe('when a customer subscribes to another customer’s order', () => {
    it('sends nothing, as for an unknown id, while its owner sees it change', async () => {
      const { orderId } = await create(alice);
      await gql(b.url, orderQuery, { id: orderId, minVersion: 1 }, alice);
      const client = wsClient(b.url, bob);
      const owner = wsClient(b.url, alice);
      try {
        const stream = collect(client, updates, { id: orderId });
        const watched = collect(owner, updates, { id: orderId });
        await watched.next(1);
        await add(orderId, 'O-1');
        await watched.next(2);
        expect(stream.messages).toEqual([]);
      } finally {
        await Promise.all([client.dispose(), owner.dispose()]);
      }
    });
  });

  describe('when a command is followed with commandStatus', () => {
    it('walks through ACCEPTED, APPENDED, PUBLISHED and PROJECTED, then completes', async () => {
      const { orderId } = await create(alice);
      const added = await gql(a.url, `mutation($id: ID!) { addOrderItem(orderId: $id, item: { sku: "R-1", name: "r", quantity: 1, unitPriceCents: 1 }) { commandId version } }`, { id: orderId }, alice);
      const { commandId, version } = added.data.addOrderItem;
      const client = wsClient(b.url, alice);
      try {
        const receipts = collect(client, `subscription($id: ID!) { commandStatus(commandId: $id) { commandId orderId version stage at } }`, { id: commandId });
        const stages = await receipts.next(4);
        expect(stages.map((m) => m.data.commandStatus.stage)).toEqual(['ACCEPTED', 'APPENDED', 'PUBLISHED', 'PROJECTED']);
        expect(stages.every((m) => m.data.commandStatus.orderId === orderId && m.data.commandStatus.version === version)).toBe(true);
        const times = stages.map((m) => Date.parse(m.data.commandStatus.at));
        expect([...times].sort((x, y) => x - y)).toEqual(times);
        await receipts.completed;
        expect(receipts.messages).toHaveLength(4);

        const other = wsClient(b.url, bob);
        const refused = collect(other, `subscription($id: ID!) { commandStatus(commandId: $id) { stage } }`, { id: commandId });
        const error = await refused.next(1).then(
          (messages) => messages[0]?.errors?.[0],
          (failure: unknown) => (Array.isArray(failure) ? failure[0] : failure),
        );
        expect(error?.extensions?.code).toBe('NOT_FOUND');
        await other.dispose();
      } finally {
        await client.dispose();
      }
    });
  });

  describe('when a customer lists orders and an admin reads statistics and projection status', () => {
    it('pages newest first with a cursor, filters by status, and counts exactly', async () => {
      const dave = await tokenFor('dave');
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await create(dave)).orderId);
      await gql(a.url, `mutation($id: ID!) { confirmOrder(orderId: $id) { version } }`, { id: ids[0] }, dave);
      await gql(b.url, orderQuery, { id: ids[0], minVersion: 2 }, dave);
      for (const id of ids) await gql(b.url, orderQuery, { id, minVersion: 1 }, dave);

      const page = `query($after: String, $status: OrderStatus) { orders(first: 2, after: $after, status: $status) { totalCount edges { cursor node { id status } } pageInfo { hasNextPage endCursor } } }`;
      const seen: string[] = [];
      let after: string | null = null;
      for (;;) {
        const response: GraphQLResponse = await gql(b.url, page, { after }, dave);
        expect(response.errors).toBeUndefined();
        const { edges, pageInfo, totalCount } = response.data.orders as { edges: { node: { id: string } }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null }; totalCount: number };
        expect(totalCount).toBe(5);
        seen.push(...edges.map((edge: { node: { id: string } }) => edge.node.id));
        if (!pageInfo.hasNextPage) break;
        after = pageInfo.endCursor;
      }
      expect(seen).toEqual([...ids].reverse());
      const confirmed = await gql(b.url, page, { status: 'CONFIRMED' }, dave);
      expect(confirmed.data.orders.edges.map((edge: { node: { id: string } }) => edge.node.id)).toEqual([ids[0]]);

      const forbidden = await gql(b.url, `{ orderStats { totalOrders } }`, {}, dave);
      expect(forbidden.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      const badCursor = await gql(b.url, page, { after: 'not-a-cursor' }, dave);
      expect(badCursor.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');

      const admin = await tokenFor('ops', true);
      const stats = await gql(b.url, `{ orderStats { totalOrders revenueCents byStatus { status count } freshness { version } } projectionStatus { name state position headPosition lagEvents lagMs deadLetters } }`, {}, admin);
      expect(stats.errors).toBeUndefined();
      const { totalOrders, byStatus } = stats.data.orderStats;
      expect(totalOrders).toBeGreaterThanOrEqual(5);
      expect(byStatus.reduce((sum: number, entry: { count: number }) => sum + entry.count, 0)).toBe(totalOrders);
      expect(stats.data.projectionStatus.map((p: { name: string }) => p.name).sort()).toEqual(['orderDetails', 'orderStats', 'userOrders']);
    });
  });

  describe('when a customer subscribes to all of their orders', () => {
    it('gets the current state of each, then changes of old and new orders', async () => {
      const erin = await tokenFor('erin');
      const { orderId: existing } = await create(erin);
      await gql(b.url, orderQuery, { id: existing, minVersion: 1 }, erin);
      const client = wsClient(b.url, erin);
      try {
        const stream = collect(client, `subscription { myOrdersUpdated { eventType version previousVersion order { id userId } } }`, {});
        const [snapshot] = await stream.next(1);
        expect(snapshot!.data.myOrdersUpdated).toMatchObject({ eventType: 'Snapshot', version: 1, order: { id: existing } });
        await add(existing, 'E-1', erin);
        const { orderId: fresh } = await create(erin);
        await create(alice);
        const [, change, created] = await stream.next(3);
        expect(change!.data.myOrdersUpdated).toMatchObject({ eventType: 'OrderItemAdded', version: 2, previousVersion: 1, order: { id: existing } });
        expect(created!.data.myOrdersUpdated).toMatchObject({ eventType: 'OrderCreated', version: 1, previousVersion: null, order: { id: fresh, userId: 'erin' } });
        // Alice's order came before this one of Erin's: it would have arrived by the time this one does.
        const { orderId: marker } = await create(erin);
        const [, , , next] = await stream.next(4);
        expect(next!.data.myOrdersUpdated).toMatchObject({ eventType: 'OrderCreated', order: { id: marker, userId: 'erin' } });
        expect(stream.messages).toHaveLength(4);
      } finally {
        await client.dispose();
      }
    });
  });

  describe('when an admin subscribes to projection status while orders flow', () => {
    it('pushes changes, never more than once a second; a customer is refused', async () => {
      const admin = await tokenFor('ops', true);
      const client = wsClient(b.url, admin);
      try {
        const stream = collect(client, `subscription { projectionStatus { name position } }`, {});
        await stream.next(1);
        const arrivals: number[] = [Date.now()];
        for (let i = 0; i < 3; i++) {
          await create(alice);
          await stream.next(arrivals.length + 1, 5000);
          arrivals.push(Date.now());
        }
        const gaps = arrivals.slice(1).map((at, i) => at - arrivals[i]!);
        // Unthrottled, each create would push within its own round trip (tens of ms). Throttled to one a
        // second, delivery jitter on a loaded machine can still bring two arrivals a few hundred ms closer.
        expect(Math.min(...gaps)).toBeGreaterThanOrEqual(500);
      } finally {
        await client.dispose();
      }
      const customer = wsClient(b.url, alice);
      const refused = collect(customer, `subscription { projectionStatus { name } }`, {});
      const error = await refused.next(1).then(
        (messages) => messages[0]?.errors?.[0],
        (failure: unknown) => (Array.isArray(failure) ? failure[0] : failure),
      );
      expect(error?.extensions?.code).toBe('FORBIDDEN');
      await customer.dispose();
    });
  });

  describe('when 2,000 readers on B wait at once for a version that is not projected yet', () => {
    it('waiting costs B almost no CPU, and the one change that brings the version answers every one of them', async () => {
      const { orderId } = await create(alice);
      const cpuSeconds = async () => {
        const fields = (await readFile(`/proc/${b.process.pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
        return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks of 10 ms
      };
      const waits = Array.from({ length: 2000 }, () =>
        fetch(`${b.url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${alice}` },
          body: JSON.stringify({ query: 'query($id: ID!) { order(id: $id, minVersion: 2, timeoutMs: 30000) { version } }', variables: { id: orderId } }),
        }).then((response) => response.json() as Promise<GraphQLResponse<{ order: { version: number } }>>),
      );
      // Accepting 2,000 requests takes CPU (seconds on a busy machine): wait until that is over (a quiet
      // half second), then measure two seconds of nothing but waiting, well before the timeout.
      const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
      for (let quiet = false, waited = 0; !quiet; waited += 500) {
        expect(waited, 'the server never went quiet').toBeLessThan(20_000);
        const start = await cpuSeconds();
        await sleep(500);
        quiet = (await cpuSeconds()) - start < 0.05;
      }
      const before = await cpuSeconds();
      await sleep(2000);
      const during = (await cpuSeconds()) - before;
      // A polling loop over 2,000 readers would keep a core busy; waiting on the change feed is idle.
      expect(during).toBeLessThan(0.2);
      // v2, projected by A, reaches B as one notice; every waiter answers with it (none timed out: STALE_READ
      // after timeoutMs is the test of the instance with no projector, below).
      await add(orderId, 'WAKE-ALL');
      const answers = await Promise.all(waits);
      const outcomes: Record<string, number> = {};
      for (const answer of answers) {
        const outcome = answer.errors?.[0]?.extensions?.code ?? `v${answer.data?.order.version}`;
        outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
      }
      expect(outcomes).toEqual({ v2: 2000 });
    });
  });

  describe('when the subscription runs over SSE', () => {
    it('streams the snapshot and then the next change', async () => {
      const { orderId } = await create(alice);
      await gql(b.url, orderQuery, { id: orderId, minVersion: 1 }, alice);
      const controller = new AbortController();
      const response = await fetch(`${b.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${alice}` },
        body: JSON.stringify({ query: updates, variables: { id: orderId } }),
        signal: controller.signal,
      });
      expect(response.headers.get('content-type')).toContain('text/event-stream');
      const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
      const events: any[] = [];
      let buffer = '';
      const readUntil = async (count: number) => {
        while (events.length < count) {
          const { value, done } = await reader.read();
          if (done) throw new Error('stream ended');
          buffer += value;
          for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
            const data = buffer.slice(0, end).split('\n').find((line) => line.startsWith('data:'));
            buffer = buffer.slice(end + 2);
            if (data && data.length > 5) events.push(JSON.parse(data.slice(5)));
          }
        }
      };
      await readUntil(1);
      expect(events[0].data.orderUpdated).toMatchObject({ eventType: 'Snapshot', version: 1 });
      await add(orderId, 'SSE-1');
      await readUntil(2);
      expect(events[1].data.orderUpdated).toMatchObject({ eventType: 'OrderItemAdded', version: 2, previousVersion: 1 });
      controller.abort();
    });
  });
});

describe('given an instance with no projector running', () => {
  let database: TestDatabase;
  let server: StartedServer;
  const redisPrefix = uniqueName('stale');

  beforeAll(async () => {
    database = await createTestDatabase();
    server = await startServer({ DATABASE_URL: database.url, REDIS_URL: urls.redis, REDIS_PREFIX: redisPrefix, ROLE: 'command,query', RATE_LIMIT_PER_MINUTE: '100000' });
  });

  afterAll(async () => {
    await server?.stop();
    await database?.drop();
  });

  describe('when a client waits for its write with minVersion', () => {
    it('answers STALE_READ after timeoutMs', async () => {
      const token = await tokenFor('carol');
      const { orderId, version } = await create(token);
      const started = Date.now();
      const read = await gql(server.url, orderQuery, { id: orderId, minVersion: version, timeoutMs: 300 }, token);
      expect(read.errors?.[0]?.extensions?.code).toBe('STALE_READ');
      expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    });
  });

  async function create(token: string) {
    const response = await gql(server.url, createOrderMutation, { input: { items } }, token);
    expect(response.errors).toBeUndefined();
    return response.data.createOrder as { orderId: string; version: number };
  }
});
