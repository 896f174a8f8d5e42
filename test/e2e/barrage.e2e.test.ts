import { request as httpRequest, Agent } from 'node:http';
import { generateKeyPair, SignJWT } from 'jose';
import pg from 'pg';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Random, seededRandom } from '../random.js';
import { uniqueName } from '../services.js';
import { type IsolatedServices, isolatedServices, jwtSecret, type StartedServer, startServer, tokenFor } from './harness.js';

// Hundreds of generated hostile requests over HTTP and WebSocket, interleaved with valid commands
// from several users. Every answer must carry a documented code (or be a valid success), nothing may
// answer 5xx, /readyz must stay 200, and the event store must hold exactly the events of the valid
// commands. BARRAGE_SEED=<n> replays a run; BARRAGE_REQUESTS=<n> changes its size.

const seed = Number(process.env.BARRAGE_SEED ?? 20261126);
const hostileCount = Number(process.env.BARRAGE_REQUESTS ?? 640);
const rateLimitPerMinute = 150;
const documented = new Set(['BAD_USER_INPUT', 'UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'CONFLICT', 'INVALID_STATE', 'STALE_READ', 'RATE_LIMITED', 'QUERY_TOO_COMPLEX', 'ROLE_NOT_SERVED']);
/** How graphql-ws and ws close a connection they refuse (docs/security.md). */
const documentedCloseCodes = new Set([1009, 4400, 4401, 4403, 4408, 4409, 4429]);


interface Answer {
  status: number;
  text: string;
  headers: Record<string, string | string[] | undefined>;
}

const agent = new Agent({ keepAlive: true, maxSockets: 32 });
/**
 * node:http rather than fetch: raw bodies, any method, and a chosen source address (127.0.0.0/8).
 * A kept-alive socket the server closed for idleness just as it was reused fails with ECONNRESET
 * before the server read anything; such a request is sent again, as Node's documentation advises.
 */
function send(url: string, spec: { method?: string; path?: string; headers?: Record<string, string>; body?: string | Buffer; from?: string }, retried = false): Promise<Answer> {
  const target = new URL(`${url}${spec.path ?? '/graphql'}`);
  return new Promise<Answer>((resolve, reject) => {
    const req = httpRequest(
      { agent, host: target.hostname, port: target.port, path: target.pathname + target.search, method: spec.method ?? 'POST', headers: spec.headers, localAddress: spec.from },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString(), headers: res.headers }));
        res.on('error', reject);
      },
    );
    req.on('error', (error: NodeJS.ErrnoException) =>
      req.reusedSocket && !retried && (error.code === 'ECONNRESET' || error.code === 'EPIPE') ? resolve(send(url, spec, true)) : reject(Object.assign(error, { message: `${error.message} code=${error.code} reused=${req.reusedSocket} retried=${retried}` })),
    );
    req.end(spec.body);
  });
}

const json = { 'content-type': 'application/json', accept: 'application/graphql-response+json' };
const gqlBody = (query: string, variables?: unknown, extra: Record<string, unknown> = {}) => JSON.stringify({ query, variables, ...extra });

/** What a response showed: its codes, or why it breaks the rules. */
function judge(status: number, text: string): { codes: string[]; violation: string | null } {
  if (status >= 500) return { codes: [], violation: `HTTP ${status}` };
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { codes: [], violation: `HTTP ${status} without a JSON body: ${text.slice(0, 120)}` };
  }
  if (Array.isArray(body) && body.length === 0) return { codes: [], violation: 'an empty batch answer' };
  const results = Array.isArray(body) ? body : [body];
  const codes: string[] = [];
  for (const result of results as { data?: unknown; errors?: { extensions?: { code?: string } }[] }[]) {
    if (!result || typeof result !== 'object') return { codes, violation: `not a GraphQL result: ${text.slice(0, 120)}` };
    if (!result.errors?.length) {
      if (!('data' in result)) return { codes, violation: `neither data nor errors: ${text.slice(0, 120)}` };
      codes.push('ok');
      continue;
    }
    for (const error of result.errors) {
      const code = error.extensions?.code;
      if (!code || !documented.has(code)) return { codes, violation: `undocumented code ${code}: ${text.slice(0, 200)}` };
      codes.push(code);
    }
  }
  return { codes, violation: null };
}

const orderQuery = 'query($id: ID!, $minVersion: Int, $timeoutMs: Int) { order(id: $id, minVersion: $minVersion, timeoutMs: $timeoutMs) { id userId status version items { sku quantity } } }';
const createMutation = 'mutation($input: CreateOrderInput!, $key: String) { createOrder(input: $input, idempotencyKey: $key) { orderId version events } }';

