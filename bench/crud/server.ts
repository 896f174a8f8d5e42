// The CRUD baseline: the same GraphQL stack (Yoga, Prisma over adapter-pg, JWT callers) writing an
// order and its items straight into two tables and reading them back. What the CQRS service costs
// beyond this is the price of its event store, outbox, bus and read models.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSchema, createYoga } from 'graphql-yoga';
import { authenticate } from '../../src/auth.js';
import type { Caller } from '../../src/domain/order/index.js';
import { Prisma } from '../../src/generated/prisma/client.js';
import { createPrismaClient } from '../../src/infrastructure/postgres/prisma.js';

const { DATABASE_URL, JWT_SECRET, PORT = '0', HOST = '127.0.0.1' } = process.env;
if (!DATABASE_URL || !JWT_SECRET) throw new Error('DATABASE_URL and JWT_SECRET are required');

const prisma = createPrismaClient({ url: DATABASE_URL });

// Raw SQL: these tables belong to the benchmark, not to the service's Prisma schema.
await prisma.$executeRawUnsafe(`CREATE TABLE IF NOT EXISTS crud_orders (
  id uuid PRIMARY KEY, user_id text NOT NULL, status text NOT NULL, currency text NOT NULL,
  total_cents integer NOT NULL, created_at timestamptz(3) NOT NULL DEFAULT now(), updated_at timestamptz(3) NOT NULL DEFAULT now())`);
await prisma.$executeRawUnsafe(`CREATE TABLE IF NOT EXISTS crud_order_items (
  order_id uuid NOT NULL REFERENCES crud_orders(id), sku text NOT NULL, name text NOT NULL,
  quantity integer NOT NULL, unit_price_cents integer NOT NULL, PRIMARY KEY (order_id, sku))`);

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
  created_at: Date;
  updated_at: Date;
  sku: string;
  name: string;
  quantity: number;
  unit_price_cents: number;
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
        const rows = await prisma.$queryRaw<OrderRow[]>`
          SELECT o.*, i.sku, i.name, i.quantity, i.unit_price_cents
          FROM crud_orders o JOIN crud_order_items i ON i.order_id = o.id
          WHERE o.id = ${id}::uuid AND o.user_id = ${caller?.userId ?? ''}`;
        const [order] = rows;
        if (!order) return null;
        return {
          id: order.id,
          userId: order.user_id,
          status: order.status,
          currency: order.currency,
          totalCents: order.total_cents,
          createdAt: order.created_at.toISOString(),
          updatedAt: order.updated_at.toISOString(),
          items: rows.map((row) => ({ sku: row.sku, name: row.name, quantity: row.quantity, unitPriceCents: row.unit_price_cents, lineTotalCents: row.quantity * row.unit_price_cents })),
        };
      },
    },
    Mutation: {
      async createOrder(_: unknown, { input }: { input: { currency?: string | null; items: ItemInput[] } }, { caller }: { caller: Caller | null }) {
        if (!caller) throw new Error('UNAUTHENTICATED');
        const id = randomUUID();
        const total = input.items.reduce((sum, item) => sum + item.quantity * item.unitPriceCents, 0);
        await prisma.$transaction([
          prisma.$executeRaw`INSERT INTO crud_orders (id, user_id, status, currency, total_cents)
            VALUES (${id}::uuid, ${caller.userId}, 'CREATED', ${input.currency ?? 'USD'}, ${total})`,
          prisma.$executeRaw`INSERT INTO crud_order_items (order_id, sku, name, quantity, unit_price_cents) VALUES ${Prisma.join(
            input.items.map((item) => Prisma.sql`(${id}::uuid, ${item.sku}, ${item.name}, ${item.quantity}, ${item.unitPriceCents})`),
          )}`,
        ]);
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
  context: async ({ request }) => ({ caller: await authenticate(request.headers.get('authorization'), JWT_SECRET) }),
});

const server = createServer(yoga);
server.listen(Number(PORT), HOST, () => {
  const { address, port } = server.address() as AddressInfo;
  console.log(JSON.stringify({ msg: 'crud started', url: `http://${address}:${port}/graphql` }));
});
process.once('SIGTERM', () => {
  server.close(() => void prisma.$disconnect().then(() => process.exit(0)));
  server.closeAllConnections();
});
