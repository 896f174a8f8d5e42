// SERVICE_UNAVAILABLE (API.md): while Postgres (commands) or Redis (reads) does not answer, the operation
// fails at once with that code, HTTP 503 and Retry-After; commands keep working while only Redis is away;
// and after Redis comes back empty, no existing order reads as null while the read models are rebuilt.
// Private Postgres and Redis (the fault harness's), killed and restarted here; the shared NATS.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrivatePostgres, PrivateRedis } from '../../faults/infra.js';
import { applyMigrations } from '../../src/infrastructure/postgres/migrate.js';
import { uniqueName, urls } from '../services.js';
import { createOrderMutation, orderQuery, type StartedServer, startServer, tokenFor, wsClient } from './harness.js';

let dir: string;
let postgres: PrivatePostgres;
let redis: PrivateRedis;
let server: StartedServer;
const stream = uniqueName('UNAVAILABLE').toUpperCase();
let token: string;
const items = [{ sku: 'A-1', name: 'Apple', quantity: 2, unitPriceCents: 150 }];

/** One POST with its status and headers; aborted (a failure) if it takes longer than the contract's 2 s. */
async function post(query: string, variables: Record<string, unknown>) {
  const response = await fetch(`${server.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(2000),
  });
  return { status: response.status, retryAfter: response.headers.get('retry-after'), body: (await response.json()) as { data?: any; errors?: { extensions?: { code?: string } }[] } };
}

const createOrder = () => post(createOrderMutation, { input: { items } });
const readOrder = (id: string) => post(orderQuery, { id });

beforeAll(async () => {
  token = await tokenFor('alice');
  dir = await mkdtemp(path.join(os.tmpdir(), 'cqrs-unavailable-'));
  const { chmod } = await import('node:fs/promises');
  await chmod(dir, 0o755);
  postgres = await PrivatePostgres.create(dir, dir);
  redis = await PrivateRedis.create(dir, dir);
  await applyMigrations({ url: postgres.url });
  server = await startServer({ DATABASE_URL: postgres.url, REDIS_URL: redis.url, NATS_URL: urls.nats, NATS_STREAM: stream, NATS_SUBJECT_PREFIX: `${stream.toLowerCase()}.events`, REDIS_PREFIX: 'unavailable' });
}, 120_000);

afterAll(async () => {
  await server?.stop();
  await redis?.process.close();
  await postgres?.process.close();
  const nc = await connect({ servers: urls.nats });
  await (await jetstreamManager(nc)).streams.delete(stream).catch(() => {});
  await nc.close();
  await rm(dir, { recursive: true, force: true });
});

describe('when Postgres is down', () => {
  it('refuses commands with SERVICE_UNAVAILABLE, HTTP 503 and Retry-After, over HTTP and WebSocket, and names postgres in /readyz', async () => {
    await postgres.stop('fast');
    try {
      const answer = await createOrder();
      expect(answer.body.errors?.[0]?.extensions?.code).toBe('SERVICE_UNAVAILABLE');
      expect(answer.status).toBe(503);
      expect(Number(answer.retryAfter)).toBeGreaterThanOrEqual(1);

      const client = wsClient(server.url, token);
      try {
        const result = await new Promise<any>((resolve, reject) => {
          let last: unknown;
          client.subscribe({ query: createOrderMutation, variables: { input: { items } } }, { next: (value) => (last = value), error: reject, complete: () => resolve(last) });
        });
        expect(result.errors?.[0]?.extensions?.code).toBe('SERVICE_UNAVAILABLE');
      } finally {
        await client.dispose();
      }

      const ready = await fetch(`${server.url}/readyz`, { signal: AbortSignal.timeout(5000) });
      expect(ready.status).toBe(503);
      expect(Object.keys(((await ready.json()) as { failing: Record<string, string> }).failing)).toContain('postgres');
    } finally {
      await postgres.start();
    }
  });

  it('answers commands again once Postgres is back', async () => {
    await expect.poll(async () => (await createOrder()).body.data?.createOrder?.version ?? null, { timeout: 30_000, interval: 250 }).toBe(1);
  });
});

describe('when Redis is down', () => {
  it('refuses reads with SERVICE_UNAVAILABLE, HTTP 503 and Retry-After, and still runs commands', async () => {
    const created = await createOrder();
    const orderId = created.body.data.createOrder.orderId as string;
    await expect.poll(async () => (await readOrder(orderId)).body.data?.order?.version ?? null, { timeout: 15_000 }).toBe(1);

    await redis.stop('SIGKILL');
    try {
      const read = await readOrder(orderId);
      expect(read.body.errors?.[0]?.extensions?.code).toBe('SERVICE_UNAVAILABLE');
      expect(read.status).toBe(503);
      expect(Number(read.retryAfter)).toBeGreaterThanOrEqual(1);

      // Receipts and rate limits live in Redis too, and are best effort: the command does not wait on them.
      const command = await createOrder();
      expect(command.body.errors).toBeUndefined();
      expect(command.body.data.createOrder.version).toBe(1);
    } finally {
      await redis.start();
    }
  });

  it('never answers null for an existing order while the read models are rebuilt from an empty Redis', async () => {
    await expect.poll(async () => (await createOrder()).status, { timeout: 15_000 }).toBe(200);
    const created = await createOrder();
    const orderId = created.body.data.createOrder.orderId as string;
    await expect.poll(async () => (await readOrder(orderId)).body.data?.order?.version ?? null, { timeout: 15_000 }).toBe(1);
    // Given complete read models (the rebuild after the previous test's restart has switched), which the
    // service has seen: it looks for the completeness marker at most once a second until it has.
    const probe = new Redis(redis.url);
    probe.on('error', () => {});
    try {
      await expect.poll(() => probe.exists('unavailable:info:complete:order'), { timeout: 30_000 }).toBe(1);
    } catch (error) {
      console.log('the read models did not become complete; the service said:\n', server.logs.filter((l) => /rebuil|complete|reconcil|warn|error/i.test(l)).slice(-30).map((l) => l.slice(0, 400)).join('\n'));
      throw error;
    } finally {
      probe.disconnect();
    }
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect((await readOrder(orderId)).body.data?.order?.version).toBe(1);

    await redis.stop('SIGKILL');
    await redis.start(); // empty: no persistence
    const answers: string[] = [];
    const deadline = Date.now() + 60_000;
    for (;;) {
      const read = await readOrder(orderId).catch((error: unknown) => ({ status: 0, body: { errors: [{ extensions: { code: String(error) } }] } as { data?: any; errors?: { extensions?: { code?: string } }[] } }));
      const order = read.body.data?.order;
      // A nullable field that fails reads as null beside its error: the error is the answer then.
      answers.push(read.body.errors?.length ? (read.body.errors[0]?.extensions?.code ?? `HTTP ${read.status}`) : order ? 'order' : 'null');
      if (order || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    if (answers.at(-1) !== 'order') console.log('never rebuilt; the service said:\n', server.logs.filter((l) => /rebuil|complete|warn|error/i.test(l)).slice(-30).map((l) => l.slice(0, 400)).join('\n'));
    expect(answers.at(-1)).toBe('order');
    expect(answers.filter((answer) => answer !== 'order' && answer !== 'SERVICE_UNAVAILABLE')).toEqual([]);
  }, 120_000);
});
