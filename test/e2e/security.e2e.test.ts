import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { connect as netConnect } from 'node:net';
import { generateKeyPair, SignJWT } from 'jose';
import pg from 'pg';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { SYNC_MS } from '../../src/security/rateLimit.js';
import { uniqueName } from '../services.js';
import { collect, createOrderMutation, gql, type IsolatedServices, isolatedServices, jwtSecret, orderQuery, orderUpdatedSubscription, serviceEntry, type StartedServer, startServer, tokenFor, wsClient } from './harness.js';

// Every rule of docs/security.md, each answered with its documented code, against a started server
// on the real Postgres, NATS and Redis.

const items = [{ sku: 'SEC-1', name: 'Secured', quantity: 1, unitPriceCents: 500 }];
const key = new TextEncoder().encode(jwtSecret);
const b64 = (value: string) => Buffer.from(value).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

interface HttpAnswer {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

async function http(url: string, init: RequestInit & { path?: string } = {}): Promise<HttpAnswer> {
  const response = await fetch(`${url}${init.path ?? '/graphql'}`, init);
  const text = await response.text();
  let body: any = null;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: response.status, headers: response.headers, body, text };
}

/** Bytes straight onto a socket, for requests no HTTP client would send. */
function raw(url: string, bytes: string): Promise<HttpAnswer> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: hostname, port: Number(port) }, () => socket.end(bytes));
    let received = '';
    socket.on('data', (chunk) => (received += chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const [head = '', text = ''] = received.split('\r\n\r\n');
      let body: any = null;
      try {
        body = JSON.parse(text);
      } catch {}
      resolve({ status: Number(head.split(' ')[1]), headers: new Headers(), body, text });
    });
  });
}

const post = (url: string, payload: unknown, headers: Record<string, string> = {}) =>
  http(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...headers }, body: typeof payload === 'string' ? payload : JSON.stringify(payload) });
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const codes = (answer: { errors?: { extensions?: { code?: string } }[] }) => (answer.errors ?? []).map((error) => error.extensions?.code);

interface RawSocket {
  messages: any[];
  closed: Promise<{ code: number; reason: string }>;
  acked: Promise<boolean>;
  send(message: unknown): void;
  /** Resolves with the first message matching, or null after `timeoutMs`. */
  waitFor(match: (message: any) => boolean, timeoutMs?: number): Promise<any>;
  close(): void;
}

/** A graphql-transport-ws socket driven by hand, for what a well-behaved client never sends. */
function rawSocket(url: string, init?: Record<string, unknown> | null, headers: Record<string, string> = {}): RawSocket {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws', { headers });
  const messages: any[] = [];
  const listeners = new Set<() => void>();
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on('close', (code, reason) => resolve({ code, reason: String(reason) }));
    ws.on('unexpected-response', (_req, res) => resolve({ code: res.statusCode ?? 0, reason: 'unexpected-response' }));
    ws.on('error', () => {});
  });
  const opened = new Promise<void>((resolve) => ws.on('open', () => resolve()));
  if (init !== null) void opened.then(() => ws.send(JSON.stringify({ type: 'connection_init', payload: init ?? {} })));
  ws.on('message', (data) => {
    messages.push(JSON.parse(String(data)));
    for (const listener of listeners) listener();
  });
  const waitFor = (match: (message: any) => boolean, timeoutMs = 5000) =>
    new Promise<any>((resolve) => {
      const check = () => {
        const found = messages.find(match);
        if (found) finish(found);
      };
      const finish = (value: any) => {
        listeners.delete(check);
        clearTimeout(timer);
        resolve(value);
      };
      const timer = setTimeout(() => finish(null), timeoutMs);
      listeners.add(check);
      void closed.then(() => finish(messages.find(match) ?? null));
      check();
    });
  return {
    messages,
    closed,
    acked: Promise.race([waitFor((m) => m.type === 'connection_ack').then(Boolean), closed.then(() => false)]),
    send: (message) => void opened.then(() => ws.send(typeof message === 'string' ? message : JSON.stringify(message))),
    waitFor,
    close: () => ws.close(),
  };
}

const subscribeMessage = (id: string, query: string, variables: Record<string, unknown> = {}) => ({ id, type: 'subscribe', payload: { query, variables } });
const answerTo = (socket: RawSocket, id: string) => socket.waitFor((m) => m.id === id && (m.type === 'next' || m.type === 'error'));
const errorsOf = (message: any) => (message.type === 'error' ? message.payload : message.payload.errors) as { message: string; extensions?: { code?: string } }[];

