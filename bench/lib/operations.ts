// The requests the scenarios send, written once so the CQRS and CRUD servers get the same text.
import pg from 'pg';
import type { BenchEnv } from './env.js';
import { benchUser, type GraphQLHttp, items, orderFields, tokenFor } from './graphql.js';

const createOrderMutation = 'mutation Create($input: CreateOrderInput!) { createOrder(input: $input) { orderId } }';
const orderQuery = `query Order($id: ID!) { order(id: $id) { ${orderFields} } }`;
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
 * Waits until the CQRS service has published its outbox and projected `orderId` (created by `client`),
 * so its relay and projector are idle before the next measurement instead of competing with it.
 */
export async function settle(env: BenchEnv, http: GraphQLHttp, client: number, orderId: string): Promise<void> {
  const db = new pg.Client({ connectionString: env.databaseUrl });
  await db.connect();
  try {
    for (const deadline = Date.now() + 60_000; ; ) {
      const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL');
      if (rows[0]?.n === 0) break;
      if (Date.now() > deadline) throw new Error(`outbox still has ${rows[0]?.n} unpublished rows after 60 s`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    await db.end();
  }
  await http.request(awaitOrderQuery, { id: orderId, minVersion: 1, timeoutMs: 30_000 }, await tokenFor(benchUser(client)));
}
