// How old is what a client sees? createOrder arrives at a fixed rate (open loop from the generator in C,
// latency from each request's intended send time) at 25 % and 50 % of the peak measured by the commands
// scenario, while each user holds one `myOrdersUpdated` subscription. For every command:
// - response: createOrder's answer time, from when it was due to be sent;
// - commit → document: `freshness.lagMs` of the pushed update (projectedAt − eventAt);
// - commit → subscriber: the moment the client received the update minus `freshness.eventAt`.
// Run in the documented default deployment (every role in one process) and the split one (command,
// query and worker processes), three times each; the rows give the median and the range of the repeats.
import type { Client } from 'graphql-ws';
import { benchUser, GraphQLHttp, items, tokenFor, wsClient } from '../lib/graphql.js';
import { percentiles, spread } from '../lib/load.js';
import { failureOf, openLoop as generate } from '../lib/openLoop.js';
import { errorNote, type Row } from '../lib/results.js';
import { unlessUnavailable } from '../lib/operations.js';
import { Deliveries } from '../lib/subscriptions.js';
import type { Deployment } from '../lib/env.js';
import { topologies } from '../lib/env.js';
import { measurePeakCommands } from './commands.js';
import type { Scenario } from './context.js';

const fractions = [0.25, 0.5];
const users = 8; // one WebSocket each, carrying that user's myOrdersUpdated
const create = 'mutation Create($input: CreateOrderInput!) { createOrder(input: $input) { orderId version } }';
const mine = 'subscription Mine { myOrdersUpdated { version deliveredAt order { id } freshness { eventAt projectedAt lagMs } } }';
export const freshnessGoals = { response: 50, document: 25, subscriber: 50 } as const;

interface Update {
  myOrdersUpdated: { version: number; deliveredAt: string; order: { id: string }; freshness: { eventAt: string; projectedAt: string; lagMs: number } };
}

interface Sample {
  rate: number;
  response: number[];
  document: number[];
  subscriber: number[];
  /** The hops after the document: projectedAt → deliveredAt (change feed, subscription), deliveredAt → receipt. */
  push: number[];
  wire: number[];
  generatorCpu: number;
  notes: string[];
}