describe('given the service on the real Postgres, NATS and Redis', () => {
  let services: IsolatedServices;
  let database: IsolatedServices['database'];
  let server: StartedServer;
  const replicas: StartedServer[] = [];

  beforeAll(async () => {
    services = await isolatedServices('sec');
    database = services.database;
    const { DATABASE_URL: _, ...shared } = services.env;
    const redisPrefix = services.redisPrefix;
    [server] = await Promise.all([
      startServer({
        ...shared,
        DATABASE_URL: database.url,
        OUTBOX_POLL_MS: '200',
        RATE_LIMIT_PER_MINUTE: '10000',
        QUERY_MAX_COST: '200',
        CORS_ORIGINS: 'https://app.example.com',
        WS_INIT_TIMEOUT_MS: '500',
        WS_MAX_SUBSCRIPTIONS: '3',
        WS_MAX_CONNECTIONS_PER_USER: '2',
      }),
      // Two query replicas in production mode sharing one Redis: the rate limit must hold across them.
      ...[0, 1].map(async () => {
        const replica = await startServer({ ...shared, ROLE: 'query', NODE_ENV: 'production', RATE_LIMIT_PER_MINUTE: '5', REDIS_PREFIX: `${redisPrefix}-replicas` });
        replicas.push(replica);
        return replica;
      }),
    ]);
  });

  afterAll(async () => {
    await Promise.all([server, ...replicas].map((started) => started?.stop()));
    await services?.cleanup();
  });

  /** Creates an order for `userId` and waits until the read side has it. */
  async function orderOf(userId: string): Promise<{ id: string; token: string; commandId: string }> {
    const token = await tokenFor(userId);
    const created = await gql(server.url, createOrderMutation, { input: { items } }, token);
    expect(created.errors).toBeUndefined();
    const { orderId, version, commandId } = created.data.createOrder;
    const read = await gql(server.url, orderQuery, { id: orderId, minVersion: version, timeoutMs: 10_000 }, token);
    expect(read.data.order.id).toBe(orderId);
    return { id: orderId, token, commandId };
  }

  async function eventsOf(orderId: string): Promise<{ type: string; userId: string }[]> {
    const db = new pg.Client({ connectionString: database.url });
    await db.connect();
    try {
      const { rows } = await db.query("SELECT type, metadata->>'userId' AS \"userId\" FROM events WHERE stream_id = $1 ORDER BY version", [orderId]);
      return rows;
    } finally {
      await db.end();
    }
  }

  describe('when a token is not one the service issued', () => {
    const refusals: [string, () => Promise<string>, RegExp][] = [
      ['signed with another secret', async () => `Bearer ${await new SignJWT({ roles: ['admin'] }).setProtectedHeader({ alg: 'HS256' }).setSubject('mallory').sign(new TextEncoder().encode('not-the-secret-at-all'))}`, /signature is invalid/],
      ['expired', async () => `Bearer ${await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('alice').setExpirationTime(now() - 3600).sign(key)}`, /expired/],
      ['not valid yet', async () => `Bearer ${await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('alice').setNotBefore(now() + 3600).setExpirationTime(now() + 7200).sign(key)}`, /not valid yet/],
      ['without exp', async () => `Bearer ${await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('alice').sign(key)}`, /no expiry/],
      ['alg none', async () => `Bearer ${b64(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${b64(JSON.stringify({ sub: 'mallory', roles: ['admin'] }))}.`, /HS256/],
      [
        'RS256-signed',
        async () => `Bearer ${await new SignJWT({ roles: ['admin'] }).setProtectedHeader({ alg: 'RS256' }).setSubject('mallory').sign((await generateKeyPair('RS256')).privateKey)}`,
        /HS256/,
      ],
      [
        'RS256 header with an HMAC of the secret',
        async () => {
          const input = `${b64(JSON.stringify({ alg: 'RS256' }))}.${b64(JSON.stringify({ sub: 'mallory' }))}`;
          return `Bearer ${input}.${createHmac('sha256', jwtSecret).update(input).digest('base64url')}`;
        },
        /HS256/,
      ],
      ['not a bearer token', async () => 'Basic YWxpY2U6c2VjcmV0', /Bearer <token>/],
      ['garbage', async () => 'Bearer not.a.jwt', /malformed/],
    ];

    it.each(refusals)('refuses a token %s with UNAUTHENTICATED and says why', async (_name, authorization, why) => {
      const answer = await post(server.url, { query: createOrderMutation, variables: { input: { items } } }, { authorization: await authorization() });
      expect(codes(answer.body)).toEqual(['UNAUTHENTICATED']);
      expect(answer.body.errors[0].message).toMatch(why);
    });

    it('refuses the same tokens at WebSocket connection_init with close code 4403', async () => {
      for (const [, authorization] of refusals) {
        const socket = rawSocket(server.url, { authorization: await authorization() });
        expect(await socket.closed).toMatchObject({ code: 4403 });
      }
      const notAString = rawSocket(server.url, { authorization: 42 });
      expect(await notAString.closed).toMatchObject({ code: 4403 });
    });
  });

  describe("when a customer reaches for another customer's order", () => {
    let victim: Awaited<ReturnType<typeof orderOf>>;
    let mallory: string;

    beforeAll(async () => {
      victim = await orderOf(uniqueName('victim'));
      mallory = await tokenFor(uniqueName('mallory'));
    });

    it('reads it as null, as an unknown id', async () => {
      expect((await gql(server.url, orderQuery, { id: victim.id }, mallory)).data).toEqual({ order: null });
      expect((await gql(server.url, orderQuery, { id: uniqueName('unknown') }, mallory)).data).toEqual({ order: null });
    });

    it('answers a wait for a version on it with STALE_READ after timeoutMs, as for an unknown id', async () => {
      const theirs = await gql(server.url, orderQuery, { id: victim.id, minVersion: 1, timeoutMs: 200 }, mallory);
      const unknown = await gql(server.url, orderQuery, { id: uniqueName('unknown'), minVersion: 1, timeoutMs: 200 }, mallory);
      expect(codes(theirs)).toEqual(['STALE_READ']);
      expect(codes(unknown)).toEqual(['STALE_READ']);
      expect(theirs.errors![0]!.message.replace(victim.id, 'ID')).toBe(unknown.errors![0]!.message.replace(/order \S+ has/, 'order ID has'));
    });

    it('fails every command on it with NOT_FOUND and appends nothing', async () => {
      const commands: [string, Record<string, unknown>][] = [
        ['mutation($id: ID!) { addOrderItem(orderId: $id, item: { sku: "X-1", name: "x", quantity: 1, unitPriceCents: 1 }) { version } }', {}],
        ['mutation($id: ID!) { removeOrderItem(orderId: $id, sku: "SEC-1") { version } }', {}],
        ['mutation($id: ID!) { confirmOrder(orderId: $id) { version } }', {}],
        ['mutation($id: ID!) { payOrder(orderId: $id, paymentReference: "stolen") { version } }', {}],
        ['mutation($id: ID!) { shipOrder(orderId: $id, trackingNumber: "T-1") { version } }', {}],
        ['mutation($id: ID!) { deliverOrder(orderId: $id) { version } }', {}],
        ['mutation($id: ID!) { cancelOrder(orderId: $id, reason: "mine now") { version } }', {}],
        ['mutation($id: ID!) { confirmOrder(orderId: $id, expectedVersion: 1, idempotencyKey: "k") { version } }', {}],
      ];
      for (const [mutation, extra] of commands) {
        const answer = await gql(server.url, mutation, { id: victim.id, ...extra }, mallory);
        expect(codes(answer), mutation).toEqual(['NOT_FOUND']);
        expect(answer.errors![0]!.message).not.toMatch(/victim|userId/);
      }
      expect(await eventsOf(victim.id)).toEqual([{ type: 'OrderCreated', userId: expect.stringMatching(/^victim/) }]);
    });

    // Ownership is checked before the version, so a CONFLICT can never reveal another customer's order.
    it('fails a command with a wrong expectedVersion on it with NOT_FOUND too, not CONFLICT', async () => {
      const answer = await gql(server.url, 'mutation($id: ID!) { confirmOrder(orderId: $id, expectedVersion: 7) { version } }', { id: victim.id }, mallory);
      expect(codes(answer)).toEqual(['NOT_FOUND']);
    });

    it('keeps idempotency keys per caller: the same key gets the other caller a fresh result', async () => {
      const keyUsed = uniqueName('key');
      const first = await gql(server.url, createOrderMutation, { input: { items }, key: keyUsed }, victim.token);
      const second = await gql(server.url, createOrderMutation, { input: { items: [{ ...items[0], quantity: 2 }] }, key: keyUsed }, mallory);
      expect(second.errors).toBeUndefined();
      expect(second.data.createOrder.orderId).not.toBe(first.data.createOrder.orderId);
    });

    it('sends nothing to a subscription on it, as for an unknown id, even when it changes', async () => {
      const client = wsClient(server.url, mallory);
      const owner = wsClient(server.url, victim.token);
      try {
        const theirs = collect(client, orderUpdatedSubscription, { id: victim.id });
        const unknown = collect(client, orderUpdatedSubscription, { id: uniqueName('unknown') });
        const watched = collect(owner, orderUpdatedSubscription, { id: victim.id });
        expect((await watched.next(1))[0]!.data.orderUpdated.eventType).toBe('Snapshot');
        // The change reaches its owner: by then it would have reached mallory too.
        const changed = await gql(server.url, 'mutation($id: ID!) { addOrderItem(orderId: $id, item: { sku: "SEC-2", name: "more", quantity: 1, unitPriceCents: 1 }) { version } }', { id: victim.id }, victim.token);
        expect(changed.errors).toBeUndefined();
        expect((await watched.next(2))[1]!.data.orderUpdated.eventType).toBe('OrderItemAdded');
        expect(theirs.messages).toEqual([]);
        expect(unknown.messages).toEqual([]);
      } finally {
        await Promise.all([client.dispose(), owner.dispose()]);
      }
    });

    it("refuses to follow another caller's command receipts with NOT_FOUND", async () => {
      const client = wsClient(server.url, mallory);
      try {
        const receipts = collect(client, 'subscription($id: ID!) { commandStatus(commandId: $id) { stage } }', { id: victim.commandId });
        const [message] = await receipts.next(1);
        expect(codes(message!)).toEqual(['NOT_FOUND']);
      } finally {
        await client.dispose();
      }
    });

    it('lets an admin read it', async () => {
      const admin = await tokenFor(uniqueName('ops'), true);
      expect((await gql(server.url, orderQuery, { id: victim.id }, admin)).data.order.id).toBe(victim.id);
    });
  });

  describe('when an operation asks too much', () => {
    const alias = (count: number, field = 'order(id: "x") { id }') => `{ ${Array.from({ length: count }, (_, i) => `a${i}: ${field}`).join(' ')} }`;
    const tooMuch: [string, string][] = [
      ['too deep (QUERY_MAX_DEPTH)', `{ __type(name: "Order") { fields { type { ${'ofType { '.repeat(10)}name${' }'.repeat(10)} } } } }`],
      ['too many aliases (QUERY_MAX_ALIASES)', alias(16)],
      ['too many tokens (QUERY_MAX_TOKENS)', `{ ${'__typename '.repeat(1001)}}`],
      ['too many directives (QUERY_MAX_DIRECTIVES)', `{ ${Array.from({ length: 51 }, () => '__typename @include(if: true)').join(' ')} }`],
      ['too costly (QUERY_MAX_COST)', alias(8, 'order(id: "x") { id userId status items { sku name quantity unitPriceCents lineTotalCents } freshness { version eventAt projectedAt lagMs ageMs } }')],
      ['nested introspection', '{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }'],
    ];

    it.each(tooMuch)('refuses one %s over HTTP with QUERY_TOO_COMPLEX', async (_name, query) => {
      const answer = await post(server.url, { query }, bearer(await tokenFor('complex')));
      expect(answer.status).toBe(400);
      expect(codes(answer.body)).toEqual(['QUERY_TOO_COMPLEX']);
    });

    it('applies the same limits over WebSocket', async () => {
      const socket = rawSocket(server.url, { authorization: `Bearer ${await tokenFor('complex-ws')}` });
      expect(await socket.acked).toBe(true);
      for (const [index, [, query]] of tooMuch.entries()) {
        socket.send(subscribeMessage(String(index), query));
        const answer = await answerTo(socket, String(index));
        expect(answer.type).toBe('error');
        expect(codes({ errors: errorsOf(answer) })).toEqual(['QUERY_TOO_COMPLEX']);
      }
      socket.close();
    });

    it('still serves what a client and GraphiQL normally send', async () => {
      const token = await tokenFor('normal');
      expect((await gql(server.url, orderQuery, { id: 'nope' }, token)).errors).toBeUndefined();
      const { getIntrospectionQuery } = await import('graphql');
      const introspection = await post(server.url, { query: getIntrospectionQuery({ descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true, inputValueDeprecation: true }) });
      expect(introspection.status).toBe(200);
      expect(introspection.body.data.__schema.queryType.name).toBe('Query');
    });
  });

  describe('when a request is too large', () => {
    const big = JSON.stringify({ query: '{ __typename }', variables: { padding: 'x'.repeat(120_000) } });

    it('answers a body over MAX_BODY_BYTES with 413 and a JSON error', async () => {
      const answer = await post(server.url, big);
      expect(answer.status).toBe(413);
      expect(codes(answer.body)).toEqual(['BAD_USER_INPUT']);
    });

    it('answers 413 also when the body comes without a Content-Length', async () => {
      const body = new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode(big));
          controller.close();
        },
      });
      const response = await fetch(`${server.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body, duplex: 'half' } as RequestInit);
      expect(response.status).toBe(413);
      expect(codes(await response.json())).toEqual(['BAD_USER_INPUT']);
    });

    it('answers a batch over MAX_BATCH_OPERATIONS with 413, and runs a smaller one', async () => {
      const tooMany = await post(server.url, Array.from({ length: 11 }, () => ({ query: '{ __typename }' })));
      expect(tooMany.status).toBe(413);
      expect(codes(tooMany.body)).toEqual(['BAD_USER_INPUT']);
      const fine = await post(server.url, Array.from({ length: 3 }, () => ({ query: '{ __typename }' })));
      expect(fine.status).toBe(200);
      expect(fine.body).toEqual(Array.from({ length: 3 }, () => ({ data: { __typename: 'Query' } })));
    });

    it('closes a WebSocket whose message is over MAX_BODY_BYTES with 1009', async () => {
      const socket = rawSocket(server.url, {});
      expect(await socket.acked).toBe(true);
      socket.send(subscribeMessage('1', '{ __typename }', { padding: 'x'.repeat(120_000) }));
      expect(await socket.closed).toMatchObject({ code: 1009 });
    });
  });

  describe('when a request is malformed', () => {
    const malformed: [string, () => Promise<HttpAnswer>][] = [
      ['invalid JSON', () => post(server.url, '{"query": ')],
      ['random bytes', () => post(server.url, '\u0000\u00ff\u0010garbage')],
      ['a JSON string', () => post(server.url, '"query"')],
      ['a query that is not a string', () => post(server.url, { query: 42 })],
      ['an unknown body parameter', () => post(server.url, { query: '{ __typename }', sneaky: true })],
      ['a syntax error', () => post(server.url, { query: '{ order(id: ' })],
      ['an unknown field', () => post(server.url, { query: '{ orderz { id } }' })],
      ['an unknown argument', () => post(server.url, { query: '{ order(id: "x", evil: 1) { id } }' })],
      ['a variable of the wrong type', () => post(server.url, { query: 'query($id: ID!) { order(id: $id) { id } }', variables: { id: { $gt: '' } } })],
      ['a missing variable', () => post(server.url, { query: 'query($id: ID!) { order(id: $id) { id } }' })],
      ['an input of the wrong shape', () => post(server.url, { query: createOrderMutation, variables: { input: { items: 'all of them' } } })],
      ['an unknown operation name', () => post(server.url, { query: 'query A { __typename }', operationName: 'B' })],
      ['an unsupported content type', () => http(server.url, { method: 'POST', headers: { 'content-type': 'application/xml' }, body: '<query/>' })],
      ['an unsupported method', () => http(server.url, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{}' })],
      ['an unacceptable Accept', () => post(server.url, { query: '{ __typename }' }, { accept: 'image/png' })],
      ['a mutation over GET', () => http(server.url, { path: `/graphql?query=${encodeURIComponent('mutation { confirmOrder(orderId: "x") { version } }')}`, headers: { 'x-graphql-yoga-csrf': '1' } })],
      ['an unknown path', () => http(server.url, { path: '/admin' })],
      ['an empty batch', () => post(server.url, [])],
      ['a Content-Length that is not a number', () => raw(server.url, 'POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: -5\r\n\r\n')],
      ['a request line that is not HTTP', () => raw(server.url, `GARBAGE ${'\u0001'.repeat(10)}\r\n\r\n`)],
    ];

    it.each(malformed)('answers %s with BAD_USER_INPUT and a 4xx or 200 status', async (_name, send) => {
      const answer = await send();
      expect(answer.status, answer.text).toBeLessThan(500);
      expect(codes(answer.body), answer.text).toEqual(['BAD_USER_INPUT']);
    });

    it('refuses U+0000 in any string and identifiers over 128 characters with BAD_USER_INPUT, before anything is stored', async () => {
      const token = await tokenFor(uniqueName('nul'));
      const long = 'k'.repeat(129);
      const refused: [string, Record<string, unknown>][] = [
        [createOrderMutation, { input: { items: [{ ...items[0], name: 'a\u0000b' }] } }],
        [createOrderMutation, { input: { orderId: long, items } }],
        [createOrderMutation, { input: { items }, key: long }],
        [createOrderMutation, { input: { orderId: 'nul\u0000id', items } }],
        ['mutation { createOrder(input: { orderId: "a\\u0000b", items: [] }) { orderId } }', {}],
        [`mutation { cancelOrder(orderId: "${long}", reason: "r") { version } }`, {}],
        ['mutation($id: ID!) { cancelOrder(orderId: $id, reason: "r\\u0000") { version } }', { id: 'x' }],
        ['query($id: ID!) { order(id: $id) { id } }', { id: long }],
      ];
      for (const [query, variables] of refused) {
        const answer = await post(server.url, { query, variables }, bearer(token));
        expect(codes(answer.body), JSON.stringify(answer.body)).toEqual(['BAD_USER_INPUT']);
      }
      const db = new pg.Client({ connectionString: database.url });
      await db.connect();
      const { rows } = await db.query("SELECT count(*)::int AS n FROM events WHERE metadata->>'userId' = $1", [JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).sub]);
      await db.end();
      expect(rows[0].n).toBe(0);
    });

    it('answers a syntax error over WebSocket with BAD_USER_INPUT and keeps the connection', async () => {
      const socket = rawSocket(server.url, { authorization: `Bearer ${await tokenFor('ws-syntax')}` });
      expect(await socket.acked).toBe(true);
      socket.send(subscribeMessage('1', '{ order(id: '));
      expect(codes({ errors: errorsOf(await answerTo(socket, '1')) })).toEqual(['BAD_USER_INPUT']);
      socket.send(subscribeMessage('2', 'query($id: ID!) { order(id: $id) { id } }', { id: [1, 2] }));
      expect(codes({ errors: errorsOf(await answerTo(socket, '2')) })).toEqual(['BAD_USER_INPUT']);
      socket.send(subscribeMessage('3', '{ __typename }'));
      expect((await answerTo(socket, '3')).payload).toEqual({ data: { __typename: 'Query' } });
      socket.close();
    });

    it('closes a WebSocket that sends an unparsable message with 4400', async () => {
      const socket = rawSocket(server.url, {});
      expect(await socket.acked).toBe(true);
      socket.send('\u0000not json');
      expect(await socket.closed).toMatchObject({ code: 4400 });
    });
  });

  describe('when a browser page could forge a request (CSRF)', () => {
    const get = (headers: Record<string, string> = {}) => http(server.url, { path: `/graphql?query=${encodeURIComponent('{ __typename }')}`, headers });

    it('refuses a GET without a preflight-forcing header with 403 FORBIDDEN', async () => {
      const answer = await get();
      expect(answer.status).toBe(403);
      expect(codes(answer.body)).toEqual(['FORBIDDEN']);
    });

    it('refuses a form-encoded or text/plain POST with 403 FORBIDDEN', async () => {
      for (const type of ['text/plain', 'application/x-www-form-urlencoded']) {
        const answer = await http(server.url, { method: 'POST', headers: { 'content-type': type }, body: 'query=%7B__typename%7D' });
        expect(answer.status).toBe(403);
        expect(codes(answer.body)).toEqual(['FORBIDDEN']);
      }
    });

    it('serves a GET with x-graphql-yoga-csrf or an Authorization header, a JSON POST, and the GraphiQL page', async () => {
      expect((await get({ 'x-graphql-yoga-csrf': '1' })).body).toEqual({ data: { __typename: 'Query' } });
      expect((await get(bearer(await tokenFor('getter')))).body).toEqual({ data: { __typename: 'Query' } });
      expect((await post(server.url, { query: '{ __typename }' })).body).toEqual({ data: { __typename: 'Query' } });
      const page = await http(server.url, { headers: { accept: 'text/html' } });
      expect(page.status).toBe(200);
      expect(page.text).toContain('graphiql');
    });
  });

  describe('when a page of another origin calls (CORS)', () => {
    it('allows the origins in CORS_ORIGINS', async () => {
      const answer = await post(server.url, { query: '{ __typename }' }, { origin: 'https://app.example.com' });
      expect(answer.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
      const preflight = await http(server.url, {
        method: 'OPTIONS',
        headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-headers')).toMatch(/authorization/);
    });

    it('gives any other origin no CORS headers, so the browser withholds the answer', async () => {
      const answer = await post(server.url, { query: '{ __typename }' }, { origin: 'https://evil.example.com' });
      expect(answer.headers.get('access-control-allow-origin')).toBeNull();
    });

    it('refuses a WebSocket upgrade from another origin, accepts one from the same origin', async () => {
      const foreign = rawSocket(server.url, {}, { origin: 'https://evil.example.com' });
      expect(await foreign.closed).toMatchObject({ code: 403 });
      const same = rawSocket(server.url, {}, { origin: server.url });
      expect(await same.acked).toBe(true);
      same.close();
    });
  });

  describe('when a WebSocket client misbehaves', () => {
    it('lets a connection without a token in, but every subscription needs a caller: UNAUTHENTICATED', async () => {
      const socket = rawSocket(server.url, {});
      expect(await socket.acked).toBe(true);
      socket.send(subscribeMessage('1', orderUpdatedSubscription, { id: 'x' }));
      const answer = await answerTo(socket, '1');
      expect(answer.type).toBe('error');
      expect(codes({ errors: errorsOf(answer) })).toEqual(['UNAUTHENTICATED']);
      socket.close();
    });

    it('closes a connection that does not send connection_init within WS_INIT_TIMEOUT_MS with 4408', async () => {
      const socket = rawSocket(server.url, null);
      expect(await socket.closed).toMatchObject({ code: 4408 });
    });

    it('closes a subscribe before connection_ack with 4401', async () => {
      const socket = rawSocket(server.url, null);
      socket.send(subscribeMessage('1', '{ __typename }'));
      expect(await socket.closed).toMatchObject({ code: 4401 });
    });

    it('refuses operations past WS_MAX_SUBSCRIPTIONS on one connection with RATE_LIMITED', async () => {
      const order = await orderOf(uniqueName('subscriber'));
      const socket = rawSocket(server.url, { authorization: `Bearer ${order.token}` });
      expect(await socket.acked).toBe(true);
      for (const id of ['1', '2', '3']) {
        socket.send(subscribeMessage(id, orderUpdatedSubscription, { id: order.id }));
        expect((await answerTo(socket, id)).type).toBe('next');
      }
      socket.send(subscribeMessage('4', orderUpdatedSubscription, { id: order.id }));
      const refused = await answerTo(socket, '4');
      expect(refused.type).toBe('error');
      expect(errorsOf(refused)[0]).toMatchObject({ extensions: { code: 'RATE_LIMITED', limit: 'WS_MAX_SUBSCRIPTIONS' } });
      socket.send({ id: '1', type: 'complete' });
      // The slot is free once the server has ended subscription 1: ask until it is given (a refusal comes
      // back at once, RATE_LIMITED), rather than sleeping for a guess at how long the server takes.
      let next = 5;
      await vi.waitFor(
        async () => {
          const id = String(next++);
          socket.send(subscribeMessage(id, orderUpdatedSubscription, { id: order.id }));
          const answer = await answerTo(socket, id);
          if (answer.type === 'error') expect(errorsOf(answer)[0]).toMatchObject({ extensions: { code: 'RATE_LIMITED' } });
          expect(answer.type).toBe('next');
        },
        { timeout: 5000, interval: 20 },
      );
      socket.close();
    });

    it('closes connections past WS_MAX_CONNECTIONS_PER_USER with 4429, and admits one again after a close', async () => {
      const token = await tokenFor(uniqueName('hoarder'));
      const first = rawSocket(server.url, { authorization: `Bearer ${token}` });
      const second = rawSocket(server.url, { authorization: `Bearer ${token}` });
      expect(await first.acked).toBe(true);
      expect(await second.acked).toBe(true);
      const third = rawSocket(server.url, { authorization: `Bearer ${token}` });
      expect(await third.closed).toMatchObject({ code: 4429 });
      first.close();
      await first.closed;
      const fourth = rawSocket(server.url, { authorization: `Bearer ${token}` });
      expect(await fourth.acked).toBe(true);
      second.close();
      fourth.close();
    });
  });

  describe('when two replicas share Redis and a caller exceeds RATE_LIMIT_PER_MINUTE', () => {
    const read = (replica: StartedServer, token: string) => post(replica.url, { query: orderQuery, variables: { id: 'x' } }, bearer(token));

    it('counts the operations on both replicas and answers 429 RATE_LIMITED with Retry-After', async () => {
      const token = await tokenFor(uniqueName('greedy'));
      const [a, b] = replicas as [StartedServer, StartedServer];
      const answers = [await read(a, token), await read(b, token), await read(a, token), await read(b, token), await read(a, token)];
      expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 200, 200]);
      // Each replica adds what it admitted locally to Redis every SYNC_MS; until then the other may admit
      // up to half the limit more (the documented bound). Past two syncs, b knows a's three.
      await new Promise((resolve) => setTimeout(resolve, 2 * SYNC_MS + 100));
      const refused = await read(b, token);
      expect(refused.status).toBe(429);
      expect(codes(refused.body)).toEqual(['RATE_LIMITED']);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(refused.body.errors[0].extensions.retryAfterSeconds).toBeGreaterThan(0);
      // Another caller has a budget of its own.
      expect((await read(a, await tokenFor(uniqueName('patient')))).status).toBe(200);
      const metrics = await http(a.url, { path: '/metrics' });
      const counted = [await http(b.url, { path: '/metrics' }), metrics].map((m) => Number(/orders_rate_limited_total (\d+)/.exec(m.text)?.[1] ?? 0));
      expect(counted[0]! + counted[1]!).toBeGreaterThanOrEqual(1);
    });

    it('limits each operation of a batch, answering RATE_LIMITED beside the ones that ran', async () => {
      const token = await tokenFor(uniqueName('batcher'));
      const batch = Array.from({ length: 7 }, () => ({ query: '{ __typename }' }));
      const answer = await post(replicas[0]!.url, batch, bearer(token));
      expect(answer.status).toBe(200);
      expect(answer.body.map((result: any) => codes(result)[0] ?? 'ok')).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'RATE_LIMITED', 'RATE_LIMITED']);
    });

    it('limits subscribes over WebSocket the same way', async () => {
      const token = await tokenFor(uniqueName('ws-greedy'));
      const socket = rawSocket(replicas[1]!.url, { authorization: `Bearer ${token}` });
      expect(await socket.acked).toBe(true);
      const kinds: string[] = [];
      for (let id = 0; id < 6; id++) {
        socket.send(subscribeMessage(String(id), '{ __typename }'));
        const answer = await answerTo(socket, String(id));
        kinds.push(answer.type === 'error' ? errorsOf(answer)[0]!.extensions!.code! : 'ok');
      }
      expect(kinds).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'RATE_LIMITED']);
      socket.close();
    });

    it('hides field suggestions in production', async () => {
      const production = await post(replicas[0]!.url, { query: '{ ordr(id: "x") { id } }' });
      expect(codes(production.body)).toEqual(['BAD_USER_INPUT']);
      expect(production.text).not.toMatch(/Did you mean/);
      const development = await post(server.url, { query: '{ ordr(id: "x") { id } }' });
      expect(development.text).toMatch(/Did you mean/);
    });
  });

  describe('when something fails inside the service', () => {
    it('answers INTERNAL_SERVER_ERROR with the correlation id, no SQL or stack, and logs the detail under that id', async () => {
      const db = new pg.Client({ connectionString: database.url });
      await db.connect();
      const token = await tokenFor(uniqueName('unlucky'));
      await db.query('ALTER TABLE events RENAME TO events_hidden_by_test');
      let answer: HttpAnswer;
      try {
        answer = await post(server.url, { query: createOrderMutation, variables: { input: { items } } }, { ...bearer(token), 'x-correlation-id': 'sec-test-correlation-1' });
      } finally {
        await db.query('ALTER TABLE events_hidden_by_test RENAME TO events');
        await db.end();
      }
      expect(answer.status).toBeLessThan(500);
      expect(answer.body.errors).toEqual([
        expect.objectContaining({ message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR', correlationId: 'sec-test-correlation-1' } }),
      ]);
      expect(answer.text).not.toMatch(/events|\brelation\b|SELECT|prisma|stack|\bat\s+\S+\s+\(/i);
      expect(answer.headers.get('x-correlation-id')).toBe('sec-test-correlation-1');
      // The log line travels over the child's stdout pipe and may arrive just after the answer.
      const logged = () =>
        server.logs
          .flatMap((line) => {
            try {
              return [JSON.parse(line)];
            } catch {
              return [];
            }
          })
          .find((entry) => entry.msg === 'unexpected error' && entry.correlationId === 'sec-test-correlation-1');
      await expect.poll(() => logged()?.err?.message ?? logged()?.err?.stack, { timeout: 5000 }).toMatch(/events/);
    });

    it('gives every answer a correlation id, its own unless the caller sent one', async () => {
      const answer = await post(server.url, { query: '{ __typename }' });
      expect(answer.headers.get('x-correlation-id')).toMatch(/^[0-9a-f-]{36}$/);
    });
  });
});

describe('given NODE_ENV=production and no JWT_SECRET', () => {
  it('refuses to start, naming the missing secret', async () => {
    const child = spawn(process.execPath, [serviceEntry], {
      env: { PATH: process.env.PATH, NODE_ENV: 'production', PORT: '0', HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(2);
    expect(output).toMatch(/JWT_SECRET is required when NODE_ENV=production/);
    expect(output).not.toMatch(/service started/);
  });
});
