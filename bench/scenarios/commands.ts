// createOrder over HTTP against the CQRS service, beside the same mutation on a plain CRUD server and
// pgbench's single-row inserts: how much the write side pays for events, outbox and idempotency.
import pg from 'pg';
import { GraphQLHttp } from '../lib/graphql.js';
import { closedLoop } from '../lib/load.js';
import { createOrder, settle } from '../lib/operations.js';
import { errorNote, loadRow, ratioRow, type Row, type ScenarioResult } from '../lib/results.js';
import { pgbenchInserts, pgbenchScratchTable } from '../lib/tools.js';
import type { Scenario, ScenarioContext } from './context.js';

/** Closed-loop createOrder at one concurrency; waits for the pipeline to go idle before returning. */
export async function measureCqrsCommands(context: ScenarioContext, clients: number, seconds: number) {
  const service = await context.env.service();
  const http = new GraphQLHttp(service.url, clients);
  let last = null as { client: number; orderId: string } | null;
  try {
    const result = await closedLoop(clients, seconds, async (client) => {
      last = { client, orderId: await createOrder(http, client) };
    });
    if (last) await settle(context.env, http, last.client, last.orderId);
    return result;
  } finally {
    http.close();
  }
}

async function measureCrud(url: string, clients: number, seconds: number) {
  const http = new GraphQLHttp(url, clients);
  try {
    return await closedLoop(clients, seconds, (client) => createOrder(http, client));
  } finally {
    http.close();
  }
}

export const commands: Scenario = async (context) => {
  const { env, profile } = context;
  if (env.topology === 'cluster') return clusterCommands(context);
  // Both servers start at once: each start is seconds of tsx and Prisma loading.
  const [, crud] = await Promise.all([env.service(), env.crud()]);
  const db = new pg.Client({ connectionString: env.databaseUrl });
  await db.connect();
  await db.query(pgbenchScratchTable).finally(() => db.end());

  // JIT and connection pools warm up outside the measured levels.
  await measureCqrsCommands(context, 8, profile.warmupSeconds);
  await measureCrud(crud.url, 8, profile.warmupSeconds);

  const rows: Row[] = [];
  const notes: string[] = [];
  for (const clients of profile.clients) {
    const cqrs = await measureCqrsCommands(context, clients, profile.seconds);
    const plain = await measureCrud(crud.url, clients, profile.seconds);
    const limit = await pgbenchInserts(env.databaseName, clients, profile.seconds);
    const [a, b, c] = [loadRow('CQRS createOrder', clients, cqrs), loadRow('CRUD createOrder', clients, plain), loadRow('pgbench insert', clients, limit)];
    rows.push(a, b, c, ratioRow('CQRS/CRUD', a, b), ratioRow('CQRS/pgbench', a, c));
    notes.push(...errorNote('CQRS createOrder', `${clients} clients`, cqrs), ...errorNote('CRUD createOrder', `${clients} clients`, plain));
    context.peakCommandRate = Math.max(context.peakCommandRate ?? 0, cqrs.perSecond);
  }
  return { name: 'commands', title: 'createOrder over HTTP (closed loop)', levelName: 'clients', columns: ['req/s', 'p50 ms', 'p99 ms'], chartColumn: 0, rows, notes };
};

/** On the clusters only the service's own figures: the CRUD and pgbench baselines do not change with them. */
async function clusterCommands(context: ScenarioContext): Promise<ScenarioResult> {
  await measureCqrsCommands(context, 8, context.profile.warmupSeconds);
  const rows: Row[] = [];
  const notes: string[] = [];
  for (const clients of context.profile.clients) {
    const cqrs = await measureCqrsCommands(context, clients, context.profile.seconds);
    rows.push(loadRow('CQRS createOrder (JetStream R3, Redis Cluster)', clients, cqrs));
    notes.push(...errorNote('CQRS createOrder', `${clients} clients`, cqrs));
    context.peakCommandRate = Math.max(context.peakCommandRate ?? 0, cqrs.perSecond);
  }
  return { name: 'commands', title: 'createOrder over HTTP (closed loop) on the clusters', levelName: 'clients', columns: ['req/s', 'p50 ms', 'p99 ms'], chartColumn: 0, rows, notes };
}