/** Every user's subscription, proven live by an order of its own whose creation it must report. */
async function subscribe(deployment: Deployment, http: GraphQLHttp, onUpdate: (update: Update['myOrdersUpdated'], receivedAt: number) => void) {
  const tokens = await Promise.all(Array.from({ length: users }, (_, user) => tokenFor(benchUser(user))));
  const sockets: Client[] = tokens.map((token) => wsClient(deployment.queryUrl, token));
  const deliveries = new Deliveries();
  let live: Set<string> | null = new Set();
  const unsubscribes = sockets.map((ws) =>
    ws.subscribe<Update>({ query: mine }, {
      next: ({ data, errors }) => {
        if (!data) return deliveries.failed(new Error(JSON.stringify(errors)));
        if (live) return void (live.add(data.myOrdersUpdated.order.id), deliveries.arrived());
        onUpdate(data.myOrdersUpdated, Date.now());
      },
      error: (error) => deliveries.failed(error instanceof Error ? error : new Error(JSON.stringify(error))),
      complete: () => {},
    }),
  );
  // myOrdersUpdated sends nothing at subscription: an order created afterwards shows it is live.
  for (let attempt = 0; live.size < users; attempt++) {
    if (attempt === 20) throw new Error(`only ${live.size} of ${users} subscriptions went live`);
    // Right after the commands scenario's closed loops the admission may still refuse for a moment.
    await Promise.all(tokens.map((token) => unlessUnavailable(() => http.request(create, { input: { items } }, token))));
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  live = null;
  return {
    tokens,
    async close() {
      for (const unsubscribe of unsubscribes) unsubscribe();
      await Promise.all(sockets.map((ws) => ws.dispose()));
    },
  };
}

async function measure(deployment: Deployment, rate: number, seconds: number): Promise<Sample> {
  const http = new GraphQLHttp(deployment.commandUrl, 256);
  // The update may arrive before the command's own answer does: whichever comes second records it.
  const answered = new Set<string>();
  type Lag = { lagMs: number; receivedMs: number; pushMs: number; wireMs: number };
  const early = new Map<string, Lag>();
  const document: number[] = [];
  const subscriber: number[] = [];
  const push: number[] = [];
  const wire: number[] = [];
  const deliveries = new Deliveries();
  const record = (lag: Lag) => {
    document.push(lag.lagMs);
    subscriber.push(lag.receivedMs);
    push.push(lag.pushMs);
    wire.push(lag.wireMs);
    deliveries.arrived();
  };
  const subscription = await subscribe(deployment, http, (update, receivedAt) => {
    if (update.version !== 1) return;
    const delivered = Date.parse(update.deliveredAt);
    const lag = {
      lagMs: update.freshness.lagMs,
      receivedMs: receivedAt - Date.parse(update.freshness.eventAt),
      pushMs: delivered - Date.parse(update.freshness.projectedAt),
      wireMs: receivedAt - delivered,
    };
    if (answered.delete(update.order.id)) record(lag);
    else early.set(update.order.id, lag);
  });
  try {
    // The commands come from the generator in C (bench/openloop/openloop.c), a process of its own: this
    // one only receives the updates, so its clock readings are not delayed by sending.
    const body = JSON.stringify({ query: create, variables: { input: { items } } });
    const run = await generate(deployment.commandUrl, rate, seconds, { connections: 64, requests: subscription.tokens.map((token) => ({ token, body })), field: 'orderId' });
    const created: string[] = [];
    const response: number[] = [];
    const failures: string[] = [];
    for (const answer of run.answers) {
      const failure = failureOf(answer) ?? (answer.field ? null : 'no orderId');
      if (failure) failures.push(failure);
      else created.push(answer.field!), response.push(answer.latencyMs);
    }
    if (created.length === 0) throw new Error(`every createOrder failed (first: ${failures[0]})`);
    for (const id of created) {
      const arrived = early.get(id);
      if (arrived) early.delete(id), record(arrived);
      else answered.add(id);
    }
    await deliveries.until(created.length, 30_000);
    const level = `${Math.round(rate)}/s`;
    const outcome = { samples: created.length, errors: failures.length, firstError: failures[0] ?? null };
    return { rate, response, document, subscriber, push, wire, generatorCpu: run.generatorCores, notes: errorNote('createOrder', level, outcome) };
  } finally {
    http.close();
    await subscription.close();
  }
}

export const freshness: Scenario = async (context) => {
  const { env, profile } = context;
  const source = context.rate ? '--rate' : context.peakCommandRate ? 'the commands scenario' : 'warmed-up 32-connection createOrder runs (median)';
  const rows: Row[] = [];
  const notes: string[] = [];
  for (const topology of topologies) {
    const deployment = await env.deployment(topology);
    try {
      const peak = context.rate ?? context.peakCommandRate ?? (await measurePeakCommands(context, deployment));
      notes.push(`${topology}: rates are 25/50 % of ${Math.round(peak)} createOrder/s, from ${source}`);
      await measure(deployment, peak * 0.25, profile.warmupSeconds); // JIT, pools and subscriptions warm
      for (const fraction of fractions) {
        const samples: Sample[] = [];
        for (let repeat = 0; repeat < profile.repeats; repeat++) samples.push(await measure(deployment, peak * fraction, profile.seconds));
        const level = `${topology} ${fraction * 100} % (${Math.round(peak * fraction)}/s)`;
        for (const [system, pick, goal] of [
          ['createOrder response', (s: Sample) => s.response, freshnessGoals.response],
          ['commit → document', (s: Sample) => s.document, freshnessGoals.document],
          ['commit → subscriber', (s: Sample) => s.subscriber, freshnessGoals.subscriber],
          ['  of which document → pushed', (s: Sample) => s.push, null],
          ['  of which pushed → received', (s: Sample) => s.wire, null],
        ] as const) {
          const each = samples.map((sample) => percentiles(pick(sample)));
          const p99 = spread(each.map((p) => p.p99));
          rows.push({
            system,
            level,
            values: [spread(each.map((p) => p.p50)).median, p99.median, p99.min, p99.max, spread(each.map((p) => p.p999)).median, goal, samples.reduce((n, s) => n + pick(s).length, 0)],
          });
          if (goal !== null && p99.median > goal) notes.push(`${system} at ${level}: p99 ${p99.median.toFixed(1)} ms is over its goal of ${goal} ms`);
        }
        const cpu = spread(samples.map((sample) => sample.generatorCpu));
        notes.push(`${level}: the load generator used ${(cpu.median * 100).toFixed(1)} % of a core (range ${(cpu.min * 100).toFixed(1)}–${(cpu.max * 100).toFixed(1)} %)`);
        notes.push(...samples.flatMap((sample) => sample.notes));
      }
    } finally {
      await env.stopDeployment(deployment);
    }
  }
  return {
    name: 'freshness',
    title: 'commit → subscriber, open loop createOrder at 25 % and 50 % of the peak',
    levelName: 'deployment, load',
    columns: ['p50 ms', 'p99 ms', 'p99 min', 'p99 max', 'p99.9 ms', 'goal p99 ms', 'samples'],
    chartColumn: 1,
    rows,
    notes,
  };
};
