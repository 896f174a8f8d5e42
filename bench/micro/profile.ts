// Profiles the service under a closed-loop createOrder load (or `{ __typename }`: --op typename): spawns
// it with --cpu-prof, drives it for --seconds, stops it, and leaves the .cpuprofile in --dir (the largest
// file is the service's main thread; the other is tsx's loader). Summarise with
// `npx tsx bench/micro/topProfile.ts <file>`.
//   npx tsx bench/micro/profile.ts [--op createOrder|typename] [--clients 8] [--seconds 10] [--dir /tmp/prof]
import { parseArgs } from 'node:util';
import { BenchEnv } from '../lib/env.js';
import { benchUser, GraphQLHttp, tokenFor } from '../lib/graphql.js';
import { closedLoop } from '../lib/load.js';
import { createOrder } from '../lib/operations.js';

const { values } = parseArgs({ options: { op: { type: 'string', default: 'createOrder' }, clients: { type: 'string', default: '8' }, seconds: { type: 'string', default: '10' }, dir: { type: 'string', default: '/tmp/prof' } } });
const clients = Number(values.clients);
const env = await BenchEnv.create();
try {
  const service = await env.startService(['--cpu-prof', `--cpu-prof-dir=${values.dir}`]);
  const http = new GraphQLHttp(service.url, clients);
  const op = values.op === 'typename' ? async (client: number) => http.request('{ __typename }', {}, await tokenFor(benchUser(client))) : (client: number) => createOrder(http, client);
  await closedLoop(clients, 2, op);
  const result = await closedLoop(clients, Number(values.seconds), op);
  console.log(`${values.op} x${clients}: ${result.perSecond.toFixed(1)}/s p50 ${result.p50.toFixed(1)} ms p99 ${result.p99.toFixed(1)} ms errors ${result.errors}`);
  http.close();
  await env.stop(service);
} finally {
  await env.cleanup();
}
process.exit(0);
