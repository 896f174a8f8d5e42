// What one orderUpdated subscriber costs the service, in memory and in CPU: spawns it (compiled, as the
// fanout scenario does), opens --subscribers WebSocket subscribers over --orders orders (one socket each),
// and prints the memory per subscriber after a full collection (RSS, V8 heap in use, external), with them
// all open and again after --rounds rounds of one change per order, with each round's delivery.
//   npx tsx bench/micro/fanout.ts [--subscribers 1000] [--orders 100] [--rounds 1] [--connect-only]
//     [--snapshots DIR]  heap snapshots at each reading (compare two with bench/micro/heapDiff.ts)
//     [--profile DIR]    a CPU profile of the rounds (summarise with bench/micro/topProfile.ts)
// --connect-only opens the connections (connection_init acknowledged) without subscribing: the
// connection's share of what a subscriber costs.
import { parseArgs } from 'node:util';
import type { Client } from 'graphql-ws';
import { readFile } from 'node:fs/promises';
import { BenchEnv } from '../lib/env.js';
import { benchUser, GraphQLHttp, tokenFor, wsClient } from '../lib/graphql.js';
import { percentiles } from '../lib/load.js';
import { createOrder, settle } from '../lib/operations.js';
import { spawnServer } from '../lib/spawn.js';
import { Deliveries, liveSubscription } from '../lib/subscriptions.js';

const { values } = parseArgs({
  options: {
    subscribers: { type: 'string', default: '1000' },
    orders: { type: 'string', default: '100' },
    rounds: { type: 'string', default: '1' },
    'connect-only': { type: 'boolean', default: false },
    snapshots: { type: 'string' },
    profile: { type: 'string' },
  },
});
const count = Number(values.subscribers);
const rounds = values['connect-only'] ? 0 : Number(values.rounds);
const updated = 'subscription Updated($id: ID!) { orderUpdated(id: $id) { endToEndLagMs freshness { eventAt } } }';
const addItem = 'mutation Add($id: ID!, $item: OrderItemInput!) { addOrderItem(orderId: $id, item: $item) { version } }';

interface Reading {
  rss: number;
  heapUsed: number;
  external: number;
}

const env = await BenchEnv.create();
try {
  const probeEnv = { ...(values.snapshots && { FANOUT_SNAPSHOTS: values.snapshots }), ...(values.profile && { FANOUT_PROFILES: values.profile }) };
  const service = await spawnServer('dist/main.js', { ...env.serviceEnv, ...probeEnv }, 'readyz', ['--expose-gc', '--import', './bench/micro/fanoutProbe.mjs']);
  const read = async (label: string): Promise<Reading> => {
    const probed = service.nextLog('probed', 120_000);
    process.kill(service.pid, 'SIGUSR2');
    const { memory, snapshot } = (await probed) as { memory: Reading; snapshot: string | null };
    // VmRSS once the pages freed by the collection went back (as bench/lib/spawn.ts reads it).
    const vmRss = async () => Number(/^VmRSS:\s+(\d+)/m.exec(await readFile(`/proc/${service.pid}/status`, 'utf8'))![1]) * 1024;
    let rss = await vmRss();
    for (let attempt = 0, previous = 0; attempt < 50 && Math.abs(rss - previous) >= 64 * 1024; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      [previous, rss] = [rss, await vmRss()];
    }
    console.log(`${label}: RSS ${(rss / 2 ** 20).toFixed(1)} MiB, heap ${(memory.heapUsed / 2 ** 20).toFixed(1)} MiB, external ${(memory.external / 2 ** 20).toFixed(1)} MiB${snapshot ? `, ${snapshot}` : ''}`);
    return { rss, heapUsed: memory.heapUsed, external: memory.external };
  };
  const perSubscriber = (label: string, from: Reading, to: Reading) =>
    console.log(`  per subscriber, ${label}: RSS ${((to.rss - from.rss) / count / 1024).toFixed(1)} KiB, heap ${((to.heapUsed - from.heapUsed) / count / 1024).toFixed(1)} KiB, external ${((to.external - from.external) / count / 1024).toFixed(2)} KiB`);

  const http = new GraphQLHttp(service.url, 8);
  const token = await tokenFor(benchUser(0));
  const orders: string[] = [];
  for (let i = 0; i < Number(values.orders); i++) orders.push(await createOrder(http, 0));
  await settle(env, { topology: 'all', commandUrl: service.url, queryUrl: service.url, servers: [service] });
  const none = await read('no subscriber');

  const sockets: Client[] = [];
  const deliveries = new Deliveries();
  const delivery: number[] = [];
  const push: number[] = [];
  type Update = { orderUpdated: { endToEndLagMs: number; freshness: { eventAt: string } } };
  for (let first = 0; first < count; first += 100) {
    await Promise.all(
      Array.from({ length: Math.min(100, count - first) }, (_, i) => {
        const ws = wsClient(service.url, token);
        sockets.push(ws);
        if (values['connect-only']) return new Promise<void>((resolve, reject) => (ws.on('connected', () => resolve()), ws.on('error', reject)));
        const onUpdate = ({ orderUpdated }: Update, at: number) => {
          delivery.push(at - Date.parse(orderUpdated.freshness.eventAt));
          push.push(orderUpdated.endToEndLagMs);
          deliveries.arrived();
        };
        return liveSubscription(ws, updated, { id: orders[(first + i) % orders.length] }, onUpdate, (error) => deliveries.failed(error));
      }),
    );
  }
  perSubscriber('all open', none, await read(`${count} ${values['connect-only'] ? 'connections' : 'subscribers'}`));

  if (values.profile) {
    const started = service.nextLog('profiling');
    process.kill(service.pid, 'SIGWINCH');
    await started;
  }
  for (let round = 0; round < rounds; round++) {
    const item = { sku: `ROUND-${round}`, name: `Round ${round}`, quantity: 1, unitPriceCents: 100 };
    const started = performance.now();
    await Promise.all(orders.map((id) => http.request(addItem, { id, item }, token)));
    const sent = performance.now();
    await deliveries.until((round + 1) * count, 60_000);
    console.log(`round ${round}: commands answered in ${(sent - started).toFixed(0)} ms, every message delivered in ${(performance.now() - started).toFixed(0)} ms`);
  }
  if (values.profile) {
    const written = service.nextLog('profiled');
    process.kill(service.pid, 'SIGWINCH');
    console.log(`profile: ${(await written).file}`);
  }
  if (rounds > 0) {
    const [client, server] = [percentiles(delivery), percentiles(push)];
    console.log(`delivery p50 ${client.p50.toFixed(0)} p99 ${client.p99.toFixed(0)} ms; server push p50 ${server.p50.toFixed(0)} p99 ${server.p99.toFixed(0)} ms`);
    perSubscriber(`after ${rounds} round(s)`, none, await read(`${count} subscribers after ${rounds} round(s)`));
  }
  http.close();
  await Promise.all(sockets.map((ws) => ws.dispose()));
  await new Promise((resolve) => setTimeout(resolve, 2000));
  perSubscriber('left after closing them all', none, await read('all closed'));
  await env.stop(service);
} finally {
  await env.cleanup();
}
process.exit(0);
