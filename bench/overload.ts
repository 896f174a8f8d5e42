// npm run bench:overload: what the command path does past its capacity. (1) the peak: closed-loop
// createOrder at 32 clients, on a process of its own with the rate governor off (the machine's capacity);
// then, on a new process as deployed, (2) unloaded: open loop at a fifth of the peak; (3) overload: open loop at
// twice the peak. Latency is measured from each request's intended send time. The service is one process
// with all roles on the local Postgres, NATS and Redis (a fresh database, stream and prefix), with its
// default admission limits unless COMMAND_* are set in the environment. Writes bench/results/overload-<time>.json.
//
// The client keeps a fixed pool of OVERLOAD_CONNECTIONS (default 256) keep-alive connections, opened before
// each open-loop phase and used in turn, as wrk and a load balancer's upstream pool do. Connections opened in
// the middle of an overload are a different test: Node (libuv since 1.45) accepts one new connection per
// turn of its event loop, so under load a burst of them waits in the kernel's accept queue, 50-450 ms here,
// where no admission can see it. OVERLOAD_COLD=1 skips the opening, to measure that (see docs/security.md).
import http from 'node:http';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { cpuSeconds } from './lib/wrk.js';
import { BenchEnv } from './lib/env.js';
import { benchUser, items, tokenFor } from './lib/graphql.js';
import { closedLoop, percentiles } from './lib/load.js';

const mutation = 'mutation Create($input: CreateOrderInput!) { createOrder(input: $input) { orderId } }';
const seconds = Number(process.env.OVERLOAD_SECONDS ?? 20);
const users = 64;

