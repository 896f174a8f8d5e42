// createOrder's capacity: wrk keeps 1, 8, 32 and 64 connections busy (closed loop) against the CQRS
// service, in its default deployment (every role in one process) and split (command, query and worker
// processes), and against the CRUD baseline at the same moment; pgbench's single-row inserts give the
// database's own ceiling. Three repeats, each CQRS run paired with a CRUD run right after it: the ratio
// row is the median of those paired ratios, with their range. After every CQRS run the benchmark waits
// until the pipeline has published and projected everything ("drain s"): a rate the pipeline cannot
// keep up with would show there, not hide in a backlog the next run pays for.
import pg from 'pg';
import { benchUser, items, tokenFor } from '../lib/graphql.js';
import { type Deployment, topologies } from '../lib/env.js';
import { spread } from '../lib/load.js';
import { createOrderMutation, settle } from '../lib/operations.js';
import { errorNote, type Row, type ScenarioResult } from '../lib/results.js';
import { pgbenchInserts, pgbenchScratchTable } from '../lib/tools.js';
import { cpuSeconds, type WrkRequest, type WrkResult, requireWrk, warmUp, wrkWithCpu } from '../lib/wrk.js';
import type { Scenario, ScenarioContext } from './context.js';

export const commandRatioGoal = 0.8;
const callers = 16; // the load spreads over this many users, as real traffic does

async function createRequests(): Promise<WrkRequest[]> {
  const body = JSON.stringify({ query: createOrderMutation, variables: { input: { items } } });
  return Promise.all(Array.from({ length: callers }, async (_, user) => ({ token: await tokenFor(benchUser(user)), body })));
}

/**
 * The peak createOrder rate as the commands scenario finds it at 32 connections: after a warm-up (JIT,
 * pools), the median of the profile's repeats. A single cold run measured half of it (558/s against
 * 1,179/s on one machine), and freshness at "50 % of the peak" was then a quarter of it.
 */
export async function measurePeakCommands(context: ScenarioContext, deployment: Deployment): Promise<number> {
  const { profile } = context;
  await warmUp(deployment.commandUrl, profile.warmupSeconds, await createRequests());
  const runs: number[] = [];
  for (let repeat = 0; repeat < profile.repeats; repeat++) runs.push((await measureCqrsCommands(context, deployment, 32, profile.seconds)).perSecond);
  return spread(runs).median;
}

/** One closed-loop createOrder run on a CQRS deployment, then the time its pipeline needed to drain. */
export async function measureCqrsCommands(context: ScenarioContext, deployment: Deployment, connections: number, seconds: number): Promise<Measured & { drainSeconds: number }> {
  const pids = deployment.servers.map((server) => server.pid);
  const result = await wrkWithCpu(deployment.commandUrl, connections, seconds, await createRequests(), pids);
  // The pipeline's work for these commands is finished only once it has drained: its CPU counts too.
  const before = result.serverCpuMs * result.samples;
  const startedDrain = await Promise.all(pids.map(cpuSeconds));
  const drainSeconds = await settle(context.env, deployment);
  const drained = await Promise.all(pids.map(cpuSeconds));
  const drainCpuMs = pids.reduce((sum, _, i) => sum + ((drained[i] ?? 0) - (startedDrain[i] ?? 0)), 0) * 1000;
  return { ...result, serverCpuMs: (before + drainCpuMs) / result.samples, drainSeconds };
}

type Measured = WrkResult & { serverCpuMs: number };

