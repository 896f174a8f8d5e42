// Profiles the service under wrk's closed-loop load of createOrder, order(id) (--op read) or
// `{ __typename }` (--op typename): spawns it (compiled, LOG_LEVEL=warn) with --cpu-prof, drives it for
// --seconds, stops it, and leaves the .cpuprofile in --dir. Summarise with
// `npx tsx bench/micro/topProfile.ts <file>`.
//   npx tsx bench/micro/profile.ts [--role all|command|...] [--op createOrder|read|typename] [--connections 8] [--seconds 10] [--dir /tmp/prof]
import { parseArgs } from 'node:util';
import { BenchEnv } from '../lib/env.js';
import { benchUser, GraphQLHttp, items, tokenFor } from '../lib/graphql.js';
import { createOrderMutation, orderQuery, seedOrders, settle } from '../lib/operations.js';
import { wrk, type WrkRequest } from '../lib/wrk.js';

const { values } = parseArgs({
  options: { role: { type: 'string', default: 'all' }, op: { type: 'string', default: 'createOrder' }, connections: { type: 'string', default: '8' }, seconds: { type: 'string', default: '10' }, dir: { type: 'string', default: '/tmp/prof' } },
});
const connections = Number(values.connections);
const env = await BenchEnv.create();
try {
  // --role command (say) profiles that process alone; the other roles then run in a helper process.
  const helper = await env.startHelperFor(values.role);
  const service = await env.startService(['--cpu-prof', `--cpu-prof-dir=${values.dir}`], { ROLE: values.role });
  const serves = (role: string) => values.role === 'all' || values.role.split(',').includes(role);
  const deployment = { topology: 'all' as const, commandUrl: serves('command') ? service.url : helper!.url, queryUrl: serves('query') ? service.url : helper!.url, servers: [service] };
  let requests: WrkRequest[];
  if (values.op === 'typename') requests = [{ token: await tokenFor(benchUser(0)), body: JSON.stringify({ query: '{ __typename }' }) }];
  else if (values.op === 'read') {
    const http = new GraphQLHttp(deployment.commandUrl, 8);
    const orders = await seedOrders(http, 8, 4);
    http.close();
    await settle(env, deployment);
    requests = [];
    for (const [user, ids] of orders.entries()) for (const id of ids) requests.push({ token: await tokenFor(benchUser(user)), body: JSON.stringify({ query: orderQuery, variables: { id } }) });
  } else requests = await Promise.all(Array.from({ length: 8 }, async (_, user) => ({ token: await tokenFor(benchUser(user)), body: JSON.stringify({ query: createOrderMutation, variables: { input: { items } } }) })));
  await wrk(service.url, connections, 2, requests);
  const result = await wrk(service.url, connections, Number(values.seconds), requests);
  console.log(`${values.op} x${connections}: ${result.perSecond.toFixed(1)}/s p50 ${result.p50.toFixed(1)} ms p99 ${result.p99.toFixed(1)} ms errors ${result.errors}`);
  if (values.op === 'createOrder') console.log(`pipeline drained ${(await settle(env, deployment)).toFixed(2)} s after the load`);
  await env.stop(service);
  if (helper) await env.stop(helper);
} finally {
  await env.cleanup();
}
process.exit(0);
