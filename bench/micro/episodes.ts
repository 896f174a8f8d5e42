// When the slow commands come: open-loop createOrder (the generator in C, latency from each request's due
// time) at --rate for --seconds against the service (compiled, LOG_LEVEL=warn; --role all, or the role
// given with the rest in a helper process), then the percentiles, and the slow answers (over --slow ms)
// grouped into episodes (answers due within 60 ms of each other) with the gaps between their starts. A
// steady gap points at something periodic on the machine (docs/performance.md: the kernel's kdamond
// every ~545 ms); --out writes every answer's wall-clock due time and latency, to match with
// `perf record -a --clockid monotonic` or a probe's log.
//   npx tsx bench/micro/episodes.ts [--rate 126] [--seconds 15] [--role all] [--slow 9] [--out answers.json]
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { BenchEnv } from '../lib/env.js';
import { benchUser, items, tokenFor } from '../lib/graphql.js';
import { failureOf, openLoop } from '../lib/openLoop.js';
import { createOrderMutation } from '../lib/operations.js';
import { warmUp } from '../lib/wrk.js';

const { values } = parseArgs({
  options: { rate: { type: 'string', default: '126' }, seconds: { type: 'string', default: '15' }, role: { type: 'string', default: 'all' }, slow: { type: 'string', default: '9' }, out: { type: 'string' } },
});
const env = await BenchEnv.create();
try {
  const role = values.role;
  const helper = await env.startHelperFor(role);
  const service = await env.startService([], { ROLE: role });
  const body = JSON.stringify({ query: createOrderMutation, variables: { input: { items } } });
  const requests = await Promise.all(Array.from({ length: 64 }, async (_, i) => ({ token: await tokenFor(benchUser(i)), body })));
  await warmUp(service.url, 5, requests);
  const run = await openLoop(service.url, Number(values.rate), Number(values.seconds), { connections: 256, requests });
  const answered = run.answers.filter((answer) => failureOf(answer) === null);
  const sorted = answered.map((answer) => answer.latencyMs).sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!.toFixed(1);
  console.log(`createOrder at ${values.rate}/s (${role}): ${answered.length} answered, ${run.answers.length - answered.length} failed; p50 ${at(0.5)} p90 ${at(0.9)} p99 ${at(0.99)} max ${at(1)} ms; generator late p99 ${run.generatorLateMs.p99} ms`);
  const slow = answered.filter((answer) => answer.latencyMs > Number(values.slow)).map((answer) => answer.dueMs).sort((a, b) => a - b);
  const episodes: number[][] = [];
  for (const due of slow) {
    const last = episodes.at(-1);
    if (last && due - last.at(-1)! < 60) last.push(due);
    else episodes.push([due]);
  }
  const starts = episodes.map((episode) => Math.round(episode[0]!));
  console.log(`${slow.length} answers over ${values.slow} ms in ${episodes.length} episodes; gaps between their starts (ms): ${starts.slice(1).map((start, i) => start - starts[i]!).join(' ')}`);
  if (values.out) await writeFile(values.out, JSON.stringify(answered.map((answer) => ({ at: run.startedAtMs + answer.dueMs, ms: answer.latencyMs }))));
  if (helper) await env.stop(helper);
  await env.stop(service);
} finally {
  await env.cleanup();
}
process.exit(0);
