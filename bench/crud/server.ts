// The CRUD baseline, as strong as a good engineer would write it: the same Yoga and GraphQL schema
// shape, the same authenticator (HS256 key imported once, verified tokens remembered until `exp`), and
// one SQL statement per request through `pg`: createOrder is one INSERT (items as jsonb), order(id) one
// SELECT. Its pool has the service's size (pg's default, 10). What the CQRS service costs beyond this
// is the price of its event store, outbox, bus, read models and security plugins.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSchema, createYoga } from 'graphql-yoga';
import pg from 'pg';
import { createAuthenticator } from '../../src/auth.js';
import type { Caller } from '../../src/domain/order/index.js';

const { DATABASE_URL, JWT_SECRET, PORT = '0', HOST = '127.0.0.1' } = process.env;
if (!DATABASE_URL || !JWT_SECRET) throw new Error('DATABASE_URL and JWT_SECRET are required');

const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 10 });
const authenticate = createAuthenticator({ secret: JWT_SECRET });

await pool.query(`CREATE TABLE IF NOT EXISTS crud_orders (
  id uuid PRIMARY KEY, user_id text NOT NULL, status text NOT NULL, currency text NOT NULL, total_cents integer NOT NULL,
  items jsonb NOT NULL, created_at timestamptz(3) NOT NULL DEFAULT now(), updated_at timestamptz(3) NOT NULL DEFAULT now())`);

interface ItemInput {
  sku: string;
  name: string;
  quantity: number;
  unitPriceCents: number;
}
interface OrderRow {
  id: string;
  user_id: string;
  status: string;
  currency: string;
  total_cents: number;
  items: ItemInput[];
  created_at: Date;
  updated_at: Date;
}

const schema = createSchema<{ caller: Caller | null }>({
  typeDefs: /* GraphQL */ `
    type OrderItem { sku: String!  name: String!  quantity: Int!  unitPriceCents: Int!  lineTotalCents: Int! }
    type Order { id: ID!  userId: ID!  status: String!  currency: String!  totalCents: Int!  createdAt: String!  updatedAt: String!  items: [OrderItem!]! }
    input OrderItemInput { sku: String!  name: String!  quantity: Int!  unitPriceCents: Int! }
    input CreateOrderInput { currency: String  items: [OrderItemInput!]! }
    type CreateResult { orderId: ID! }
    type Query { order(id: ID!): Order }
    type Mutation { createOrder(input: CreateOrderInput!): CreateResult! }
  `,
  resolvers: {
    Query: {
      async order(_: unknown, { id }: { id: string }, { caller }: { caller: Caller | null }) {
        if (!/^[0-9a-f-]{36}$/i.test(id)) return null;
        const { rows } = await pool.query<OrderRow>({
          name: 'crud-order',
          text: 'SELECT * FROM crud_orders WHERE id = $1 AND user_id = $2',
          values: [id, caller?.userId ?? ''],
        });
        const order = rows[0];
        if (!order) return null;
        return {
          id: order.id,
          userId: order.user_id,
          status: order.status,
          currency: order.currency,
          totalCents: order.total_cents,
          createdAt: order.created_at.toISOString(),
          updatedAt: order.updated_at.toISOString(),
          items: order.items.map((item) => ({ ...item, lineTotalCents: item.quantity * item.unitPriceCents })),
        };
      },
    },
    Mutation: {
      async createOrder(_: unknown, { input }: { input: { currency?: string | null; items: ItemInput[] } }, { caller }: { caller: Caller | null }) {
        if (!caller) throw new Error('UNAUTHENTICATED');
        const id = randomUUID();
        const total = input.items.reduce((sum, item) => sum + item.quantity * item.unitPriceCents, 0);
        await pool.query({
          name: 'crud-create',
          text: `INSERT INTO crud_orders (id, user_id, status, currency, total_cents, items) VALUES ($1, $2, 'CREATED', $3, $4, $5)`,
          values: [id, caller.userId, input.currency ?? 'USD', total, JSON.stringify(input.items)],
        });
        return { orderId: id };
      },
    },
  },
});

const yoga = createYoga({
  schema,
  graphqlEndpoint: '/graphql',
  landingPage: false,
  graphiql: false,
  logging: false,
  context: async ({ request }) => ({ caller: await authenticate(request.headers.get('authorization')).catch(() => null) }),
});

const server = createServer(yoga);
server.listen(Number(PORT), HOST, () => {
  const { address, port } = server.address() as AddressInfo;
  console.log(JSON.stringify({ msg: 'crud started', url: `http://${address}:${port}/graphql` }));
});
process.once('SIGTERM', () => {
  server.close(() => void pool.end().then(() => process.exit(0)));
  server.closeAllConnections();
});
