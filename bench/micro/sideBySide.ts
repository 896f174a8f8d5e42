// Two services side by side on the same servers, one with an environment variable set one way and one the
// other, read in turn by wrk (closed loop, order(id)) so that both see the same machine: the service's CPU
// per read and req/s of each, round by round, then the two swapped. For a change whose effect is smaller
// than the machine's drift between two runs of `npm run bench -- reads`.
//   npx tsx bench/micro/sideBySide.ts --name READ_CACHE_ENTRIES --a 10000 --b 0 [--role all|query] [--connections 32] [--seconds 5] [--rounds 4]
//   (or without --name: --a 'VAR=value,VAR2=value' --b 'VAR=value' for several variables each)
import { parseArgs } from 'node:util';
import { BenchEnv } from '../lib/env.js';
import { benchUser, GraphQLHttp, tokenFor } from '../lib/graphql.js';
import { orderQuery, seedOrders, settle } from '../lib/operations.js';
import { warmUp, type WrkRequest, wrkWithCpu } from '../lib/wrk.js';

const { values } = parseArgs({
  options: { name: { type: 'string' }, a: { type: 'string' }, b: { type: 'string' }, role: { type: 'string', default: 'all' }, connections: { type: 'string', default: '32' }, seconds: { type: 'string', default: '5' }, rounds: { type: 'string', default: '4' } },
});
if (values.a === undefined || values.b === undefined) throw new Error('usage: [--name VAR] --a VALUE --b VALUE');
const envOf = (value: string): Record<string, string> =>
  values.name ? { [values.name]: value } : Object.fromEntries(value.split(',').filter(Boolean).map((pair) => pair.split('=') as [string, string]));
const env = await BenchEnv.create();
try {
  // --role query (say): both read in query-only processes, and one helper runs the other roles for them.
  const helper = await env.startHelperFor(values.role);
  const a = await env.startService([], { ROLE: values.role, ...envOf(values.a) });
  const b = await env.startService([], { ROLE: values.role, ...envOf(values.b) });
  const commandUrl = helper?.url ?? a.url;
  const http = new GraphQLHttp(commandUrl, 8);
  const orders = await seedOrders(http, 16, 4);
  http.close();
  await settle(env, { topology: 'all', commandUrl, queryUrl: a.url, servers: [a] });
  const requests: WrkRequest[] = [];
  for (const [user, own] of orders.entries()) {
    const token = await tokenFor(benchUser(user));
    for (const id of own) requests.push({ token, body: JSON.stringify({ query: orderQuery, variables: { id } }) });
  }
  for (const server of [a, b]) await warmUp(server.url, 3, requests);
  const figures: Record<string, { perSecond: number[]; cpu: number[] }> = { a: { perSecond: [], cpu: [] }, b: { perSecond: [], cpu: [] } };
  const rounds = Number(values.rounds);
  for (let round = 0; round < 2 * rounds; round++) {
    // First half a then b, second half b then a: neither always runs right after the other.
    const order = round < rounds ? (['a', 'b'] as const) : (['b', 'a'] as const);
    for (const which of order) {
      const server = which === 'a' ? a : b;
      const result = await wrkWithCpu(server.url, Number(values.connections), Number(values.seconds), requests, [server.pid]);
      figures[which]!.perSecond.push(Math.round(result.perSecond));
      figures[which]!.cpu.push(Number(result.serverCpuMs.toFixed(3)));
    }
  }
  for (const which of ['a', 'b'] as const) {
    const value = which === 'a' ? values.a : values.b;
    const cpu = [...figures[which]!.cpu].sort((x, y) => x - y);
    console.log(`${values.name ? `${values.name}=` : ''}${value}: req/s ${figures[which]!.perSecond.join(' ')}; CPU ms per read ${figures[which]!.cpu.join(' ')} (median ${cpu[Math.floor(cpu.length / 2)]})`);
  }
} finally {
  await env.cleanup();
}
