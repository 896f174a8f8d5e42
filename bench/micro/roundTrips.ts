// Counts what one createOrder costs in round trips: Redis commands (MONITOR) and Postgres statements
// (pg_stat_statements is not assumed; the service's own pg pool is not instrumented, so Postgres is
// counted from pg_stat_database's xact_commit and tup_* deltas), over N sequential commands after warm-up.
//   npx tsx bench/micro/roundTrips.ts [--orders 20]
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';
import { BenchEnv, local } from '../lib/env.js';
import { GraphQLHttp } from '../lib/graphql.js';
import { createOrder, settle } from '../lib/operations.js';

const { values } = parseArgs({ options: { orders: { type: 'string', default: '20' } } });
const orders = Number(values.orders);
const env = await BenchEnv.create();
try {
  const service = await env.service();
  const deployment = { topology: 'all' as const, commandUrl: service.url, queryUrl: service.url, servers: [service] };
  const http = new GraphQLHttp(service.url, 1);
  for (let i = 0; i < 10; i++) await createOrder(http, i % 4);
  await settle(env, deployment);
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const monitor = new Redis(local.redis);
  const commands = new Map<string, number>();
  let total = 0;
  const m = await monitor.monitor();
  m.on('monitor', (_time: string, args: string[]) => {
    if (!args.some((arg) => String(arg).includes(env.redisPrefix)) && !['evalsha', 'publish', 'exec', 'multi'].includes(String(args[0]).toLowerCase())) return;
    total++;
    const name = String(args[0]).toLowerCase();
    commands.set(name, (commands.get(name) ?? 0) + 1);
  });
  const db = new pg.Client({ connectionString: env.databaseUrl });
  await db.connect();
  const stat = async () => (await db.query<{ xact_commit: string }>('SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()')).rows[0]!.xact_commit;
  const before = Number(await stat());
  const started = Date.now();
  for (let i = 0; i < orders; i++) await createOrder(http, i % 4);
  await settle(env, deployment);
  const idleMs = Date.now() - started;
  const after = Number(await stat());
  await new Promise((resolve) => setTimeout(resolve, 200));
  console.log(`${orders} createOrder (+1 by settle) in ${idleMs} ms`);
  console.log(`redis commands per order: ${(total / (orders + 1)).toFixed(1)}`, Object.fromEntries([...commands].map(([k, v]) => [k, +(v / (orders + 1)).toFixed(2)])));
  console.log(`postgres transactions per order (incl. the settle polls): ${((after - before) / (orders + 1)).toFixed(1)}`);
  m.disconnect();
  await db.end();
  http.close();
} finally {
  await env.cleanup();
}
process.exit(0);
