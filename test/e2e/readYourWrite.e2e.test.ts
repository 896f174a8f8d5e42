import { ApolloClient, HttpLink, InMemoryCache } from '@apollo/client';
import { Client as UrqlClient, fetchExchange } from '@urql/core';
import { cacheExchange } from '@urql/exchange-graphcache';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfirmOrderAndReadDocument, CreateOrderAndReadDocument, OrderDocument } from '../../client/generated/graphql.js';
import { gql, type IsolatedServices, isolatedServices, type StartedServer, startServer, tokenFor } from './harness.js';

const items = [{ sku: 'RYW-1', name: 'Read your write', quantity: 2, unitPriceCents: 250 }];

const createAndRead = /* GraphQL */ `
  mutation Create($input: CreateOrderInput!, $timeoutMs: Int) {
    createOrder(input: $input) { orderId version order(timeoutMs: $timeoutMs) { id status version totalCents freshness { version } } }
  }
`;

/** A fetch that remembers the operation name of every request it sends. */
function countingFetch(sent: string[]): typeof fetch {
  return async (input, init) => {
    const body = typeof init?.body === 'string' ? (JSON.parse(init.body) as { operationName?: string; query?: string }) : {};
    sent.push(body.operationName ?? /(?:query|mutation)\s+(\w+)/.exec(body.query ?? '')?.[1] ?? '?');
    return fetch(input, init);
  };
}

/** Resolves with the first value `next` sees that satisfies `accept`. */
function firstMatching<T>(accept: (value: T) => boolean) {
  let resolve!: (value: T) => void;
  const found = new Promise<T>((r) => (resolve = r));
  return { found, next: (value: T) => accept(value) && resolve(value) };
}

