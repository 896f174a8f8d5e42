// npm run bench:overload: what the command path does past its capacity. (1) the peak: closed-loop
// createOrder at 32 connections (wrk), on a process of its own with the rate governor off (the machine's
// capacity); then, on a new process as deployed, (2) unloaded: open loop at a fifth of the peak; (3)
// overload: open loop at twice the peak. The open loops run bench/openloop/openloop.c, a generator in C
// that times each request from when it was due (no coordinated omission), sends on time (real-time
// priority; its own lateness is reported) and uses about an eighth of a core at 2,400 requests/s. The service is
// one process with all roles on the local Postgres, NATS and Redis (a fresh database, stream and prefix),
// with its default admission limits unless COMMAND_* are set in the environment. Writes
// bench/results/overload-<time>.json.
//
// The generator keeps a fixed pool of OVERLOAD_CONNECTIONS (default 256) keep-alive connections, opened and
// used once before each open-loop phase and then taken in turn, as a load balancer's upstream pool does.
// Connections opened in the middle of an overload are a different test: Node (libuv since 1.45) accepts
// one new connection per turn of its event loop, so under load a burst of them waits in the kernel's accept
// queue, 50-450 ms here, where no admission can see it. OVERLOAD_COLD=1 opens them as requests find none
// free instead, to measure that (see docs/security.md).
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { cpuSeconds, warmUp, wrk } from './lib/wrk.js';
import { BenchEnv } from './lib/env.js';
import { benchUser, items, tokenFor } from './lib/graphql.js';
import { percentiles } from './lib/load.js';
import { failureOf, openLoop as generate, type OpenLoopAnswer } from './lib/openLoop.js';

const mutation = 'mutation Create($input: CreateOrderInput!) { createOrder(input: $input) { orderId } }';
const seconds = Number(process.env.OVERLOAD_SECONDS ?? 20);
const users = 64;

interface Answer {
  latencyMs: number;
  /** When it was due, from the start of its loop. */
  dueMs: number;
  /** How late the generator tried to send it (its own lateness, not the pool's wait). */
  lateMs: number;
  kind: 'admitted' | 'refused' | 'error';
  code?: string;
  status: number;
  retryAfter: boolean;
  /** Which part refused it: `http` before parsing, `command` the admission. */
  server?: string;
}

function classify(answer: OpenLoopAnswer): Answer {
  const { dueMs, lateMs, latencyMs, status, retryAfter, server } = answer;
  const code = failureOf(answer);
  const kind = code === null ? 'admitted' : code === 'SERVICE_UNAVAILABLE' || code === 'RATE_LIMITED' ? 'refused' : 'error';
  return { dueMs, lateMs, latencyMs, status, retryAfter, kind, ...(code !== null && { code }), ...(server && { server }) };
}

