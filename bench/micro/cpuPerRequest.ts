// CPU per request, read from /proc for each server process, so it holds on a busy machine where wall-clock
// figures do not: wrk drives createOrder (or order(id) with --op read) at N connections against the
// CQRS service (its command process alone with --role command, the other roles in a helper process)
// and against the CRUD baseline, and prints each process's CPU milliseconds per request, and those of
// the machine's Postgres, NATS and Redis (every process of each, summed) beside them.
//   npx tsx bench/micro/cpuPerRequest.ts [--role all|command] [--op createOrder|read] [--connections 8] [--seconds 8]
import { readdir, readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { BenchEnv } from '../lib/env.js';
import { benchUser, GraphQLHttp, items, tokenFor } from '../lib/graphql.js';
import { createOrderMutation, orderQuery, seedOrders, settle } from '../lib/operations.js';
import { cpuSeconds, wrk, type WrkRequest } from '../lib/wrk.js';

const { values } = parseArgs({
  options: { role: { type: 'string', default: 'all' }, op: { type: 'string', default: 'createOrder' }, connections: { type: 'string', default: '8' }, seconds: { type: 'string', default: '8' } },
});
const connections = Number(values.connections);
const seconds = Number(values.seconds);
const env = await BenchEnv.create();
try {
  const helper = values.role === 'all' ? null : await env.startService([], { ROLE: values.role === 'command' ? 'query,relay,projector' : 'command,relay,projector' });
  const service = await env.startService([], { ROLE: values.role });
  const crud = await env.crud();
  const commandUrl = values.role === 'query' ? helper!.url : service.url;
  const deployment = { topology: 'all' as const, commandUrl, queryUrl: values.role === 'command' ? helper!.url : service.url, servers: [service] };
  const requests = async (url: string): Promise<WrkRequest[]> => {
    if (values.op !== 'read') return Promise.all(Array.from({ length: 16 }, async (_, user) => ({ token: await tokenFor(benchUser(user)), body: JSON.stringify({ query: createOrderMutation, variables: { input: { items } } }) })));
    const http = new GraphQLHttp(url, 8);
    const orders = await seedOrders(http, 16, 2);
    http.close();
    const list: WrkRequest[] = [];
    for (const [user, ids] of orders.entries()) for (const id of ids) list.push({ token: await tokenFor(benchUser(user)), body: JSON.stringify({ query: orderQuery, variables: { id } }) });
    return list;
  };
  const measure = async (name: string, url: string, pids: number[], list: WrkRequest[]) => {
    await wrk(url, connections, 2, list);
    if (name.startsWith('CQRS')) await settle(env, deployment);
    const before = await Promise.all(pids.map(cpuSeconds));
    const infraBefore = await infraSeconds();
    const result = await wrk(url, connections, seconds, list);
    const after = await Promise.all(pids.map(cpuSeconds));
    const drained = name.startsWith('CQRS') && values.op !== 'read' ? await settle(env, deployment) : 0;
    const final = await Promise.all(pids.map(cpuSeconds));
    const infraFinal = await infraSeconds();
    const per = pids.map((_, i) => (((after[i] ?? 0) - (before[i] ?? 0)) * 1000) / result.samples);
    const withDrain = pids.map((_, i) => (((final[i] ?? 0) - (before[i] ?? 0)) * 1000) / result.samples);
    const infra = Object.entries(infraUsed(infraBefore, infraFinal)).map(([server, used]) => `${server} ${((used * 1000) / result.samples).toFixed(2)}`);
    console.log(`${name.padEnd(22)} ${result.perSecond.toFixed(0).padStart(6)}/s p50 ${result.p50.toFixed(1)} ms; CPU ms per request: ${per.map((v) => v.toFixed(2)).join(' + ')} (with the drain after it: ${withDrain.map((v) => v.toFixed(2)).join(' + ')}); with the drain: ${infra.join(', ')}`);
  };
  const cqrsList = await requests(deployment.commandUrl);
  if (values.op === 'read') await settle(env, deployment);
  await measure(`CQRS ${values.role}${helper ? ' + helper' : ''}`, values.op === 'read' ? deployment.queryUrl : deployment.commandUrl, helper ? [service.pid, helper.pid] : [service.pid], cqrsList);
  await measure('CRUD', crud.url, [crud.pid], await requests(crud.url));
} finally {
  await env.cleanup();
}

/** CPU seconds used so far by each process of the machine's Postgres, NATS and Redis, by pid. */
async function infraSeconds(): Promise<Map<number, { server: string; seconds: number }>> {
  const names: Record<string, string> = { postgres: 'Postgres', 'nats-server': 'NATS', 'redis-server': 'Redis' };
  const used = new Map<number, { server: string; seconds: number }>();
  for (const pid of (await readdir('/proc')).filter((entry) => /^\d+$/.test(entry)).map(Number)) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    const server = names[stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))];
    if (server) used.set(pid, { server, seconds: (await cpuSeconds(pid)) ?? 0 });
  }
  return used;
}

/**
 * What each server used between two readings: a process in both counts its difference, one that started
 * in between all of its time; one that ended in between (an idle pool connection closed) is left out,
 * as its time since the first reading is not known.
 */
function infraUsed(before: Map<number, { server: string; seconds: number }>, after: Map<number, { server: string; seconds: number }>): Record<string, number> {
  const used: Record<string, number> = { Postgres: 0, NATS: 0, Redis: 0 };
  for (const [pid, { server, seconds }] of after) used[server]! += seconds - (before.get(pid)?.seconds ?? 0);
  return used;
}
process.exit(0);
