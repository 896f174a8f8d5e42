// Bytes allocated per request, and by whom: spawns the service (compiled, LOG_LEVEL=warn) with
// bench/lib/allocProbe.mjs, drives it with wrk (createOrder, or order(id) with --op read) at 8 connections,
// samples every allocation of --seconds after a warm-up (the pipeline's work for each command included,
// with --role all), and prints KiB per request by package or file and by function, the allocating
// frame itself (self) and everything under a frame (inclusive). --promoted counts only what outlived the
// young generation (freed by a major GC, or alive at the end): what makes the old generation grow.
// COMMAND_* in the environment reach the service (COMMAND_MAX_IN_FLIGHT=2 COMMAND_MAX_QUEUE=2 with
// --connections 64: mostly refusals); figures are per request answered, refused or not.
//   npx tsx bench/micro/alloc.ts [--op createOrder|read] [--role all|command|query] [--seconds 8] [--connections 8] [--promoted] [--rows 25]
import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { BenchEnv } from '../lib/env.js';
import { benchUser, GraphQLHttp, items, tokenFor } from '../lib/graphql.js';
import { createOrderMutation, orderQuery, seedOrders, settle } from '../lib/operations.js';
import { wrk, type WrkRequest } from '../lib/wrk.js';

const { values } = parseArgs({
  options: { op: { type: 'string', default: 'createOrder' }, role: { type: 'string', default: 'all' }, seconds: { type: 'string', default: '8' }, promoted: { type: 'boolean', default: false }, rows: { type: 'string', default: '25' }, connections: { type: 'string', default: '8' } },
});
const out = path.join(await mkdtemp(path.join(tmpdir(), 'alloc-')), 'profile.heapprofile');
const env = await BenchEnv.create();
let requests = 0;
try {
  const passThrough = Object.fromEntries(Object.entries(process.env).filter(([key]) => key.startsWith('COMMAND_')) as [string, string][]);
  const service = await env.startService(['--import', './bench/lib/allocProbe.mjs'], { ...passThrough, ROLE: values.role, ALLOC_OUT: out, ALLOC_PROMOTED: values.promoted ? '1' : '0' });
  const deployment = { topology: 'all' as const, commandUrl: service.url, queryUrl: service.url, servers: [service] };
  let list: WrkRequest[];
  if (values.op === 'read') {
    const http = new GraphQLHttp(service.url, 8);
    const orders = await seedOrders(http, 8, 4);
    http.close();
    list = [];
    for (const [user, ids] of orders.entries()) for (const id of ids) list.push({ token: await tokenFor(benchUser(user)), body: JSON.stringify({ query: orderQuery, variables: { id } }) });
  } else list = await Promise.all(Array.from({ length: 8 }, async (_, user) => ({ token: await tokenFor(benchUser(user)), body: JSON.stringify({ query: createOrderMutation, variables: { input: { items } } }) })));
  const drained = () => (values.op === 'createOrder' && values.role === 'all' ? settle(env, deployment) : Promise.resolve(0));
  const connections = Number(values.connections);
  await wrk(service.url, connections, 3, list).catch(() => {}); // a warm-up: refusals only are no failure here
  await drained();
  process.kill(service.pid, 'SIGUSR2');
  await sleep(300);
  const result = await wrk(service.url, connections, Number(values.seconds), list);
  await drained(); // the pipeline's work for these commands is theirs too
  const written = service.nextLog('alloc profile written', 30_000);
  process.kill(service.pid, 'SIGUSR2');
  await written;
  requests = result.samples + result.errors;
  console.log(`${values.op} x${connections} (${values.role}): ${result.perSecond.toFixed(0)}/s answered well, ${requests} requests sampled (${result.errors} refused or failed)${values.promoted ? ', promoted only' : ''}`);
  await env.stop(service);
} finally {
  await env.cleanup();
}

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children: Node[];
}
const profile = JSON.parse(readFileSync(out, 'utf8')) as { head: Node; samples: { size: number; nodeId: number }[] };
const nodes = new Map<number, Node>();
const parents = new Map<number, number>();
(function walk(node: Node) {
  nodes.set(node.id, node);
  for (const child of node.children) parents.set(child.id, node.id), walk(child);
})(profile.head);
const owner = ({ url }: Node['callFrame']) => /node_modules\/((@[^/]+\/)?[^/]+)/.exec(url)?.[1] ?? /\/((src|dist|bench)\/.*)$/.exec(url)?.[1] ?? (url ? url.replace(/^.*\//, '') : '(native)');
const where = (frame: Node['callFrame']) => `${frame.functionName || '(anonymous)'} ${owner(frame)}:${frame.lineNumber + 1}`;
const tables = { 'self, by package or file': new Map<string, number>(), 'inclusive, by package or file': new Map<string, number>(), 'self, by function': new Map<string, number>() };
const add = (table: Map<string, number>, key: string, size: number) => table.set(key, (table.get(key) ?? 0) + size);
let total = 0;
for (const { size, nodeId } of profile.samples) {
  total += size;
  // V8 leaves out of the tree a frame all of whose samples were freed (kept here: promoted, then freed by
  // a major collection); its sample still counts in the total.
  const node = nodes.get(nodeId);
  if (!node) {
    add(tables['self, by package or file'], '(frame not in the profile)', size);
    continue;
  }
  const leaf = node.callFrame;
  add(tables['self, by package or file'], owner(leaf), size);
  add(tables['self, by function'], where(leaf), size);
  const seen = new Set<string>();
  for (let id: number | undefined = nodeId; id !== undefined; id = parents.get(id)) {
    const frame = nodes.get(id)?.callFrame;
    if (!frame) break;
    const name = owner(frame);
    if (!seen.has(name)) seen.add(name), add(tables['inclusive, by package or file'], name, size);
  }
}
const kib = (bytes: number) => (bytes / requests / 1024).toFixed(1).padStart(7);
console.log(`\n${kib(total)} KiB per request in all`);
for (const [title, table] of Object.entries(tables)) {
  console.log(`\nKiB per request, ${title}:`);
  for (const [key, bytes] of [...table].sort((a, b) => b[1] - a[1]).slice(0, Number(values.rows))) console.log(`${kib(bytes)}  ${key}`);
}
process.exit(0);