async function main() {
  const env = await BenchEnv.create();
  const passThrough = Object.fromEntries(Object.entries(process.env).filter(([key]) => key.startsWith('COMMAND_') || key.startsWith('RECONCILE_')) as [string, string][]);
  // As deployed: the service's own default for the rate governor (the other scenarios turn it off), or
  // what COMMAND_LATENCY_TOLERANCE says.
  const { COMMAND_LATENCY_TOLERANCE: _off, ...deployed } = env.serviceEnv;
  Object.defineProperty(env, 'serviceEnv', { value: { ...deployed, ...passThrough } });
  try {
    // The peak is the service's capacity: measured on a process of its own with the rate governor off
    // (with it on, a closed loop would measure the rate the governor holds, not what the machine can do).
    let service = await env.startService([], { COMMAND_LATENCY_TOLERANCE: '0' });
    const connections = Number(process.env.OVERLOAD_CONNECTIONS ?? 256);
    const body = JSON.stringify({ query: mutation, variables: { input: { items } } });
    const requests = await Promise.all(Array.from({ length: users }, async (_, i) => ({ token: await tokenFor(benchUser(i)), body })));

    /** Open loop: request i is due at start + i/rate, and its latency counts from then. */
    const openLoop = async (rate: number, duration: number) => {
      const rss: number[] = [];
      const serviceCpu = await cpuSeconds(service.pid);
      const machine = await machineTicks();
      const gcBefore = await gcTotals(service.url); // also resets prom-client's event-loop lag histogram
      const startedAt = Date.now();
      const sampler = setInterval(() => void readFile(`/proc/${service.pid}/status`, 'utf8').then((s) => rss.push(Number(/VmRSS:\s+(\d+)/.exec(s)?.[1] ?? 0) / 1024)), 1000);
      // With OVERLOAD_RAW also the rate governor's state, read from the service's metrics every 250 ms.
      const governor: { at: number; rate: number; baselineMs: number }[] = [];
      const governorProbe = process.env.OVERLOAD_RAW
        ? setInterval(() => {
            const at = Date.now();
            void fetch(`${service.url}/metrics`)
              .then((response) => response.text())
              .then((text) => {
                governor.push({ at, rate: metricValue(text, 'orders_command_rate_limit'), baselineMs: Math.round(metricValue(text, 'orders_command_latency_baseline_seconds') * 10000) / 10 });
              })
              .catch(() => {});
          }, 250)
        : undefined;
      const run = await generate(service.url, rate, duration, { connections, requests, cold: Boolean(process.env.OVERLOAD_COLD) });
      clearInterval(sampler);
      clearInterval(governorProbe);
      const all = run.answers.map(classify);
      // OVERLOAD_RAW=<dir>: every answer of the phase, to find where in it a tail came from.
      if (process.env.OVERLOAD_RAW) {
        await writeFile(path.join(process.env.OVERLOAD_RAW, `${rate.toFixed(0)}.json`), JSON.stringify(all));
        await writeFile(path.join(process.env.OVERLOAD_RAW, `${rate.toFixed(0)}-generator.json`), JSON.stringify({ startedAt: run.startedAtMs, priority: run.priority, lateMs: run.generatorLateMs }));
        await writeFile(path.join(process.env.OVERLOAD_RAW, `${rate.toFixed(0)}-governor.json`), JSON.stringify(governor.map(({ at, ...state }) => ({ atMs: at - run.startedAtMs, ...state }))));
      }
      const wallSeconds = (Date.now() - startedAt) / 1000;
      const cpu = {
        generatorCores: run.generatorCores,
        generatorPriority: run.priority,
        generatorLateMs: run.generatorLateMs,
        serviceCores: Math.round(((((await cpuSeconds(service.pid)) ?? 0) - (serviceCpu ?? 0)) / wallSeconds) * 100) / 100,
        // Every process on the machine (Postgres, NATS, Redis too): near the core count, the machine is saturated.
        machineBusyCores: Math.round((((await machineTicks()).busy - machine.busy) / 100 / wallSeconds) * 100) / 100,
      };
      // The service's own pauses in this phase: garbage collection by kind, and its event loop's delay.
      const gcAfter = await gcTotals(service.url);
      const gc = Object.fromEntries(
        Object.entries(gcAfter.kinds).map(([kind, after]) => {
          const before = gcBefore.kinds[kind] ?? { count: 0, seconds: 0, over10ms: 0, over100ms: 0 };
          return [kind, { count: after.count - before.count, totalMs: Math.round((after.seconds - before.seconds) * 1000), over10ms: after.over10ms - before.over10ms, over100ms: after.over100ms - before.over100ms }];
        }),
      );
      const serviceStats = { gc, eventLoopDelayMs: gcAfter.eventLoop };
      const of = (kind: Answer['kind']) => all.filter((a) => a.kind === kind);
      const admitted = of('admitted');
      const refused = of('refused');
      return {
        offeredPerSecond: rate,
        seconds: duration,
        sent: all.length,
        admitted: { count: admitted.length, perSecond: admitted.length / duration, ...round(percentiles(admitted.map((a) => a.latencyMs))) },
        refused: {
          count: refused.length,
          codes: countBy(refused.map((a) => `${a.code} HTTP ${a.status}`)),
          withRetryAfter: refused.filter((a) => a.retryAfter).length,
          ...round(percentiles(refused.map((a) => a.latencyMs))),
        },
        errors: { count: of('error').length, codes: countBy(of('error').map((a) => `${a.code} HTTP ${a.status}`)) },
        // Connections the generator opened for the phase (the pool) and opened again when the server closed one.
        connections: { opened: run.opened, reopened: run.reconnects },
        // Where in the run the tail happened: admitted and refused p99 per second of due time, and the
        // onset at a finer grain, the first two seconds by tenth of a second.
        perSecond: slices(all, 1000, Math.ceil(duration), 's', (second) => second),
        onset: slices(all, 100, 20, 'ms', (tenth) => tenth * 100),
        cpu,
        service: serviceStats,
        rssMb: { first: Math.round(rss[0] ?? 0), max: Math.round(Math.max(0, ...rss)), last: Math.round(rss.at(-1) ?? 0) },
      };
    };

    console.log('warming up');
    await warmUp(service.url, 5, requests);
    const peakRun = await wrk(service.url, 32, 15, requests);
    const peak = peakRun.perSecond;
    console.log(`peak (closed loop, wrk, 32 connections, rate governor off): ${peak.toFixed(0)}/s, p99 ${peakRun.p99.toFixed(1)} ms, refused or failed ${peakRun.errors}, wrk ${peakRun.generatorCpu.toFixed(2)} cores`);
    // The phases run on the service as deployed (its defaults, or the COMMAND_* given), warmed up again.
    await env.stop(service);
    // With OVERLOAD_RAW the service says when it collected garbage or its event loop stalled (stderr, kept
    // with BENCH_SERVER_LOG), to be matched with the answers' times.
    service = await env.startService([...(process.env.OVERLOAD_NODE_ARGS?.split(' ').filter(Boolean) ?? []), ...(process.env.OVERLOAD_RAW ? ['--import', './bench/lib/stallProbe.mjs'] : [])]);
    await warmUp(service.url, 5, requests);
    const unloaded = await openLoop(Math.max(1, peak / 5), seconds);
    console.log('unloaded', JSON.stringify(unloaded));
    await sleep(3000);
    const overload = await openLoop(peak * 2, seconds);
    console.log('overload', JSON.stringify(overload));
    const verdict = {
      admittedP99WithinTwiceUnloaded: overload.admitted.p99 <= 2 * unloaded.admitted.p99,
      refusalsCarryRetryAfter: overload.refused.count === overload.refused.withRetryAfter,
      noOtherErrors: overload.errors.count === 0,
    };
    console.log('verdict', JSON.stringify(verdict));
    const limits = { OVERLOAD_CONNECTIONS: connections, OVERLOAD_COLD: Boolean(process.env.OVERLOAD_COLD), COMMAND_MAX_IN_FLIGHT: process.env.COMMAND_MAX_IN_FLIGHT ?? 'default', COMMAND_MAX_QUEUE: process.env.COMMAND_MAX_QUEUE ?? 'default', COMMAND_QUEUE_TIMEOUT_MS: process.env.COMMAND_QUEUE_TIMEOUT_MS ?? 'default', COMMAND_QUEUE_TARGET_MS: process.env.COMMAND_QUEUE_TARGET_MS ?? 'default', OVERLOAD_NODE_ARGS: process.env.OVERLOAD_NODE_ARGS ?? '', COMMAND_LATENCY_TOLERANCE: process.env.COMMAND_LATENCY_TOLERANCE ?? 'default' };
    const dir = path.join('bench', 'results');
    await mkdir(dir, { recursive: true });
    const file = path.join(dir, `overload-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    await writeFile(file, `${JSON.stringify({ at: new Date().toISOString(), generator: 'bench/openloop/openloop.c', limits, peak: { perSecond: peak, p50: peakRun.p50, p99: peakRun.p99, errors: peakRun.errors }, unloaded, overload, verdict }, null, 2)}\n`);
    console.log(`written to ${file}`);
  } finally {
    await env.cleanup();
  }
}

/** Admitted and refused p99 of the answers due in each of `count` slices of `widthMs`, labelled by `label`. */
function slices(all: Answer[], widthMs: number, count: number, unit: string, label: (slice: number) => number): string[] {
  return Array.from({ length: count }, (_, slice) => {
    const due = all.filter((a) => Math.floor(a.dueMs / widthMs) === slice);
    const of = (kind: Answer['kind']) => due.filter((a) => a.kind === kind);
    const p99 = (kind: Answer['kind']) => Math.round(percentiles(of(kind).map((a) => a.latencyMs)).p99 ?? 0);
    return `${label(slice)}${unit}: ${of('admitted').length} admitted p99 ${p99('admitted')} ms, ${of('refused').length} refused p99 ${p99('refused')} ms`;
  });
}

/** The service's garbage-collection totals by kind and its event-loop delay, from its Prometheus metrics. */
async function gcTotals(url: string) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const kinds: Record<string, { count: number; seconds: number; over10ms: number; over100ms: number }> = {};
  const entry = (kind: string) => (kinds[kind] ??= { count: 0, seconds: 0, over10ms: 0, over100ms: 0 });
  const buckets: Record<string, Record<string, number>> = {};
  for (const line of text.split('\n')) {
    const m = /^nodejs_gc_duration_seconds_(count|sum|bucket)\{(?:le="([^"]+)",)?kind="(\w+)"\} (\S+)$/.exec(line);
    if (!m) continue;
    const [, part, le, kind, value] = m as unknown as [string, string, string | undefined, string, string];
    if (part === 'count') entry(kind).count = Number(value);
    else if (part === 'sum') entry(kind).seconds = Number(value);
    else (buckets[kind] ??= {})[le!] = Number(value);
  }
  for (const [kind, b] of Object.entries(buckets)) {
    entry(kind).over10ms = entry(kind).count - (b['0.01'] ?? 0);
    entry(kind).over100ms = entry(kind).count - (b['0.1'] ?? 0);
  }
  const gauge = (name: string) => Math.round(metricValue(text, name) * 10000) / 10;
  return { kinds, eventLoop: { p50: gauge('nodejs_eventloop_lag_p50_seconds'), p99: gauge('nodejs_eventloop_lag_p99_seconds'), max: gauge('nodejs_eventloop_lag_max_seconds') } };
}

/** An unlabelled metric's value in Prometheus' text format (NaN when absent). */
const metricValue = (text: string, name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);

/** Busy CPU ticks (USER_HZ, 100/s) of the whole machine so far, from the first line of /proc/stat. */
async function machineTicks(): Promise<{ busy: number }> {
  // user nice system idle iowait irq softirq steal: all but idle and iowait are busy.
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = (await readFile('/proc/stat', 'utf8')).split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return { busy: user + nice + system + irq + softirq + steal };
}

const round = (p: { p50: number; p99: number; p999: number }) => ({ p50: Math.round(p.p50 * 10) / 10, p99: Math.round(p.p99 * 10) / 10, p999: Math.round(p.p999 * 10) / 10 });
function countBy(values: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}

await main();
process.exit(0);
