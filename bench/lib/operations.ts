// The requests the scenarios send, written once so the CQRS and CRUD servers get the same text.
import pg from 'pg';
import type { BenchEnv, Deployment } from './env.js';
import { benchUser, GraphQLHttp, items, orderFields, tokenFor } from './graphql.js';

export const createOrderMutation = 'mutation Create($input: CreateOrderInput!) { createOrder(input: $input) { orderId } }';
export const orderQuery = `query Order($id: ID!) { order(id: $id) { ${orderFields} } }`;
const awaitOrderQuery = 'query Await($id: ID!, $minVersion: Int, $timeoutMs: Int) { order(id: $id, minVersion: $minVersion, timeoutMs: $timeoutMs) { version } }';

/** createOrder as client `client`'s own user; works on both servers. */
export async function createOrder(http: GraphQLHttp, client: number): Promise<string> {
  const data = await http.request<{ createOrder: { orderId: string } }>(createOrderMutation, { input: { items } }, await tokenFor(benchUser(client)));
  return data.createOrder.orderId;
}

export async function readOrder(http: GraphQLHttp, client: number, id: string): Promise<void> {
  const data = await http.request<{ order: unknown }>(orderQuery, { id }, await tokenFor(benchUser(client)));
  if (!data.order) throw new Error(`order ${id} not found`);
}

/** Orders for every client's user, so each client later reads orders it may see. */
export async function seedOrders(http: GraphQLHttp, clients: number, perUser: number): Promise<string[][]> {
  return Promise.all(Array.from({ length: clients }, async (_, client) => {
    const ids: string[] = [];
    for (let i = 0; i < perUser; i++) ids.push(await createOrder(http, client));
    return ids;
  }));
}

/**
 * Right after a closed loop past the peak, a process that runs the command role may still refuse for a few
 * seconds (its early-refusal probability decays, and HTTP reads share it): do as a client should with
 * SERVICE_UNAVAILABLE and Retry-After (1 s).
 */
export async function unlessUnavailable<T>(operation: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation();
    } catch (error) {
      if (attempt >= 20 || !String(error).includes('SERVICE_UNAVAILABLE')) throw error;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

/**
 * Waits until the CQRS deployment has published its whole outbox and projected one order created after
 * everything else, so its relay and projectors are idle before the next measurement instead of competing
 * with it. Returns how long that took: the backlog the last load left behind, in seconds.
 */
export async function settle(env: BenchEnv, deployment: Deployment): Promise<number> {
  const started = performance.now();
  const command = new GraphQLHttp(deployment.commandUrl, 1);
  const query = new GraphQLHttp(deployment.queryUrl, 1);
  const db = new pg.Client({ connectionString: env.databaseUrl });
  await db.connect();
  try {
    const last = await unlessUnavailable(() => createOrder(command, 0));
    for (const deadline = Date.now() + 120_000; ; ) {
      const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL AND dead_lettered_at IS NULL');
      if (rows[0]?.n === 0) break;
      if (Date.now() > deadline) throw new Error(`outbox still has ${rows[0]?.n} unpublished rows after 120 s`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const token = await tokenFor(benchUser(0));
    await unlessUnavailable(() => query.request(awaitOrderQuery, { id: last, minVersion: 1, timeoutMs: 30_000 }, token));
    return (performance.now() - started) / 1000;
  } finally {
    await db.end();
    command.close();
    query.close();
  }
}
