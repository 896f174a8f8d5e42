import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEventStore } from '../../src/infrastructure/postgres/open.js';
import type { EventStore } from '../../src/ports.js';
import { gql, type IsolatedServices, isolatedServices, type StartedServer, startServer, tokenFor } from './harness.js';

const historyQuery = /* GraphQL */ `
  query History($id: ID!, $first: Int, $after: String) {
    orderHistory(id: $id, first: $first, after: $after) {
      edges { cursor node { position version type committedAt data commandId correlationId causationId userId } }
      pageInfo { hasNextPage endCursor }
    }
  }
`;
const atVersionQuery = /* GraphQL */ `
  query At($id: ID!, $atVersion: Int, $minVersion: Int) {
    order(id: $id, atVersion: $atVersion, minVersion: $minVersion) {
      id userId status currency totalCents version createdAt updatedAt
      items { sku quantity lineTotalCents }
      freshness { version eventAt projectedAt }
    }
  }
`;

const item = (sku: string, quantity = 1) => ({ sku, name: `Item ${sku}`, quantity, unitPriceCents: 100 });

async function send(url: string, token: string, query: string, variables: Record<string, unknown>, correlationId?: string) {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...(correlationId ? { 'x-correlation-id': correlationId } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: any; errors?: { extensions?: { code?: string } }[] };
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

describe('given an order with five versions, snapshots every 2 versions, on a started server', () => {
  let services: IsolatedServices;
  let server: StartedServer;
  let store: EventStore;
  let owner: string;
  let admin: string;
  let stranger: string;
  let orderId: string;
  const commandIds: string[] = [];

  beforeAll(async () => {
    services = await isolatedServices('history');
    server = await startServer({ ...services.env, OUTBOX_POLL_MS: '200', SNAPSHOT_EVERY: '2' });
    store = await openEventStore({ url: services.database.url }, { migrate: false, log: pino({ level: 'silent' }) });
    [owner, admin, stranger] = await Promise.all([tokenFor('history-owner'), tokenFor('history-admin', true), tokenFor('history-stranger')]);
    const created = await send(server.url, owner, `mutation($input: CreateOrderInput!) { createOrder(input: $input) { orderId commandId } }`, { input: { items: [item('A')] } }, 'corr-history-1');
    orderId = created.createOrder.orderId;
    commandIds.push(created.createOrder.commandId);
    const add = `mutation($id: ID!, $item: OrderItemInput!) { addOrderItem(orderId: $id, item: $item) { commandId } }`;
    commandIds.push((await send(server.url, owner, add, { id: orderId, item: item('B', 2) })).addOrderItem.commandId);
    commandIds.push((await send(server.url, owner, add, { id: orderId, item: item('A', 3) })).addOrderItem.commandId);
    commandIds.push((await send(server.url, owner, `mutation($id: ID!) { confirmOrder(orderId: $id) { commandId } }`, { id: orderId })).confirmOrder.commandId);
    // An admin acts on the customer's order: the event's userId is the admin's, the owner stays.
    commandIds.push((await send(server.url, admin, `mutation($id: ID!) { cancelOrder(orderId: $id, reason: "test") { commandId } }`, { id: orderId })).cancelOrder.commandId);
  }, 90_000);

  afterAll(async () => {
    await store?.close();
    await server?.stop();
    await services?.cleanup();
  });

  describe('when the owner reads the history', () => {
    it('lists every event in version order with its metadata and data', async () => {
      const { orderHistory } = await send(server.url, owner, historyQuery, { id: orderId });
      const nodes = orderHistory.edges.map((edge: any) => edge.node);
      expect(nodes.map((node: any) => [node.version, node.type])).toEqual([
        [1, 'OrderCreated'],
        [2, 'OrderItemAdded'],
        [3, 'OrderItemAdded'],
        [4, 'OrderConfirmed'],
        [5, 'OrderCancelled'],
      ]);
      expect(nodes.map((node: any) => node.commandId)).toEqual(commandIds);
      expect(nodes.map((node: any) => node.causationId)).toEqual(commandIds);
      expect(nodes.map((node: any) => node.userId)).toEqual(['history-owner', 'history-owner', 'history-owner', 'history-owner', 'history-admin']);
      expect(nodes[0].correlationId).toBe('corr-history-1');
      expect(nodes[0].data).toEqual({ orderId, userId: 'history-owner', currency: 'USD', items: [item('A')] });
      expect(nodes[1].data).toEqual({ item: item('B', 2) });
      expect(nodes[4].data).toEqual({ reason: 'test' });
      const positions = nodes.map((node: any) => BigInt(node.position));
      expect([...positions].sort((a, b) => (a < b ? -1 : 1))).toEqual(positions);
      expect(orderHistory.pageInfo).toEqual({ hasNextPage: false, endCursor: orderHistory.edges[4].cursor });
    });

    it('pages with first and after', async () => {
      const first = (await send(server.url, owner, historyQuery, { id: orderId, first: 2 })).orderHistory;
      expect(first.edges.map((edge: any) => edge.node.version)).toEqual([1, 2]);
      expect(first.pageInfo.hasNextPage).toBe(true);
      const second = (await send(server.url, owner, historyQuery, { id: orderId, first: 2, after: first.pageInfo.endCursor })).orderHistory;
      expect(second.edges.map((edge: any) => edge.node.version)).toEqual([3, 4]);
      const last = (await send(server.url, owner, historyQuery, { id: orderId, first: 2, after: second.pageInfo.endCursor })).orderHistory;
      expect(last.edges.map((edge: any) => edge.node.version)).toEqual([5]);
      expect(last.pageInfo.hasNextPage).toBe(false);
    });

    it('refuses a first above 200 and a cursor it never gave out with BAD_USER_INPUT', async () => {
      for (const variables of [{ first: 201 }, { first: 0 }, { after: 'not-a-cursor' }]) {
        const response = await gql(server.url, historyQuery, { id: orderId, ...variables }, owner);
        expect(response.errors?.[0]?.extensions?.code, JSON.stringify(variables)).toBe('BAD_USER_INPUT');
      }
    });
  });

  describe('when an admin reads the history', () => {
    it('sees every event', async () => {
      const { orderHistory } = await send(server.url, admin, historyQuery, { id: orderId });
      expect(orderHistory.edges).toHaveLength(5);
    });
  });

  describe('when another customer asks, or anyone asks for an unknown id', () => {
    it('answers NOT_FOUND for both alike', async () => {
      const theirs = await gql(server.url, historyQuery, { id: orderId }, stranger);
      const unknown = await gql(server.url, historyQuery, { id: randomUUID() }, admin);
      expect(theirs.errors?.map((error) => error.extensions?.code)).toEqual(['NOT_FOUND']);
      expect(unknown.errors?.map((error) => error.extensions?.code)).toEqual(['NOT_FOUND']);
      expect(theirs.data).toBeNull();
    });
  });

  describe('when the order is read at each version', () => {
    it('answers the state right after that version, with that event as its freshness', async () => {
      const { orderHistory } = await send(server.url, owner, historyQuery, { id: orderId });
      const committed = orderHistory.edges.map((edge: any) => edge.node.committedAt);
      const expected = [
        { status: 'CREATED', items: [['A', 1]] },
        { status: 'CREATED', items: [['A', 1], ['B', 2]] },
        { status: 'CREATED', items: [['A', 4], ['B', 2]] },
        { status: 'CONFIRMED', items: [['A', 4], ['B', 2]] },
        { status: 'CANCELLED', items: [['A', 4], ['B', 2]] },
      ];
      for (const [index, { status, items }] of expected.entries()) {
        const version = index + 1;
        const before = Date.now();
        const { order } = await send(server.url, owner, atVersionQuery, { id: orderId, atVersion: version });
        expect(order, `v${version}`).toMatchObject({
          id: orderId,
          userId: 'history-owner',
          status,
          currency: 'USD',
          version,
          createdAt: committed[0],
          updatedAt: committed[index],
          totalCents: items.reduce((sum, [, quantity]) => sum + (quantity as number) * 100, 0),
          freshness: { version, eventAt: committed[index] },
        });
        expect(order.items.map((line: any) => [line.sku, line.quantity])).toEqual(items);
        expect(Date.parse(order.freshness.projectedAt)).toBeGreaterThanOrEqual(before - 1000);
      }
    });

    it('agrees with the projected read document at the current version', async () => {
      const current = (await send(server.url, owner, `query($id: ID!) { order(id: $id, minVersion: 5) { id userId status currency totalCents version createdAt updatedAt items { sku quantity lineTotalCents } } }`, { id: orderId })).order;
      const folded = (await send(server.url, owner, atVersionQuery, { id: orderId, atVersion: 5 })).order;
      const { freshness: _freshness, ...data } = folded;
      expect(data).toEqual(current);
    });

    it('answers NOT_FOUND past the current version, and BAD_USER_INPUT together with minVersion', async () => {
      const beyond = await gql(server.url, atVersionQuery, { id: orderId, atVersion: 6 }, owner);
      expect(beyond.errors?.map((error) => error.extensions?.code)).toEqual(['NOT_FOUND']);
      const both = await gql(server.url, atVersionQuery, { id: orderId, atVersion: 2, minVersion: 2 }, owner);
      expect(both.errors?.map((error) => error.extensions?.code)).toEqual(['BAD_USER_INPUT']);
      const zero = await gql(server.url, atVersionQuery, { id: orderId, atVersion: 0 }, owner);
      expect(zero.errors?.map((error) => error.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    });

    it("reads another customer's order and an unknown id as null, at any version", async () => {
      for (const atVersion of [1, 6]) {
        const theirs = await gql(server.url, atVersionQuery, { id: orderId, atVersion }, stranger);
        expect(theirs, `v${atVersion}`).toEqual({ data: { order: null } });
      }
      expect(await gql(server.url, atVersionQuery, { id: randomUUID(), atVersion: 1 }, owner)).toEqual({ data: { order: null } });
    });
  });

  describe('when an event was stored in an older shape (OrderCreated v1, before currency)', () => {
    it('shows it upcast in the history and in the folded order', async () => {
      const id = `legacy-${randomUUID()}`;
      const metadata = { eventId: randomUUID(), commandId: randomUUID(), correlationId: 'legacy', causationId: randomUUID(), userId: 'history-owner' };
      await store.append(id, 0, [{ type: 'OrderCreated', schemaVersion: 1, data: { orderId: id, userId: 'history-owner', items: [item('OLD')] }, metadata }]);
      const { orderHistory } = await send(server.url, owner, historyQuery, { id });
      expect(orderHistory.edges[0].node).toMatchObject({ type: 'OrderCreated', commandId: metadata.commandId, data: { orderId: id, currency: 'USD', items: [item('OLD')] } });
      const { order } = await send(server.url, owner, atVersionQuery, { id, atVersion: 1 });
      expect(order).toMatchObject({ id, currency: 'USD', status: 'CREATED', version: 1 });
    });
  });
});
