import path from 'node:path';
import { ApolloClient, HttpLink, InMemoryCache } from '@apollo/client';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import type { DocumentNode } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfirmOrderAndReadDocument, CreateOrderAndReadDocument, OrderDocument } from '../../client/generated/graphql.js';
import { canonicalPrint, sha256 } from '../../src/security/trustedDocuments.js';
import { collect, type IsolatedServices, isolatedServices, type StartedServer, startServer, tokenFor, wsClient } from './harness.js';

const manifest = path.resolve('client/generated/persisted-documents.json');
const items = [{ sku: 'TD-1', name: 'Trusted', quantity: 1, unitPriceCents: 100 }];
// The board's operations spelled by hand: not the manifest's text, the same operation.
const boardOrders = `query BoardOrders($first: Int!) { orders(first: $first) { totalCount edges { node { ...BoardOrder } } } }
  fragment BoardOrder on Order {
    id userId status totalCents currency version createdAt
    items { sku name quantity }
    freshness { version eventAt projectedAt lagMs ageMs }
  }`;
const boardCommand = `subscription BoardCommand($id: ID!) { commandStatus(commandId: $id) { stage at version } }`;

async function post(url: string, body: unknown, token?: string) {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as { data?: any; errors?: { message: string; extensions?: { code?: string } }[] } };
}

describe('given a server started with TRUSTED_DOCUMENTS=client/generated/persisted-documents.json', () => {
  let services: IsolatedServices;
  let server: StartedServer;
  let token: string;

  beforeAll(async () => {
    services = await isolatedServices('trusted');
    server = await startServer({ ...services.env, OUTBOX_POLL_MS: '200', TRUSTED_DOCUMENTS: manifest });
    token = await tokenFor('trusted-customer');
  }, 90_000);

  afterAll(async () => {
    await server?.stop();
    await services?.cleanup();
  });

  describe("when Apollo Client sends listed operations through Apollo's persisted-query link", () => {
    it('sends only their hashes, and the service runs them', async () => {
      const bodies: Record<string, unknown>[] = [];
      const recording: typeof fetch = (input, init) => (bodies.push(JSON.parse(String(init?.body))), fetch(input, init));
      const client = new ApolloClient({
        link: new PersistedQueryLink({
          // Codegen's documents carry their manifest hash; a document Apollo rewrote is hashed the same way.
          generateHash: (document: DocumentNode) => (document as { __meta__?: { hash?: string } }).__meta__?.hash ?? sha256(canonicalPrint(document)),
        }).concat(new HttpLink({ uri: `${server.url}/graphql`, headers: { authorization: `Bearer ${token}` }, fetch: recording })),
        cache: new InMemoryCache(),
      });
      const created = await client.mutate({ mutation: CreateOrderAndReadDocument, variables: { input: { items } } });
      const id = created.data!.createOrder.orderId;
      expect(created.data!.createOrder.order).toMatchObject({ id, status: 'CREATED' });
      const confirmed = await client.mutate({ mutation: ConfirmOrderAndReadDocument, variables: { orderId: id } });
      expect(confirmed.data!.confirmOrder.order).toMatchObject({ id, status: 'CONFIRMED', version: 2 });
      const read = await client.query({ query: OrderDocument, variables: { id } });
      expect(read.data!.order).toMatchObject({ id, status: 'CONFIRMED' });

      expect(bodies).toHaveLength(3);
      for (const body of bodies) {
        expect(body.query).toBeUndefined();
        expect(body.extensions).toMatchObject({ persistedQuery: { version: 1, sha256Hash: expect.stringMatching(/^[0-9a-f]{64}$/) } });
      }
      client.stop();
    });
  });

  describe("when Apollo's link hashes the printed query itself (automatic persisted queries)", () => {
    it('gets PERSISTED_QUERY_NOT_FOUND for the unknown hash, retries with the full document, and a listed one runs', async () => {
      const bodies: Record<string, unknown>[] = [];
      const recording: typeof fetch = (input, init) => (bodies.push(JSON.parse(String(init?.body))), fetch(input, init));
      const client = new ApolloClient({
        link: new PersistedQueryLink({ sha256 }).concat(new HttpLink({ uri: `${server.url}/graphql`, headers: { authorization: `Bearer ${token}` }, fetch: recording })),
        cache: new InMemoryCache(),
      });
      const created = await client.mutate({ mutation: CreateOrderAndReadDocument, variables: { input: { items } } });
      expect(created.data!.createOrder.order).toMatchObject({ status: 'CREATED' });
      expect(bodies.map((body) => typeof body.query)).toEqual(['undefined', 'string']);
      client.stop();
    });
  });

  describe('when a hash is not in the manifest', () => {
    it('answers PERSISTED_QUERY_NOT_FOUND with HTTP 400', async () => {
      const { status, body } = await post(server.url, { extensions: { persistedQuery: { version: 1, sha256Hash: sha256('nothing listed') } } }, token);
      expect(status).toBe(400);
      expect(body.errors?.map((error) => error.extensions?.code)).toEqual(['PERSISTED_QUERY_NOT_FOUND']);
    });
  });

  describe('when a full document is sent', () => {
    it('runs a listed operation, however it is spelled', async () => {
      const { status, body } = await post(server.url, { query: boardOrders, variables: { first: 5 } }, token);
      expect(status).toBe(200);
      expect(body.errors).toBeUndefined();
      expect(body.data.orders.totalCount).toBeGreaterThanOrEqual(1);
    });

    it('refuses an operation that is not listed, or a listed one with a field more, with HTTP 400', async () => {
      const widened = boardOrders.replace('totalCount', 'totalCount pageInfo { hasNextPage }');
      for (const query of ['{ __typename }', '{ __schema { types { name } } }', widened]) {
        const { status, body } = await post(server.url, { query, variables: { first: 5 } }, token);
        expect(status, `${query} ${JSON.stringify(body)}`).toBe(400);
        expect(body.errors?.map((error) => error.extensions?.code), query).toEqual(['PERSISTED_QUERY_NOT_FOUND']);
        expect(body.data, query).toBeUndefined();
      }
    });
  });

  describe('when operations arrive over WebSocket', () => {
    it('runs a listed subscription and refuses an unlisted one with PERSISTED_QUERY_NOT_FOUND', async () => {
      const client = wsClient(server.url, token);
      try {
        const refused = collect(client, 'subscription { myOrdersUpdated { version } }', {});
        await expect(refused.next(1)).rejects.toThrow(/PERSISTED_QUERY_NOT_FOUND/);

        const created = await post(server.url, { query: boardCreate, variables: { input: { items }, key: null } }, token);
        expect(created.status).toBe(200);
        const stages = collect(client, boardCommand, { id: created.body.data.result.commandId });
        const [first] = await stages.next(1);
        expect(first!.data.commandStatus.stage).toEqual(expect.any(String));
        stages.unsubscribe();
      } finally {
        await client.dispose();
      }
    });
  });

  describe('when a browser asks for GraphiQL', () => {
    it('gets no GraphiQL page', async () => {
      const response = await fetch(`${server.url}/graphql`, { headers: { accept: 'text/html' } });
      expect(response.headers.get('content-type') ?? '').not.toContain('text/html');
      expect(await response.text()).not.toMatch(/graphiql/i);
    });
  });
});

const boardCreate = `mutation BoardCreate($input: CreateOrderInput!, $key: String) { result: createOrder(input: $input, idempotencyKey: $key) { orderId version commandId } }`;
