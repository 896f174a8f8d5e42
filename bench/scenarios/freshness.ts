// How old is what a client reads? Commands arrive at a fixed rate (open loop) below the measured peak,
// and for each one: commit → read document (projectedAt − eventAt of order(id, minVersion), which waits
// on the change feed, never polls) and commit → subscriber (deliveredAt − eventAt on orderUpdated).
//
// The command is addOrderItem on orders created beforehand, each with its own orderUpdated subscriber:
// only an order that exists answers a new subscription at once (its current state), which proves the
// subscriber is live before the command it measures. A subscription opened for an order not yet created
// gives no such sign, and a late one would look like a slow delivery.
import { benchUser, GraphQLHttp, tokenFor, wsClient } from '../lib/graphql.js';
import { openLoop, percentiles } from '../lib/load.js';
import { createOrder } from '../lib/operations.js';
import { errorNote, type Row } from '../lib/results.js';
import { Deliveries, liveSubscription } from '../lib/subscriptions.js';
import { measureCqrsCommands } from './commands.js';
import type { Scenario } from './context.js';

const fractions = [0.25, 0.5, 0.75];
const users = 4; // one WebSocket each, carrying the subscriptions of that user's orders
// Orders per level: enough that each gets at most this many commands, so streams stay short and two
// commands rarely race on one order.
const commandsPerOrder = 20;

const addItem = 'mutation Add($id: ID!, $item: OrderItemInput!) { addOrderItem(orderId: $id, item: $item) { version } }';
const read = 'query Fresh($id: ID!, $minVersion: Int) { order(id: $id, minVersion: $minVersion) { version freshness { eventAt projectedAt } } }';
const updated = 'subscription Updated($id: ID!) { orderUpdated(id: $id) { endToEndLagMs } }';
const item = { sku: 'FRESH-1', name: 'Freshness', quantity: 1, unitPriceCents: 100 };

export const freshness: Scenario = async (context) => {
  const { env, profile } = context;
  const service = await env.service();
  const source = context.rate ? '--rate' : context.peakCommandRate ? 'the commands scenario' : 'a 32-client createOrder run';
  const peak = context.rate ?? context.peakCommandRate ?? (await measureCqrsCommands(context, 32, profile.seconds)).perSecond;
  const http = new GraphQLHttp(service.url, 256);
  const tokens = await Promise.all(Array.from({ length: users }, (_, user) => tokenFor(benchUser(user))));
  const sockets = tokens.map((token) => wsClient(service.url, token));
  const rows: Row[] = [];
  const notes = [`rates are 25/50/75 % of ${Math.round(peak)} createOrder/s, from ${source}; the command sent is addOrderItem`];
  try {
    for (const fraction of fractions) {
      const rate = peak * fraction;
      const orders = await Promise.all(
        Array.from({ length: Math.max(users, Math.ceil((rate * profile.seconds) / commandsPerOrder)) }, (_, i) => createOrder(http, i % users)),
      );
      const subscriberLags: number[] = [];
      const deliveries = new Deliveries();
      const onUpdate = ({ orderUpdated }: { orderUpdated: { endToEndLagMs: number } }) => {
        subscriberLags.push(orderUpdated.endToEndLagMs);
        deliveries.arrived();
      };
      const unsubscribes = await Promise.all(
        orders.map((id, i) => liveSubscription(sockets[i % users]!, updated, { id }, onUpdate, (error) => deliveries.failed(error))),
      );

      const readLags: number[] = [];
      let overtaken = 0;
      const outcome = await openLoop(rate, profile.seconds, async (i) => {
        const id = orders[i % orders.length]!;
        const token = tokens[(i % orders.length) % users]!;
        const { addOrderItem } = await http.request<{ addOrderItem: { version: number } }>(addItem, { id, item }, token);
        const { order } = await http.request<{ order: { version: number; freshness: { eventAt: string; projectedAt: string } } }>(
          read,
          { id, minVersion: addOrderItem.version },
          token,
        );
        // A later command on the same order already replaced this version's stamps: its own read measures them.
        if (order.version !== addOrderItem.version) return void overtaken++;
        readLags.push(Date.parse(order.freshness.projectedAt) - Date.parse(order.freshness.eventAt));
      });
      await deliveries.until(outcome.samples, 30_000);
      for (const unsubscribe of unsubscribes) unsubscribe();

      const level = `${fraction * 100} % (${Math.round(rate)}/s)`;
      for (const [system, lags] of [['commit → read document', readLags], ['commit → subscriber', subscriberLags]] as const) {
        const { p50, p99, p999 } = percentiles(lags);
        rows.push({ system, level, values: [outcome.completedPerSecond, p50, p99, p999, lags.length] });
      }
      notes.push(...errorNote('addOrderItem', level, outcome));
      if (overtaken) notes.push(`at ${level}: ${overtaken} reads found a newer version already and are left out of commit → read document`);
    }
  } finally {
    http.close();
    await Promise.all(sockets.map((ws) => ws.dispose()));
  }
  return {
    name: 'freshness',
    title: 'commit → read model, open loop at a fixed command rate',
    levelName: 'load',
    columns: ['commands/s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'samples'],
    chartColumn: 2,
    rows,
    notes,
  };
};
