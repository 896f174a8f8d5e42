import { type ChildProcess, spawn } from 'node:child_process';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import { signToken } from '../../src/auth.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { uniqueName, urls } from '../services.js';

export const jwtSecret = 'e2e-secret-with-enough-length';
/** The service as deployed: compiled JavaScript, built once per test run (test/buildOnce.ts). */
export const serviceEntry = 'dist/main.js';

export interface StartedServer {
  url: string;
  process: ChildProcess;
  logs: string[];
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Starts the compiled service (`dist/main.js`, built by test/buildOnce.ts) as its own process, as `npm start`
 * does, and waits for its "service started" line.
 */
export async function startServer(env: Record<string, string>): Promise<StartedServer> {
  const child = spawn(process.execPath, [serviceEntry], {
    env: { PATH: process.env.PATH, NODE_ENV: 'test', HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', JWT_SECRET: jwtSecret, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${logs.join('\n')}`)), 60_000);
    const onLine = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        logs.push(line);
        try {
          const entry = JSON.parse(line) as { msg?: string; url?: string };
          if (entry.msg === 'service started' && entry.url) {
            clearTimeout(timer);
            resolve(entry.url.replace(/\/graphql$/, ''));
          }
        } catch {}
      }
    };
    child.stdout!.on('data', onLine);
    child.stderr!.on('data', onLine);
    void exited.then((code) => reject(new Error(`server exited with ${code}:\n${logs.join('\n')}`)));
  });
  return {
    url,
    process: child,
    logs,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}

export interface IsolatedServices {
  database: TestDatabase;
  /** The environment that points a server at the real services, inside this file's own corner of them. */
  env: Record<string, string>;
  stream: string;
  subjectPrefix: string;
  redisPrefix: string;
  /** Deletes the stream, the Redis keys under the prefix (and prefixes derived from it) and the database. */
  cleanup(): Promise<void>;
}

/** A fresh database, JetStream stream and Redis prefix on the real services, for one test file. */
export async function isolatedServices(name: string): Promise<IsolatedServices> {
  const database = await createTestDatabase();
  const stream = uniqueName(name).toUpperCase();
  const subjectPrefix = `${stream.toLowerCase()}.events`;
  const redisPrefix = uniqueName(name.toLowerCase());
  return {
    database,
    stream,
    subjectPrefix,
    redisPrefix,
    env: { DATABASE_URL: database.url, NATS_URL: urls.nats, REDIS_URL: urls.redis, NATS_STREAM: stream, NATS_SUBJECT_PREFIX: subjectPrefix, REDIS_PREFIX: redisPrefix },
    async cleanup() {
      const nc = await connect({ servers: urls.nats });
      await (await jetstreamManager(nc)).streams.delete(stream).catch(() => {});
      await nc.close();
      const redis = new Redis(urls.redis);
      const keys = await redis.keys(`${redisPrefix}*`);
      if (keys.length) await redis.del(...keys);
      await redis.quit();
      await database.drop();
    },
  };
}

export const tokenFor = (userId: string, admin = false) => signToken(userId, jwtSecret, { admin });

export interface GraphQLResponse<T = any> {
  data?: T;
  errors?: { message: string; extensions?: { code?: string } }[];
}

export async function gql<T = any>(url: string, query: string, variables: Record<string, unknown> = {}, token?: string): Promise<GraphQLResponse<T>> {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as GraphQLResponse<T>;
}

export function wsClient(url: string, token?: string): Client {
  return createClient({
    url: `${url.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
    retryAttempts: 0,
  });
}

/** Collects a subscription's messages; `next(n)` waits until n have arrived. */
export function collect<T = any>(client: Client, query: string, variables: Record<string, unknown>) {
  const messages: GraphQLResponse<T>[] = [];
  let waiting: { count: number; resolve: () => void } | null = null;
  let failure: unknown = null;
  let complete!: () => void;
  const completed = new Promise<void>((resolve) => (complete = resolve));
  const unsubscribe = client.subscribe<T>(
    { query, variables },
    {
      next: (message) => {
        messages.push(message as GraphQLResponse<T>);
        if (waiting && messages.length >= waiting.count) waiting.resolve();
      },
      error: (error) => {
        failure = error;
        waiting?.resolve();
      },
      complete: () => (complete(), waiting?.resolve()),
    },
  );
  return {
    messages,
    unsubscribe,
    /** Settles when the server completes the subscription. */
    completed,
    async next(count: number, timeoutMs = 10_000): Promise<GraphQLResponse<T>[]> {
      if (messages.length < count && !failure)
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`got ${messages.length} of ${count} messages: ${JSON.stringify(messages)}`)), timeoutMs);
          waiting = { count, resolve: () => (clearTimeout(timer), resolve()) };
        });
      if (failure) throw failure instanceof Error ? failure : new Error(JSON.stringify(failure));
      return messages.slice(0, count);
    },
  };
}

export const createOrderMutation = /* GraphQL */ `
  mutation Create($input: CreateOrderInput!, $key: String) {
    createOrder(input: $input, idempotencyKey: $key) { orderId version position commandId correlationId events }
  }
`;

export const orderQuery = /* GraphQL */ `
  query Order($id: ID!, $minVersion: Int, $timeoutMs: Int) {
    order(id: $id, minVersion: $minVersion, timeoutMs: $timeoutMs) {
      id userId status currency totalCents version createdAt updatedAt
      items { sku name quantity unitPriceCents lineTotalCents }
      freshness { version eventAt projectedAt lagMs ageMs }
    }
  }
`;

export const orderUpdatedSubscription = /* GraphQL */ `
  subscription Updated($id: ID!) {
    orderUpdated(id: $id) { eventType version previousVersion endToEndLagMs deliveredAt order { id status version items { sku quantity } } freshness { version } }
  }
`;