describe('given a service under a barrage of hostile requests', () => {
  let services: IsolatedServices;
  let database: IsolatedServices['database'];
  let server: StartedServer;

  beforeAll(async () => {
    services = await isolatedServices('barrage');
    database = services.database;
    server = await startServer({ ...services.env, RATE_LIMIT_PER_MINUTE: String(rateLimitPerMinute), SUBSCRIPTION_STALL_MS: '2000' });
  });

  afterAll(async () => {
    agent.destroy();
    await server?.stop();
    await services?.cleanup();
  });

  it('answers every request with a documented code, stays ready, and stores only the valid commands', { timeout: 240_000 }, async () => {
    const rng = seededRandom(seed);
    const key = new TextEncoder().encode(jwtSecret);
    const now = Math.floor(Date.now() / 1000);
    const attackers = await Promise.all([1, 2, 3].map((n) => tokenFor(`${uniqueName('attacker')}-${n}`)));
    const rsKey = (await generateKeyPair('RS256')).privateKey;
    const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const badTokens = {
      forged: await new SignJWT({ roles: ['admin'] }).setProtectedHeader({ alg: 'HS256' }).setSubject('mallory').sign(new TextEncoder().encode('a-secret-that-is-not-ours')),
      expired: await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('late').setExpirationTime(now - 3600).sign(key),
      none: `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'mallory', roles: ['admin'] })}.`,
      rs256: await new SignJWT({ roles: ['admin'] }).setProtectedHeader({ alg: 'RS256' }).setSubject('mallory').sign(rsKey),
      garbage: rng.text(40, 'abcdefghijklmnop.-_'),
      loneSurrogate: await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('mallory\udc00').setExpirationTime('1h').sign(key),
      noExp: await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('forever').sign(key),
    };
    // Valid tokens whose subjects spell other users' storage keys: they must see nobody's orders but their own.
    const keySpellers = await Promise.all(
      ['alice:status:CREATED', 'alice*', '{alice}', 'alice}', '*', 'user:alice', 'bob:status:PAID:x', '%0041lice'].map(async (sub) => ({ sub, token: await tokenFor(sub) })),
    );
    const victims: string[] = [];
    const victim = (index: number) => victims[index % Math.max(1, victims.length)] ?? '00000000-0000-4000-8000-000000000000';
    /** Anonymous and badly signed requests come from several addresses: the limit for them is per IP. */
    const from = (n: number) => `127.0.0.${10 + (n % 8)}`;

    // ---- the hostile requests, generated up front from the seed ----------------------------------
    type Spec = {
      category: string;
      method?: string;
      path?: string;
      headers?: Record<string, string>;
      body?: string | Buffer;
      from?: string;
      /** Aimed at a valid user's order, known only once the customers have created some. */
      atVictim?: { query: string; variables: Record<string, unknown>; index: number; expectNullOrder: boolean };
      /** Every order listed must belong to this user id. */
      ownerOnly?: string;
    };
    const attacker = (n: number) => ({ ...json, authorization: `Bearer ${attackers[n % attackers.length]}` });
    const deep = (depth: number, open: string, close: string, inner: string) => `${open.repeat(depth)}${inner}${close.repeat(depth)}`;
    const generators: [string, number, (n: number) => Spec][] = [
      ['random bytes', 8, (n) => ({ category: 'random bytes', headers: { 'content-type': rng.pick(['application/json', 'application/graphql+json', 'application/json; charset=utf-8']) }, body: rng.bytes(rng.int(1, 3000)), from: from(n) })],
      ['invalid JSON', 6, (n) => {
        const valid = gqlBody('{ __typename }', { a: [1, 2, { b: 'c' }] });
        return { category: 'invalid JSON', headers: json, body: rng.pick([valid.slice(0, rng.int(1, valid.length - 1)), `${valid}}`, `{"query": ${rng.text(5)}}`, "{'query': '{ __typename }'}", '', 'null', '[]', '[[]]', 'true']), from: from(n) };
      }],
      ['wrong types', 9, (n) => {
        const notAString = rng.pick<unknown>([7, -1, 2 ** 40, 1.5, null, [], {}, [[1]], { $gt: '' }, true]);
        // Wrong for quantity (1–1000) and unitPriceCents (0–10,000,000) alike.
        const notAnInt = rng.pick<unknown>([rng.text(5), '1', -1, -7, 2 ** 40, 1.5, null, [], {}, true, 10_000_001]);
        const field = rng.pick(['sku', 'name', 'quantity', 'unitPriceCents']);
        const item = { sku: 'X-1', name: 'n', quantity: 1, unitPriceCents: 1, [field]: field === 'sku' || field === 'name' ? notAString : notAnInt };
        const bad = notAString;
        return rng.pick<Spec>([
          { category: 'wrong types', headers: attacker(n), body: gqlBody(createMutation, { input: { items: [item] } }) },
          { category: 'wrong types', headers: attacker(n), body: gqlBody(createMutation, { input: { items: bad } }) },
          { category: 'wrong types', headers: attacker(n), body: gqlBody(orderQuery, { id: bad, minVersion: rng.pick<unknown>(['1', 1.5, -5, 2 ** 33]) }) },
          { category: 'wrong types', headers: attacker(n), body: JSON.stringify({ query: bad, variables: bad, operationName: bad }) },
        ]);
      }],
      ['oversized strings', 8, (n) => {
        // Longer than any rule allows: names 200, texts 500, skus 64, identifiers 128 characters.
        const long = rng.text(rng.int(501, 60_000));
        return rng.pick<Spec>([
          { category: 'oversized strings', headers: attacker(n), body: gqlBody(createMutation, { input: { items: [{ sku: 'L-1', name: long, quantity: 1, unitPriceCents: 1 }] } }) },
          { category: 'oversized strings', headers: attacker(n), body: gqlBody(createMutation, { input: { items: [{ sku: long, name: 'n', quantity: 1, unitPriceCents: 1 }] } }) },
          { category: 'oversized strings', headers: attacker(n), body: gqlBody(createMutation, { input: { orderId: long, items: [{ sku: 'L-1', name: 'n', quantity: 1, unitPriceCents: 1 }] } }) },
          { category: 'oversized strings', headers: attacker(n), body: gqlBody(createMutation, { input: { currency: long, items: [{ sku: 'L-1', name: 'n', quantity: 1, unitPriceCents: 1 }] }, key: long }) },
          { category: 'oversized strings', headers: attacker(n), body: gqlBody('mutation($id: ID!, $r: String!) { cancelOrder(orderId: $id, reason: $r) { version } }', { id: long, r: long }) },
          { category: 'oversized strings', headers: attacker(n), body: gqlBody('mutation($id: ID!, $r: String!) { payOrder(orderId: $id, paymentReference: $r) { version } }', { id: 'x', r: `${long}\u0000` }) },
        ]);
      }],
      ['oversized bodies', 3, (n) => ({ category: 'oversized bodies', headers: rng.chance(0.5) ? json : attacker(n), body: gqlBody('{ __typename }', { pad: rng.text(rng.int(100_001, 400_000)) }), from: from(n) })],
      ['deep nesting', 8, (n) => {
        const depth = rng.int(8, 1500);
        return rng.pick<Spec>([
          { category: 'deep nesting', headers: attacker(n), body: gqlBody(`{ __type(name: "Order") { fields { type { ${deep(Math.min(depth, 300), 'ofType { ', '} ', 'name ')}} } } }`) },
          { category: 'deep nesting', headers: attacker(n), body: gqlBody(`{ ${deep(depth, 'a { ', '} ', 'b ')}}`) },
          { category: 'deep nesting', headers: attacker(n), body: gqlBody(`{ order(id: ${deep(depth, '[', ']', '"x"')}) { id } }`) },
          // Built as text: JSON.stringify itself overflows the stack on values this deep.
          { category: 'deep nesting', headers: attacker(n), body: `{"query":${JSON.stringify(orderQuery)},"variables":{"id":${deep(Math.min(depth * 30, 45_000), '[', ']', '"x"')}}}` },
          { category: 'deep nesting', headers: attacker(n), body: gqlBody(`{ __schema { types { ${deep(Math.min(depth, 50), 'fields { type { ', '} } ', 'name ')}} } }`) },
        ]);
      }],
      ['alias bombs', 7, (n) => {
        const count = rng.int(16, 400);
        const field = rng.pick(['order(id: "x") { id }', '__typename', 'order(id: "x") { items { sku } freshness { version } }']);
        return rng.pick<Spec>([
          { category: 'alias bombs', headers: attacker(n), body: gqlBody(`{ ${Array.from({ length: count }, (_, i) => `a${i}: ${field}`).join(' ')} }`) },
          { category: 'alias bombs', headers: attacker(n), body: gqlBody(`query { ...F ${'...F '.repeat(rng.int(1, 50))}} fragment F on Query { ${Array.from({ length: rng.int(5, 30) }, (_, i) => `f${i}: order(id: "x") { id }`).join(' ')} }`) },
          { category: 'alias bombs', headers: attacker(n), body: gqlBody(`{ __typename ${'@include(if: true) '.repeat(count)}}`) },
        ]);
      }],
      ['forged tokens', 6, (n) => ({ category: 'forged tokens', headers: { ...json, authorization: `Bearer ${badTokens.forged}` }, body: gqlBody(rng.pick([createMutation, orderQuery]), { id: 'x', input: { items: [{ sku: 'F-1', name: 'f', quantity: 1, unitPriceCents: 1 }] } }), from: from(n) })],
      ['expired tokens', 4, (n) => ({ category: 'expired tokens', headers: { ...json, authorization: `Bearer ${badTokens.expired}` }, body: gqlBody(createMutation, { input: { items: [{ sku: 'E-1', name: 'e', quantity: 1, unitPriceCents: 1 }] } }), from: from(n) })],
      ['alg none and RS256 tokens', 5, (n) => ({ category: 'alg none and RS256 tokens', headers: { ...json, authorization: `Bearer ${rng.pick([badTokens.none, badTokens.rs256, badTokens.garbage])}` }, body: gqlBody(createMutation, { input: { items: [{ sku: 'N-1', name: 'n', quantity: 1, unitPriceCents: 1 }] } }), from: from(n) })],
      ["other users' ids", 10, (n) => {
        const index = rng.int(0, 1000);
        const [query, variables, expectNullOrder] = rng.pick<[string, Record<string, unknown>, boolean]>([
          [orderQuery, {}, true],
          [orderQuery, { minVersion: rng.int(1, 50), timeoutMs: rng.int(0, 50) }, true],
          ['mutation($id: ID!) { addOrderItem(orderId: $id, item: { sku: "EVIL-1", name: "evil", quantity: 1, unitPriceCents: 0 }) { version } }', {}, false],
          ['mutation($id: ID!) { removeOrderItem(orderId: $id, sku: "SKU-1") { version } }', {}, false],
          ['mutation($id: ID!) { confirmOrder(orderId: $id) { version } }', {}, false],
          ['mutation($id: ID!) { payOrder(orderId: $id, paymentReference: "stolen") { version } }', {}, false],
          ['mutation($id: ID!) { cancelOrder(orderId: $id, reason: "mine now") { version } }', {}, false],
          ['mutation($id: ID!) { shipOrder(orderId: $id, trackingNumber: "T") { version } }', {}, false],
          ['mutation($id: ID!, $key: String) { confirmOrder(orderId: $id, expectedVersion: 1, idempotencyKey: $key) { version } }', { key: rng.text(12) }, false],
          ['mutation($id: ID!, $v: Int) { cancelOrder(orderId: $id, reason: "r", expectedVersion: $v) { version } }', { v: rng.int(2, 9) }, false],
        ]);
        return { category: "other users' ids", headers: attacker(n), atVictim: { query, variables, index, expectNullOrder } };
      }],
      ['unknown fields', 6, (n) => ({
        category: 'unknown fields',
        headers: rng.chance(0.5) ? attacker(n) : json,
        from: from(n),
        body: gqlBody(
          rng.pick([
            `{ ${rng.text(8, 'abcdefgh')} }`,
            `{ order(id: "x") { ${rng.text(6, 'abcxyz')} } }`,
            `{ order(id: "x", ${rng.text(4, 'abc')}: 1) { id } }`,
            'mutation { createOrder(input: { items: [], bogus: 1 }) { orderId } }',
            `{ ... on ${rng.text(6, 'XYZ')} { id } }`,
            '{ __typename } extra',
            `subscription { ${rng.text(5, 'abc')} }`,
          ]),
        ),
      })],
      ['invalid cursors', 5, (n) => ({
        category: 'invalid cursors',
        headers: attacker(n),
        body: gqlBody('query($first: Int, $after: String, $status: OrderStatus, $userId: ID) { orders(first: $first, after: $after, status: $status, userId: $userId) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } totalCount } }', {
          first: rng.pick([-1, 0, 1, 20, 1000, 2 ** 31 - 1]),
          after: rng.pick([rng.text(rng.int(1, 200), 'abc+/=_-!@#'), Buffer.from(rng.text(20)).toString('base64'), '', '-1', '\u00ff\u00fe']),
          status: rng.pick([null, 'PAID']),
          userId: rng.pick([null, 'someone-else']),
        }),
      })],
      ['huge batches', 4, (n) => {
        const size = rng.int(11, 300);
        const small = rng.int(2, 10);
        const hostileOperation = () => rng.pick([{ query: '{ __typename }' }, { query: '{ order(' }, { query: `{ ${'a: __typename '.repeat(20)}}` }, { query: 42 }, null]);
        return rng.chance(0.6)
          ? { category: 'huge batches', headers: json, body: JSON.stringify(Array.from({ length: size }, () => ({ query: '{ __typename }' }))), from: from(n) }
          : { category: 'huge batches', headers: attacker(n), body: JSON.stringify(Array.from({ length: small }, hostileOperation)) };
      }],
      ['hostile order ids', 6, (n) => ({
        category: 'hostile order ids',
        headers: attacker(n),
        body: gqlBody(createMutation, { input: { orderId: rng.pick(['poison id', '', 'a.b', 'orders.*', 'orders.>', 'x'.repeat(65), '\u00fcber-1', 'tab\tid', 'a:b', '{tag}', ' ']), items: [{ sku: 'H-1', name: 'h', quantity: 1, unitPriceCents: 1 }] } }),
      })],
      ['lone surrogates', 5, (n) => {
        const lone = rng.pick(['\ud800', '\udfff', 'a\ud83c', '\udc00b']);
        return rng.pick<Spec>([
          { category: 'lone surrogates', headers: attacker(n), body: gqlBody(createMutation, { input: { items: [{ sku: 'S-1', name: lone, quantity: 1, unitPriceCents: 1 }] } }) },
          { category: 'lone surrogates', headers: attacker(n), body: gqlBody(createMutation, { input: { currency: lone, items: [{ sku: 'S-1', name: 's', quantity: 1, unitPriceCents: 1 }] }, key: lone }) },
          { category: 'lone surrogates', headers: attacker(n), body: gqlBody('mutation($id: ID!, $r: String!) { cancelOrder(orderId: $id, reason: $r) { version } }', { id: lone, r: lone }) },
          { category: 'lone surrogates', headers: attacker(n), body: gqlBody(`mutation { createOrder(input: { items: [{ sku: "S-2", name: "x${lone.replace(/[\ud800-\udfff]/g, (unit) => `\\u${unit.charCodeAt(0).toString(16)}`)}", quantity: 1, unitPriceCents: 1 }] }) { orderId } }`) },
          { category: 'lone surrogates', headers: { ...json, authorization: `Bearer ${badTokens.loneSurrogate}` }, body: gqlBody('{ orders { totalCount } }'), from: from(n) },
          { category: 'lone surrogates', headers: { ...json, authorization: `Bearer ${badTokens.noExp}` }, body: gqlBody('{ orders { totalCount } }'), from: from(n) },
        ]);
      }],
      ['subs spelling other keys', 6, () => {
        const speller = rng.pick(keySpellers);
        return {
          category: 'subs spelling other keys',
          headers: { ...json, authorization: `Bearer ${speller.token}` },
          body: gqlBody('query($s: OrderStatus) { orders(status: $s, first: 100) { totalCount edges { node { id userId items { name } } } } }', { s: rng.pick([null, 'CREATED', 'CONFIRMED', 'PAID', 'CANCELLED', 'DELIVERED']) }),
          ownerOnly: speller.sub,
        };
      }],
      ['CSRF and transport', 5, (n) =>
        rng.pick<Spec>([
          { category: 'CSRF and transport', method: 'GET', path: `/graphql?query=${encodeURIComponent('{ __typename }')}`, headers: {}, from: from(n) },
          { category: 'CSRF and transport', headers: { 'content-type': 'text/plain' }, body: gqlBody('{ __typename }'), from: from(n) },
          { category: 'CSRF and transport', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'query=%7B__typename%7D', from: from(n) },
          { category: 'CSRF and transport', method: rng.pick(['PUT', 'DELETE', 'PATCH']), headers: json, body: gqlBody('{ __typename }'), from: from(n) },
          { category: 'CSRF and transport', headers: { 'content-type': 'application/xml' }, body: '<query/>', from: from(n) },
          { category: 'CSRF and transport', headers: { ...json, accept: 'image/png' }, body: gqlBody('{ __typename }'), from: from(n) },
          { category: 'CSRF and transport', method: 'GET', path: `/graphql?query=${encodeURIComponent('mutation { confirmOrder(orderId: "x") { version } }')}`, headers: { 'x-graphql-yoga-csrf': '1' }, from: from(n) },
          { category: 'CSRF and transport', headers: { 'content-type': 'application/json', 'content-length': '-5' }, body: '', from: from(n) },
        ]),
      ],
    ];
    const totalWeight = generators.reduce((sum, [, weight]) => sum + weight, 0);
    const specs: Spec[] = Array.from({ length: hostileCount }, (_, n) => {
      let roll = rng() * totalWeight;
      const [, , make] = generators.find(([, weight]) => (roll -= weight) < 0) ?? generators[0]!;
      return make(n);
    });
    // And a flood from one anonymous address, past RATE_LIMIT_PER_MINUTE.
    for (let n = 0; n < rateLimitPerMinute + 30; n++) specs.push({ category: 'flood from one address', headers: json, body: gqlBody('{ __typename }'), from: '127.0.0.99' });

    // ---- the tallies -------------------------------------------------------------------------------
    const byCategory = new Map<string, { requests: number; codes: Map<string, number> }>();
    const violations: string[] = [];
    const record = (category: string, outcome: string[]) => {
      const entry = byCategory.get(category) ?? { requests: 0, codes: new Map<string, number>() };
      entry.requests++;
      for (const code of outcome) entry.codes.set(code, (entry.codes.get(code) ?? 0) + 1);
      byCategory.set(category, entry);
    };

    async function fire(spec: Spec): Promise<void> {
      const body = spec.atVictim ? gqlBody(spec.atVictim.query, { ...spec.atVictim.variables, id: victim(spec.atVictim.index) }) : spec.body;
      const answer = await send(server.url, { ...spec, body }).catch((error: Error) => ({ status: 0, text: `connection failed: ${error.message}`, headers: {} }));
      const { codes, violation } = answer.status === 0 ? { codes: [], violation: answer.text } : judge(answer.status, answer.text);
      if (violation) violations.push(`[${spec.category}] ${violation}`);
      if (spec.atVictim?.expectNullOrder && codes.includes('ok') && JSON.parse(answer.text).data?.order !== null) violations.push(`[${spec.category}] another user's order was readable: ${answer.text.slice(0, 200)}`);
      if (spec.ownerOnly !== undefined && codes.includes('ok')) {
        const listed = JSON.parse(answer.text).data.orders as { totalCount: number; edges: { node: { userId: string } }[] };
        if (listed.totalCount !== 0 || listed.edges.some((edge) => edge.node.userId !== spec.ownerOnly)) violations.push(`[${spec.category}] ${spec.ownerOnly} listed others' orders: ${answer.text.slice(0, 200)}`);
      }
      record(spec.category, [...codes.map((code) => `${code}`), `HTTP ${answer.status}`]);
    }

    // ---- WebSocket: hostile sessions ---------------------------------------------------------------
    const wsUrl = `${server.url.replace(/^http/, 'ws')}/graphql`;
    type WsOutcome = { close: number | null; messages: any[] };
    function session(script: { init?: Record<string, unknown> | null; messages: (string | Buffer | object)[]; from?: string; waitForAck?: boolean; waitMs?: number }): Promise<WsOutcome> {
      return new Promise((resolve) => {
        const socket = new WebSocket(wsUrl, 'graphql-transport-ws', { localAddress: script.from });
        const messages: any[] = [];
        let done = false;
        const finish = (close: number | null) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          resolve({ close, messages });
          socket.terminate();
        };
        const timer = setTimeout(() => finish(null), script.waitMs ?? 4000);
        const expected = script.messages.filter((m) => typeof m === 'object' && !Buffer.isBuffer(m) && (m as { type?: string }).type === 'subscribe').length;
        const flush = () => {
          for (const message of script.messages) socket.send(typeof message === 'string' || Buffer.isBuffer(message) ? message : JSON.stringify(message));
        };
        socket.on('open', () => {
          if (script.init !== null) socket.send(JSON.stringify({ type: 'connection_init', payload: script.init ?? {} }));
          if (script.waitForAck === false) flush();
        });
        socket.on('message', (data) => {
          const message = JSON.parse(String(data));
          messages.push(message);
          if (message.type === 'connection_ack' && script.waitForAck !== false) flush();
          const answered = new Set(messages.filter((m) => m.type === 'error' || m.type === 'complete' || m.type === 'next').map((m) => m.id)).size;
          if (expected > 0 && answered >= expected) finish(null);
        });
        socket.on('close', (code) => finish(code));
        socket.on('error', () => finish(-1));
      });
    }
    /** `silentOk`: a subscription to an order the caller may not see can also just stay silent. */
    function judgeWs(category: string, outcome: WsOutcome, expectClose: boolean, silentOk = false): void {
      const seen: string[] = [];
      if (outcome.close !== null) {
        if (!documentedCloseCodes.has(outcome.close)) violations.push(`[${category}] closed with ${outcome.close}`);
        seen.push(`close ${outcome.close}`);
      } else if (expectClose) violations.push(`[${category}] expected the server to close the connection`);
      for (const message of outcome.messages) {
        if (message.type === 'connection_ack' || message.type === 'complete' || message.type === 'pong') continue;
        const errors = message.type === 'error' ? message.payload : message.payload?.errors;
        if (!errors?.length) {
          if (message.payload?.data?.orderUpdated) violations.push(`[${category}] another user's order was pushed: ${JSON.stringify(message).slice(0, 200)}`);
          seen.push('ok');
          continue;
        }
        for (const error of errors) {
          const code = error.extensions?.code;
          if (!documented.has(code)) violations.push(`[${category}] undocumented code ${code}: ${JSON.stringify(error).slice(0, 200)}`);
          seen.push(code);
        }
      }
      if (seen.length === 0 && silentOk) seen.push('silent');
      if (seen.length === 0) violations.push(`[${category}] no answer at all: ${JSON.stringify(outcome).slice(0, 200)}`);
      record(category, seen);
    }
    const wsSessions: (() => Promise<void>)[] = [];
    const subscription = (id: string, query: string, variables: Record<string, unknown> = {}) => ({ id, type: 'subscribe', payload: { query, variables } });
    for (let n = 0; n < Math.ceil(hostileCount / 8); n++) {
      const kind = rng.int(0, 6);
      const address = from(n);
      const token = attackers[n % attackers.length]!;
      if (kind === 0) {
        const payload = rng.chance(0.5) ? rng.bytes(rng.int(1, 500)) : rng.text(rng.int(1, 200));
        wsSessions.push(async () => judgeWs('ws: garbage frames', await session({ init: {}, messages: [payload], from: address }), true));
      } else if (kind === 1) {
        const bad = rng.pick(Object.values(badTokens));
        wsSessions.push(async () => judgeWs('ws: bad tokens at init', await session({ init: { authorization: rng.pick([`Bearer ${bad}`, bad, 42]) }, messages: [], from: address }), true));
      } else if (kind === 2) {
        wsSessions.push(async () => judgeWs('ws: subscribe before ack', await session({ init: null, messages: [subscription('1', '{ __typename }')], waitForAck: false, from: address }), true));
      } else if (kind === 3) {
        const index = rng.int(0, 1000);
        wsSessions.push(async () =>
          judgeWs(
            "ws: other users' orders",
            await session({ init: { authorization: `Bearer ${token}` }, messages: [subscription('1', 'subscription($id: ID!) { orderUpdated(id: $id) { version order { userId } } }', { id: victim(index) })], waitMs: 1500 }),
            false,
            true,
          ),
        );
      } else if (kind === 4) {
        const operations = Array.from({ length: rng.int(1, 3) }, (_, i) =>
          subscription(
            String(i),
            rng.pick([
              `{ ${Array.from({ length: rng.int(16, 100) }, (_, j) => `a${j}: order(id: "x") { id }`).join(' ')} }`,
              `{ __type(name: "Order") { fields { type { ${'ofType { '.repeat(20)}name${' }'.repeat(20)} } } } }`,
              `{ ${'__typename '.repeat(rng.int(1001, 1500))}}`,
              '{ order(id: ',
              `{ ${rng.text(6, 'xyz')} }`,
              'query($id: ID!) { order(id: $id) { id } }',
              'mutation { createOrder(input: { items: [{ sku: "W", name: "\\u0000", quantity: 1, unitPriceCents: 1 }] }) { orderId } }',
            ]),
            { id: rng.pick<unknown>([[1], { a: 1 }, 5.5]) },
          ),
        );
        wsSessions.push(async () => judgeWs('ws: hostile operations', await session({ init: { authorization: `Bearer ${token}` }, messages: operations }), false));
      } else if (kind === 5) {
        wsSessions.push(async () => judgeWs('ws: anonymous subscriptions', await session({ init: {}, messages: [subscription('1', 'subscription { orderUpdated(id: "x") { version } }')], from: address }), false));
      } else {
        wsSessions.push(async () =>
          judgeWs('ws: duplicate ids', await session({ init: { authorization: `Bearer ${token}` }, messages: [subscription('7', 'subscription { orderUpdated(id: "x") { version } }'), subscription('7', '{ __typename }')] }), true),
        );
      }
    }

    // ---- SSE subscribers that never read: long replays and live streams, each dropped once stalled ---
    /** Opens an SSE subscription and reads nothing; answers the status, then lets the server drop it. */
    function unreadSse(token: string, query: string, variables: Record<string, unknown>): Promise<Answer> {
      return new Promise((resolve) => {
        const body = gqlBody(query, variables);
        const target = new URL(`${server.url}/graphql`);
        const req = httpRequest({ host: target.hostname, port: target.port, path: target.pathname, method: 'POST', headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}`, 'content-length': Buffer.byteLength(body) } }, (res) => {
          res.pause();
          resolve({ status: res.statusCode ?? 0, text: '', headers: res.headers });
          setTimeout(() => req.destroy(), rng.int(200, 3000));
        });
        req.on('error', () => resolve({ status: 0, text: 'connection failed', headers: {} }));
        req.end(body);
      });
    }
    const sseSessions: (() => Promise<void>)[] = [];
    const replayer = await tokenFor(uniqueName('replayer'));
    let longOrder = '';
    for (let n = 0; n < 24; n++)
      sseSessions.push(async () => {
        const category = n % 2 ? 'unread SSE: long replays' : 'unread SSE: live streams';
        const answer = await unreadSse(replayer, n % 2 ? 'subscription($id: ID!) { orderUpdated(id: $id, sinceVersion: 0) { version order { items { name } } } }' : 'subscription { myOrdersUpdated { version } }', { id: longOrder });
        if (answer.status !== 200 && answer.status !== 429) violations.push(`[${category}] HTTP ${answer.status}`);
        record(category, [`HTTP ${answer.status}`]);
      });

    // ---- valid commands from several users, and what they must leave in the event store ------------
    const expected = new Map<string, string>(); // `${orderId}@${version}` → event type
    let validCommands = 0;
    let refusedForCapacity = 0;
    async function valid(token: string, query: string, variables: Record<string, unknown>): Promise<any> {
      let answer = await send(server.url, { headers: { ...json, authorization: `Bearer ${token}` }, body: gqlBody(query, variables) });
      // At capacity (the barrage is 24 clients at once) a command may be refused before it runs, with
      // SERVICE_UNAVAILABLE and Retry-After: the documented answer to retry. A client does, after the delay.
      for (let retry = 0; retry < 10 && /"code":"SERVICE_UNAVAILABLE"/.test(answer.text); retry++) {
        refusedForCapacity++;
        if (answer.status !== 503 || !answer.headers?.['retry-after']) throw new Error(`a refusal for capacity without 503 and Retry-After: ${answer.status}`);
        await new Promise((resolve) => setTimeout(resolve, Number(answer.headers['retry-after']) * 1000));
        answer = await send(server.url, { headers: { ...json, authorization: `Bearer ${token}` }, body: gqlBody(query, variables) });
      }
      validCommands++;
      const body = JSON.parse(answer.text);
      if (answer.status !== 200 || body.errors) throw new Error(`a valid command failed (${answer.status}): ${answer.text.slice(0, 300)}`);
      const result = Object.values(body.data)[0] as { orderId?: string; version: number; events?: string[] };
      return result;
    }
    const remember = (orderId: string, result: { version: number; events: string[] }) =>
      result.events.forEach((type, i) => expected.set(`${orderId}@${result.version - result.events.length + 1 + i}`, type));
    const admin = await tokenFor(uniqueName('ops'), true);
    async function customer(name: string, chain: Random): Promise<void> {
      const token = await tokenFor(`${uniqueName(name)}`);
      for (let k = 0; k < 4; k++) {
        const items = Array.from({ length: chain.int(1, 3) }, (_, i) => ({ sku: `SKU-${i + 1}`, name: `Item ${i + 1}`, quantity: chain.int(1, 5), unitPriceCents: chain.int(100, 10_000) }));
        const idempotencyKey = chain.chance(0.5) ? uniqueName('key') : null;
        const created = await valid(token, createMutation, { input: { items }, key: idempotencyKey });
        const orderId = created.orderId as string;
        remember(orderId, created);
        victims.push(orderId);
        if (idempotencyKey) remember(orderId, await valid(token, createMutation, { input: { items }, key: idempotencyKey })); // a retry: no second event
        const command = async (mutation: string, variables: Record<string, unknown> = {}, as = token) => remember(orderId, await valid(as, mutation, { id: orderId, ...variables }));
        await command('mutation($id: ID!) { addOrderItem(orderId: $id, item: { sku: "EXTRA", name: "Extra", quantity: 2, unitPriceCents: 50 }) { version events } }');
        if (items.length > 1) await command('mutation($id: ID!) { removeOrderItem(orderId: $id, sku: "SKU-1") { version events } }');
        const path = chain.int(0, 3);
        if (path === 0) await command('mutation($id: ID!) { cancelOrder(orderId: $id, reason: "changed my mind") { version events } }');
        if (path >= 1) await command('mutation($id: ID!) { confirmOrder(orderId: $id) { version events } }');
        if (path >= 2) await command('mutation($id: ID!) { payOrder(orderId: $id, paymentReference: "PAY-1") { version events } }');
        if (path === 3) {
          await command('mutation($id: ID!) { shipOrder(orderId: $id, trackingNumber: "TRACK-1") { version events } }', {}, admin);
          await command('mutation($id: ID!) { deliverOrder(orderId: $id) { version events } }', {}, admin);
        }
        await new Promise((resolve) => setTimeout(resolve, chain.int(0, 40)));
      }
    }

    // ---- run it all at once, polling /readyz ------------------------------------------------------
    const readiness: number[] = [];
    let polling = true;
    const poller = (async () => {
      while (polling) {
        readiness.push(await fetch(`${server.url}/readyz`).then((r) => r.status, () => 0));
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    // One order with a long history for the replays: 60 item changes after its creation.
    const longLines = Array.from({ length: 20 }, (_, i) => ({ sku: `LONG-${i}`, name: `Line ${i}`.padEnd(200, '.'), quantity: 1, unitPriceCents: 10 }));
    const long = await valid(replayer, createMutation, { input: { items: longLines } });
    longOrder = long.orderId;
    remember(longOrder, long);
    for (let k = 0; k < 60; k++) {
      const change = k % 2 === 0 ? await valid(replayer, 'mutation($id: ID!) { removeOrderItem(orderId: $id, sku: "LONG-0") { version events } }', { id: longOrder }) : await valid(replayer, 'mutation($id: ID!, $item: OrderItemInput!) { addOrderItem(orderId: $id, item: $item) { version events } }', { id: longOrder, item: longLines[0] });
      remember(longOrder, change);
    }
    const startedAt = Date.now();
    // Customers first get a head start, so "other users' ids" has real victims to aim at.
    const customers = ['alice', 'bob', 'carol', 'dave', 'erin'].map((name, i) => customer(name, seededRandom(seed + i + 1)));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const queue = [...specs.map((spec) => () => fire(spec)), ...wsSessions, ...sseSessions];
    for (let i = queue.length - 1; i > 0; i--) {
      const j = rng.int(0, i);
      [queue[i], queue[j]] = [queue[j]!, queue[i]!];
    }
    const workers = Array.from({ length: 12 }, async () => {
      for (let task = queue.shift(); task; task = queue.shift()) await task();
    });
    await Promise.all([...workers, ...customers]);
    polling = false;
    await poller;
    const elapsed = Date.now() - startedAt;

    // ---- the event store holds the valid commands' events, and nothing else -----------------------
    const db = new pg.Client({ connectionString: database.url });
    await db.connect();
    const { rows } = await db.query<{ stream_id: string; version: number; type: string; user_id: string; data: unknown }>(
      "SELECT stream_id, version, type, metadata->>'userId' AS user_id, data FROM events ORDER BY stream_id, version",
    );
    await db.end();
    const stored = new Map(rows.map((row) => [`${row.stream_id}@${row.version}`, row.type]));
    const unexpected = rows.filter((row) => !expected.has(`${row.stream_id}@${row.version}`));

    // ---- the summary --------------------------------------------------------------------------------
    const total = [...byCategory.values()].reduce((sum, entry) => sum + entry.requests, 0);
    const allCodes = new Map<string, number>();
    const lines = [...byCategory.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([category, entry]) => {
        for (const [code, count] of entry.codes) allCodes.set(code, (allCodes.get(code) ?? 0) + count);
        const codes = [...entry.codes.entries()].sort(([, a], [, b]) => b - a).map(([code, count]) => `${code}×${count}`).join(' ');
        return `  ${category.padEnd(28)} ${String(entry.requests).padStart(4)}  ${codes}`;
      });
    console.log(
      [
        `barrage: seed ${seed}, ${total} hostile requests (${specs.length} HTTP, ${wsSessions.length} WebSocket sessions, ${sseSessions.length} unread SSE streams) and ${validCommands} valid commands (${refusedForCapacity} refused for capacity first, then retried) in ${(elapsed / 1000).toFixed(1)} s`,
        ...lines,
        `  codes seen: ${[...allCodes.entries()].sort(([, a], [, b]) => b - a).map(([code, count]) => `${code}×${count}`).join(' ')}`,
        `  /readyz: ${readiness.length} polls, ${readiness.filter((s) => s === 200).length} answered 200`,
        `  event store: ${stored.size} events, ${expected.size} expected from the valid commands`,
        ...unexpected.map((row) => `  UNEXPECTED EVENT ${row.type} by ${row.user_id}: ${JSON.stringify(row.data).slice(0, 200)}`),
        violations.length ? `  VIOLATIONS (${violations.length}):\n    ${violations.slice(0, 30).join('\n    ')}` : '  violations: none',
      ].join('\n'),
    );

    expect(total).toBeGreaterThanOrEqual(500);
    expect(violations).toEqual([]);
    expect(readiness.length).toBeGreaterThan(5);
    expect(readiness.every((status) => status === 200)).toBe(true);
    expect(server.process.exitCode).toBeNull();
    expect(Object.fromEntries(stored)).toEqual(Object.fromEntries(expected));
    // The limiter took part: the flood from one address and the attackers' tokens ran out of budget.
    expect(allCodes.get('RATE_LIMITED') ?? 0).toBeGreaterThan(0);
  });
});