describe('given a started server on the real services', () => {
  let services: IsolatedServices;
  let server: StartedServer;
  const others: StartedServer[] = [];
  let token: string;

  beforeAll(async () => {
    services = await isolatedServices('ryw');
    token = await tokenFor('ryw-customer');
    server = await startServer({ ...services.env, OUTBOX_POLL_MS: '200' });
  }, 90_000);

  afterAll(async () => {
    await Promise.all([server, ...others].map((started) => started?.stop()));
    await services?.cleanup();
  });

  describe('when a mutation selects the order of its result', () => {
    it('answers the order as projected at the command version, in the same response', async () => {
      const response = await gql(server.url, createAndRead, { input: { items } }, token);
      expect(response.errors).toBeUndefined();
      const result = response.data.createOrder;
      expect(result.order).toEqual({ id: result.orderId, status: 'CREATED', version: result.version, totalCents: 500, freshness: { version: result.version } });
    });

    it('refuses a timeoutMs above 30000 on that field only, and the command stands', async () => {
      const response = await gql(server.url, createAndRead, { input: { items }, timeoutMs: 30_001 }, token);
      expect(response.errors?.[0]).toMatchObject({ path: ['createOrder', 'order'], extensions: { code: 'BAD_USER_INPUT' } });
      const { orderId, order } = response.data.createOrder;
      expect(order).toBeNull();
      const read = await gql(server.url, `query($id: ID!) { order(id: $id, minVersion: 1) { id } }`, { id: orderId }, token);
      expect(read.data.order).toEqual({ id: orderId });
    });
  });

  describe('when nothing projects the order (command and query roles only)', () => {
    it('answers STALE_READ on the order field past timeoutMs, while the command has succeeded', async () => {
      // Its own read-store prefix: the full server beside it projects into the shared one.
      const unprojected = await startServer({ ...services.env, ROLE: 'command,query', REDIS_PREFIX: `${services.redisPrefix}_unprojected` });
      others.push(unprojected);
      const response = await gql(unprojected.url, createAndRead, { input: { items }, timeoutMs: 50 }, token);
      expect(response.errors).toHaveLength(1);
      expect(response.errors![0]).toMatchObject({ path: ['createOrder', 'order'], extensions: { code: 'STALE_READ' } });
      expect(response.data.createOrder).toMatchObject({ orderId: expect.any(String), version: 1, order: null });
    });
  });

  describe('when a query process keeps the orders it read (READ_CACHE_ENTRIES)', () => {
    it('answers a repeated read from memory, and every later version once written, minVersion at once', async () => {
      // Query role only, on the shared read store that the full server projects into.
      const caching = await startServer({ ...services.env, ROLE: 'query', READ_CACHE_ENTRIES: '1000' });
      others.push(caching);
      const hits = async () => Number(/orders_read_cache_total\{outcome="hit"\} (\d+)/.exec(await (await fetch(`${caching.url}/metrics`)).text())?.[1] ?? 0);
      const read = /* GraphQL */ `query($id: ID!, $minVersion: Int) { order(id: $id, minVersion: $minVersion) { status version } }`;
      const created = await gql(server.url, createAndRead, { input: { items } }, token);
      const id = created.data.createOrder.orderId as string;
      const deadline = Date.now() + 5000;
      // Until the process tracks the documents, reads go to Redis and nothing is kept.
      while ((await hits()) === 0 && Date.now() < deadline) expect((await gql(caching.url, read, { id }, token)).data.order).toEqual({ status: 'CREATED', version: 1 });
      expect(await hits()).toBeGreaterThan(0);
      const confirmed = await gql(server.url, `mutation($id: ID!) { confirmOrder(orderId: $id) { version } }`, { id }, token);
      expect(confirmed.data.confirmOrder.version).toBe(2);
      expect((await gql(caching.url, read, { id, minVersion: 2 }, token)).data.order).toEqual({ status: 'CONFIRMED', version: 2 });
      expect((await gql(caching.url, read, { id }, token)).data.order).toEqual({ status: 'CONFIRMED', version: 2 });
    });
  });

  describe('when the instance does not run the query role', () => {
    it('answers ROLE_NOT_SERVED on the order field, and the command has succeeded', async () => {
      const commandOnly = await startServer({ ...services.env, ROLE: 'command' });
      others.push(commandOnly);
      const response = await gql(commandOnly.url, createAndRead, { input: { items } }, token);
      expect(response.errors?.map((error: any) => [error.path, error.extensions?.code])).toEqual([[['createOrder', 'order'], 'ROLE_NOT_SERVED']]);
      expect(response.data.createOrder).toMatchObject({ orderId: expect.any(String), version: 1, order: null });
    });
  });

  describe('when Apollo Client 4 (no React) watches an order and then sends a command selecting it', () => {
    it('updates the cached Order by id from the mutation, without refetching it', async () => {
      const sent: string[] = [];
      const client = new ApolloClient({
        link: new HttpLink({ uri: `${server.url}/graphql`, headers: { authorization: `Bearer ${token}` }, fetch: countingFetch(sent) }),
        cache: new InMemoryCache({ typePolicies: { Freshness: { merge: false } } }),
      });
      const created = await client.mutate({ mutation: CreateOrderAndReadDocument, variables: { input: { items } } });
      const id = created.data!.createOrder.orderId;

      const confirmed = firstMatching<string | undefined>((status) => status === 'CONFIRMED');
      const seen: (string | undefined)[] = [];
      const watch = client.watchQuery({ query: OrderDocument, variables: { id } }).subscribe(({ data }) => {
        const status = (data as { order?: { status: string } | null } | undefined)?.order?.status;
        if (status) seen.push(status);
        confirmed.next(status);
      });
      await until(() => seen.length > 0);
      const result = await client.mutate({ mutation: ConfirmOrderAndReadDocument, variables: { orderId: id } });
      expect(result.data!.confirmOrder.order).toMatchObject({ id, status: 'CONFIRMED', version: 2 });
      await confirmed.found;
      watch.unsubscribe();

      // The watched query went to the server once; the confirm's answer updated Order:<id> in the cache.
      expect(sent).toEqual(['CreateOrderAndRead', 'Order', 'ConfirmOrderAndRead']);
      expect(seen).toEqual(['CREATED', 'CONFIRMED']);
      expect(client.cache.identify({ __typename: 'Order', id })).toBe(`Order:${id}`);
      expect(client.readQuery({ query: OrderDocument, variables: { id } })?.order).toMatchObject({ status: 'CONFIRMED', version: 2, freshness: { version: 2 } });
      client.stop();
    });
  });

  describe('when urql with Graphcache watches an order and then sends a command selecting it', () => {
    it('updates the cached Order by id from the mutation, without refetching it', async () => {
      const sent: string[] = [];
      const client = new UrqlClient({
        url: `${server.url}/graphql`,
        fetch: countingFetch(sent),
        fetchOptions: { headers: { authorization: `Bearer ${token}` } },
        preferGetMethod: false,
        // Items and freshness have no id: they live inside their Order.
        exchanges: [cacheExchange({ keys: { OrderItem: () => null, Freshness: () => null } }), fetchExchange],
      });
      const created = await client.mutation(CreateOrderAndReadDocument, { input: { items } }).toPromise();
      expect(created.error).toBeUndefined();
      const id = created.data!.createOrder.orderId;

      const seen: (string | undefined)[] = [];
      const confirmed = firstMatching<string | undefined>((status) => status === 'CONFIRMED');
      const watch = client.query(OrderDocument, { id }).subscribe((result) => {
        const status = result.data?.order?.status;
        if (status) seen.push(status);
        confirmed.next(status);
      });
      await until(() => seen.length > 0);
      const result = await client.mutation(ConfirmOrderAndReadDocument, { orderId: id }).toPromise();
      expect(result.data!.confirmOrder.order).toMatchObject({ id, status: 'CONFIRMED', version: 2 });
      await confirmed.found;
      watch.unsubscribe();

      // The watched query went to the server once; the confirm's answer updated Order:<id> in the cache.
      expect(sent).toEqual(['CreateOrderAndRead', 'Order', 'ConfirmOrderAndRead']);
      expect(seen).toEqual(['CREATED', 'CONFIRMED']);
    });
  });
});

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 10));
}