interface Answer {
  latencyMs: number;
  /** When it was due, from the start of its loop. */
  dueMs?: number;
  kind: 'admitted' | 'refused' | 'error';
  code?: string;
  status: number;
  retryAfter: string | null;
  /** Sent on a connection opened for it (none of the pool was free), not one already open. */
  newConnection?: boolean;
  /** Which part refused it: `http` before parsing, `command` the admission. */
  server?: string;
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
    // An idle socket is dropped after 4 s, before the server's keep-alive timeout (5 s) closes it: else a
    // request sent on it as the server closes it fails with ECONNRESET (seen: 6 in 30,000 once the
    // responses got faster and more of the 256 sockets sat idle), an error of this client, not the service.
    // FIFO: every connection of the pool is used in turn, so none sits idle long enough to time out and be
    // opened again under load.
    const connections = Number(process.env.OVERLOAD_CONNECTIONS ?? 256);
    const agent = new http.Agent({ keepAlive: true, timeout: 4_000, maxSockets: connections, scheduling: 'fifo' });
    const tokens = await Promise.all(Array.from({ length: users }, (_, i) => tokenFor(benchUser(i))));
    let url = service.url;
    // Built once: the generator's own allocations show as stalls of its event loop (its GC), which count
    // as the service's latency since every request is timed from when it was due.
    const body = Buffer.from(JSON.stringify({ query: mutation, variables: { input: { items } } }));
    const headers = tokens.map((token) => ({ 'content-type': 'application/json', 'content-length': String(body.length), authorization: `Bearer ${token}` }));
    const send = (i: number, intendedAt: number) =>
      new Promise<Answer>((answered) => {
        let newConnection = false;
        const resolve = (answer: Answer) => answered({ ...answer, newConnection });
        const request = http.request(`${url}/graphql`, { method: 'POST', agent, headers: headers[i % users] }, (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => {
            const latencyMs = performance.now() - intendedAt;
            try {
              const parsed = JSON.parse(Buffer.concat(chunks).toString()) as { data?: unknown; errors?: { extensions?: { code?: string; server?: string } }[] };
              const code = parsed.errors?.[0]?.extensions?.code;
              const server = parsed.errors?.[0]?.extensions?.server;
              const kind = !code ? 'admitted' : code === 'SERVICE_UNAVAILABLE' || code === 'RATE_LIMITED' ? 'refused' : 'error';
              resolve({ latencyMs, kind, code, server, status: response.statusCode ?? 0, retryAfter: (response.headers['retry-after'] as string | undefined) ?? null });
            } catch {
              resolve({ latencyMs, kind: 'error', code: 'unparsable', status: response.statusCode ?? 0, retryAfter: null });
            }
          });
        });
        request.once('socket', (socket) => (newConnection = socket.connecting));
        request.on('error', (error) => resolve({ latencyMs: performance.now() - intendedAt, kind: 'error', code: error.message, status: 0, retryAfter: null }));
        request.end(body);
      });

    /** Opens every connection of the pool at once (a GET of /healthz on each), unless OVERLOAD_COLD is set. */
    const openPool = async () => {
      if (process.env.OVERLOAD_COLD) return;
      await Promise.all(Array.from({ length: connections }, () => new Promise<void>((resolve, reject) => http.get(`${url}/healthz`, { agent }, (response) => response.resume().on('end', resolve)).on('error', reject))));
    };

    /** Open loop: request i is due at start + i/rate, and its latency counts from then. */
    const openLoop = async (rate: number, duration: number) => {
      await openPool();
      const answers: Promise<Answer>[] = [];
      const count = Math.round(rate * duration);
      const rss: number[] = [];
      // What the load generator (this process) and the service each used, so a saturated generator shows.
      const generatorCpu = process.cpuUsage();
      const serviceCpu = await cpuSeconds(service.pid);
      const machine = await machineTicks();
      const gcBefore = await gcTotals(service.url); // also resets prom-client's event-loop lag histogram
      const generatorDelay = monitorEventLoopDelay({ resolution: 5 });
      generatorDelay.enable();
      const sampler = setInterval(() => void readFile(`/proc/${service.pid}/status`, 'utf8').then((s) => rss.push(Number(/VmRSS:\s+(\d+)/.exec(s)?.[1] ?? 0) / 1024)), 1000);
      // The schedule starts now, after the readings above: a request due while they ran would be sent
      // late by the generator itself and counted as the service's latency.
      const start = performance.now();
      const startedAt = Date.now();
      // With OVERLOAD_RAW: when this generator's own event loop stalled (a tick over 5 ms late), so that a
      // tail can be told apart from the generator sending late.
      const stalls: { atMs: number; lateMs: number }[] = [];
      let tickDue = start + 2;
      const stallProbe = process.env.OVERLOAD_RAW
        ? setInterval(() => {
            const now = performance.now();
            if (now - tickDue > 5) stalls.push({ atMs: Math.round(tickDue - start), lateMs: Math.round(now - tickDue) });
            tickDue = now + 2;
          }, 2)
        : undefined;
      // With OVERLOAD_RAW also the rate governor's state, read from the service's metrics every 250 ms.
      const governor: { atMs: number; rate: number; baselineMs: number }[] = [];
      const governorProbe = process.env.OVERLOAD_RAW
        ? setInterval(() => {
            const atMs = Math.round(performance.now() - start);
            void fetch(`${service.url}/metrics`)
              .then((response) => response.text())
              .then((text) => {
                governor.push({ atMs, rate: metricValue(text, 'orders_command_rate_limit'), baselineMs: Math.round(metricValue(text, 'orders_command_latency_baseline_seconds') * 10000) / 10 });
              })
              .catch(() => {});
          }, 250)
        : undefined;
      for (let i = 0; i < count; ) {
        while (i < count && start + (i * 1000) / rate <= performance.now()) {
          const dueMs = (i * 1000) / rate;
          answers.push(send(i, start + dueMs).then((answer) => ({ ...answer, dueMs })));
          i++;
        }
        await sleep(Math.max(0, start + (i * 1000) / rate - performance.now()));
      }
      const all = await Promise.all(answers);
      clearInterval(sampler);
      clearInterval(stallProbe);
      clearInterval(governorProbe);
      // OVERLOAD_RAW=<dir>: every answer of the phase, to find where in it a tail came from.
      if (process.env.OVERLOAD_RAW) {
        await writeFile(path.join(process.env.OVERLOAD_RAW, `${rate.toFixed(0)}.json`), JSON.stringify(all));
        await writeFile(path.join(process.env.OVERLOAD_RAW, `${rate.toFixed(0)}-generator-stalls.json`), JSON.stringify({ startedAt, stalls }));
        await writeFile(path.join(process.env.OVERLOAD_RAW, `${rate.toFixed(0)}-governor.json`), JSON.stringify(governor));
      }
      generatorDelay.disable();
      const wallSeconds = (performance.now() - start) / 1000;
      const generatorUsed = process.cpuUsage(generatorCpu);
      const cpu = {
        generatorCores: Math.round(((generatorUsed.user + generatorUsed.system) / 1e6 / wallSeconds) * 100) / 100,
        serviceCores: Math.round(((((await cpuSeconds(service.pid)) ?? 0) - (serviceCpu ?? 0)) / wallSeconds) * 100) / 100,
        generatorLoopDelayP99Ms: Math.round(generatorDelay.percentile(99) / 1e4) / 100,
        generatorLoopDelayMaxMs: Math.round(generatorDelay.max / 1e4) / 100,
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
          withRetryAfter: refused.filter((a) => a.retryAfter !== null).length,
          ...round(percentiles(refused.map((a) => a.latencyMs))),
        },
        errors: { count: of('error').length, codes: countBy(of('error').map((a) => `${a.code} HTTP ${a.status}`)) },
        // Connections the client had to open during the phase: 0 with the pool opened before it.
        newConnections: all.filter((a) => a.newConnection).length,
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
    await closedLoop(8, 5, (i) => send(i, performance.now()));
    const peakRun = await closedLoop(32, 15, async (client) => {
      const answer = await send(client, performance.now());
      if (answer.kind !== 'admitted') throw new Error(answer.code);
    });
    const peak = peakRun.perSecond;
    console.log(`peak (closed loop, 32 clients, rate governor off): ${peak.toFixed(0)}/s, p99 ${peakRun.p99.toFixed(1)} ms, refused or failed ${peakRun.errors}`);
    // The phases run on the service as deployed (its defaults, or the COMMAND_* given), warmed up again.
    await env.stop(service);
    agent.destroy();
    // With OVERLOAD_RAW the service says when it collected garbage or its event loop stalled (stderr, kept
    // with BENCH_SERVER_LOG), to be matched with the answers' times.
    service = await env.startService([...(process.env.OVERLOAD_NODE_ARGS?.split(' ').filter(Boolean) ?? []), ...(process.env.OVERLOAD_RAW ? ['--import', './bench/lib/stallProbe.mjs'] : [])]);
    url = service.url;
    await closedLoop(8, 5, (i) => send(i, performance.now()));
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
    await writeFile(file, `${JSON.stringify({ at: new Date().toISOString(), limits, peak: { perSecond: peak, p50: peakRun.p50, p99: peakRun.p99 }, unloaded, overload, verdict }, null, 2)}\n`);
    console.log(`written to ${file}`);
    agent.destroy();
  } finally {
    await env.cleanup();
  }
}

/** Admitted and refused p99 of the answers due in each of `count` slices of `widthMs`, labelled by `label`. */
function slices(all: Answer[], widthMs: number, count: number, unit: string, label: (slice: number) => number): string[] {
  return Array.from({ length: count }, (_, slice) => {
    const due = all.filter((a) => Math.floor((a.dueMs ?? 0) / widthMs) === slice);
    const of = (kind: Answer['kind']) => due.filter((a) => a.kind === kind);
    const p99 = (kind: Answer['kind']) => Math.round(percentiles(of(kind).map((a) => a.latencyMs)).p99 ?? 0);
    const opened = due.filter((a) => a.newConnection).length;
    return `${label(slice)}${unit}: ${of('admitted').length} admitted p99 ${p99('admitted')} ms, ${of('refused').length} refused p99 ${p99('refused')} ms${opened ? `, ${opened} on new connections` : ''}`;
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
