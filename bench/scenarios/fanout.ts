// Many WebSocket subscribers on orderUpdated, spread over a set of orders, then a change to every order:
// how late the last subscribers hear of it, and what each open subscription costs the server in memory.
// Each level gets a service process of its own, so its memory growth is the subscribers' alone.
import type { Client } from 'graphql-ws';
import { benchUser, GraphQLHttp, tokenFor, wsClient } from '../lib/graphql.js';
import { percentiles } from '../lib/load.js';
import { createOrder, settle } from '../lib/operations.js';
import type { Row } from '../lib/results.js';
import { collectedMemory, gcOnSignal } from '../lib/spawn.js';
import { Deliveries, liveSubscription } from '../lib/subscriptions.js';
import type { Scenario } from './context.js';

const owner = 0; // every order belongs to one client's user, whose token every subscriber carries
const connectBatch = 100;
const addItem = 'mutation Add($id: ID!, $item: OrderItemInput!) { addOrderItem(orderId: $id, item: $item) { version } }';
const updated = 'subscription Updated($id: ID!) { orderUpdated(id: $id) { endToEndLagMs freshness { eventAt } } }';

interface Update {
  orderUpdated: { endToEndLagMs: number; freshness: { eventAt: string } };
}

export const fanout: Scenario = async ({ env, profile }) => {
  const rows: Row[] = [];
  for (const count of profile.fanout) {
    const service = await env.startService(gcOnSignal);
    const http = new GraphQLHttp(service.url, 8);
    const token = await tokenFor(benchUser(owner));
    const sockets: Client[] = [];
    try {
      const orders: string[] = [];
      for (let i = 0; i < profile.fanoutOrders; i++) orders.push(await createOrder(http, owner));
      await settle(env, { topology: 'all', commandUrl: service.url, queryUrl: service.url, servers: [service] });
      const baseline = await collectedMemory(service);

      const delivery: number[] = [];
      const server: number[] = [];
      const deliveries = new Deliveries();
      const onUpdate = ({ orderUpdated }: Update, receivedAt: number) => {
        delivery.push(receivedAt - Date.parse(orderUpdated.freshness.eventAt));
        server.push(orderUpdated.endToEndLagMs);
        deliveries.arrived();
      };
      for (let first = 0; first < count; first += connectBatch) {
        const batch = Array.from({ length: Math.min(connectBatch, count - first) }, (_, i) => {
          const ws = wsClient(service.url, token);
          sockets.push(ws);
          return liveSubscription(ws, updated, { id: orders[(first + i) % orders.length] }, onUpdate, (error) => deliveries.failed(error));
        });
        await Promise.all(batch);
      }
      const open = await collectedMemory(service);
      const perSubscriber = { rss: (open.rss - baseline.rss) / count, live: (open.live - baseline.live) / count };

      for (let round = 0; round < profile.fanoutRounds; round++) {
        const item = { sku: `ROUND-${round}`, name: `Round ${round}`, quantity: 1, unitPriceCents: 100 };
        await Promise.all(orders.map((id) => http.request(addItem, { id, item }, token)));
        await deliveries.until((round + 1) * count, 60_000);
      }
      const client = percentiles(delivery);
      rows.push({ system: 'orderUpdated', level: String(count), values: [client.p50, client.p99, percentiles(server).p99, perSubscriber.rss / 1024, perSubscriber.live / 1024, delivery.length] });
    } finally {
      http.close();
      await Promise.all(sockets.map((ws) => ws.dispose()));
      await env.stop(service);
    }
  }
  return {
    name: 'fanout',
    title: `orderUpdated fan-out over ${profile.fanoutOrders} orders`,
    levelName: 'subscribers',
    columns: ['delivery p50 ms', 'delivery p99 ms', 'server push p99 ms', 'RSS KiB/subscriber', 'live KiB/subscriber', 'messages'],
    chartColumn: 1,
    rows,
    notes: [
      `${profile.fanoutRounds} rounds of one addOrderItem per order; delivery is receipt by the client minus the commit time`,
      'memory per subscriber, both after a full collection with every subscription open, over the same reading before any: RSS is the growth of the process\'s resident set, live the growth of the V8 heap in use plus external (Buffer) memory',
      'goals: delivery p99 at most 100 ms with 5,000 subscribers, at most 20 KiB of server memory per subscriber',
    ],
  };
};