export const commands: Scenario = async (context) => {
  const { env, profile } = context;
  requireWrk();
  if (env.topology === 'cluster') return clusterCommands(context);
  const crud = await env.crud();
  const db = new pg.Client({ connectionString: env.databaseUrl });
  await db.connect();
  await db.query(pgbenchScratchTable).finally(() => db.end());
  const requests = await createRequests();

  const rows: Row[] = [];
  const notes: string[] = [];
  const cpu: number[] = [];
  for (const topology of topologies) {
    const deployment = await env.deployment(topology);
    try {
      // JIT, pools and connections warm up outside the measured levels.
      await warmUp(deployment.commandUrl, profile.warmupSeconds, requests);
      await settle(env, deployment);
      await warmUp(crud.url, profile.warmupSeconds, requests);
      for (const connections of profile.clients) {
        const cqrs: (Measured & { drainSeconds: number })[] = [];
        const plain: Measured[] = [];
        const floor: number[] = [];
        for (let repeat = 0; repeat < profile.repeats; repeat++) {
          cqrs.push(await measureCqrsCommands(context, deployment, connections, profile.seconds));
          plain.push(await wrkWithCpu(crud.url, connections, profile.seconds, requests, [crud.pid]));
          if (topology === 'all') floor.push((await pgbenchInserts(env.databaseName, connections, profile.seconds)).perSecond);
        }
        const level = `${topology} ${connections}`;
        rows.push(
          throughputRow(`CQRS createOrder`, level, cqrs, spread(cqrs.map((r) => r.drainSeconds)).median),
          throughputRow('CRUD createOrder', level, plain, null),
          ratioRow('CQRS/CRUD', level, cqrs.map((r, i) => r.perSecond / plain[i]!.perSecond), commandRatioGoal),
        );
        if (floor.length) {
          const pgbench = spread(floor);
          rows.push({ system: 'pgbench insert', level, values: [pgbench.median, pgbench.min, pgbench.max, null, null, null, null, null] });
        }
        const best = spread(cqrs.map((r) => r.perSecond)).median;
        if (topology === 'all') context.peakCommandRate = Math.max(context.peakCommandRate ?? 0, best);
        for (const [system, results] of [['CQRS createOrder', cqrs], ['CRUD createOrder', plain]] as const)
          for (const result of results) notes.push(...errorNote(system, `${level} connections`, result)), cpu.push(result.generatorCpu);
      }
    } finally {
      await env.stopDeployment(deployment);
    }
  }
  notes.unshift(generatorNote(cpu));
  return {
    name: 'commands',
    title: `createOrder over HTTP, closed loop (wrk), ${profile.repeats} repeats`,
    levelName: 'deployment, connections',
    columns: throughputColumns,
    chartColumn: 0,
    rows,
    notes,
  };
};

/** The columns of `throughputRow` and `ratioRow`. */
export const throughputColumns = ['req/s', 'min', 'max', 'p50 ms', 'p99 ms', 'drain s', 'server CPU ms/req', 'goal'];

/** How much of a core wrk used per run, over a scenario's runs. */
export function generatorNote(cpu: number[]): string {
  const used = spread(cpu);
  return `wrk (one thread) used ${(used.median * 100).toFixed(1)} % of a core per run (range ${(used.min * 100).toFixed(1)}–${(used.max * 100).toFixed(1)} %)`;
}

/**
 * Median throughput of the repeats with its range, the median latencies, and the median CPU the servers
 * under test spent per request (every process of the deployment, its drain included).
 */
export function throughputRow(system: string, level: string, results: Measured[], drainSeconds: number | null): Row {
  const rate = spread(results.map((r) => r.perSecond));
  const median = (pick: (r: Measured) => number) => spread(results.map(pick)).median;
  return { system, level, values: [rate.median, rate.min, rate.max, median((r) => r.p50), median((r) => r.p99), drainSeconds, median((r) => r.serverCpuMs), null] };
}

/** Median and range of paired ratios (each from one repeat), beside the goal. */
export function ratioRow(system: string, level: string, ratios: number[], goal: number): Row {
  const ratio = spread(ratios);
  return { system, level, values: [ratio.median, ratio.min, ratio.max, null, null, null, null, goal], ratio: true };
}

/** On the clusters only the service's own figures: the CRUD and pgbench baselines do not change with them. */
async function clusterCommands(context: ScenarioContext): Promise<ScenarioResult> {
  const { env, profile } = context;
  const deployment = await env.deployment('all');
  await warmUp(deployment.commandUrl, profile.warmupSeconds, await createRequests());
  await settle(env, deployment);
  const rows: Row[] = [];
  const notes: string[] = [];
  for (const connections of profile.clients) {
    const cqrs: (Measured & { drainSeconds: number })[] = [];
    for (let repeat = 0; repeat < profile.repeats; repeat++) cqrs.push(await measureCqrsCommands(context, deployment, connections, profile.seconds));
    rows.push(throughputRow('CQRS createOrder (JetStream R3, Redis Cluster)', `all ${connections}`, cqrs, spread(cqrs.map((r) => r.drainSeconds)).median));
    for (const result of cqrs) notes.push(...errorNote('CQRS createOrder', `${connections} connections`, result));
    context.peakCommandRate = Math.max(context.peakCommandRate ?? 0, spread(cqrs.map((r) => r.perSecond)).median);
  }
  return {
    name: 'commands',
    title: `createOrder over HTTP, closed loop (wrk), on the clusters, ${profile.repeats} repeats`,
    levelName: 'deployment, connections',
    columns: throughputColumns,
    chartColumn: 0,
    rows,
    notes,
  };
}
