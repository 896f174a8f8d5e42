// npm run bench -- <scenario|all> [--size smoke|full] [--rate N] [--seconds N] [--repeats N] [--out DIR] [--topology single|cluster]
// --topology cluster runs on a JetStream cluster of 3 (stream at R3) and a Redis Cluster of 6 started for
// the run (commands and freshness; results in bench/results/cluster/ unless --out says otherwise).
// Creates this run's database, stream and key prefix, runs the scenarios in order, prints each table,
// removes everything it created, and writes <out>/<date>.json and <out>/<date>.svg. A run kept in
// bench/results/ (the default) also rewrites bench/RESULTS.md.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { renderChart } from './chart.js';
import { BenchEnv } from './lib/env.js';
import { describeCommit, describeMachine } from './lib/machine.js';
import { profiles, type RunResult, type ScenarioName, scenarioNames, type ScenarioResult, type Size } from './lib/results.js';
import { renderScenario, resultsDir, writeReport } from './report.js';
import { commands } from './scenarios/commands.js';
import type { Scenario, ScenarioContext } from './scenarios/context.js';
import { fanout } from './scenarios/fanout.js';
import { freshness } from './scenarios/freshness.js';
import { reads } from './scenarios/reads.js';
import { rebuild } from './scenarios/rebuild.js';

const scenarios: Record<ScenarioName, Scenario> = { commands, reads, freshness, rebuild, fanout };
const usage = 'usage: npm run bench -- <commands|reads|freshness|rebuild|fanout|all> [--size smoke|full] [--rate N] [--seconds N] [--repeats N] [--out DIR] [--topology single|cluster]';

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}

const argOptions = {
  size: { type: 'string', default: 'full' },
  rate: { type: 'string' },
  seconds: { type: 'string' },
  repeats: { type: 'string' },
  out: { type: 'string' },
  topology: { type: 'string', default: 'single' },
} as const;
if (process.argv.includes('--help')) {
  console.log(usage);
  process.exit(0);
}
// An unknown option gets its name and the usage line, not parseArgs' stack trace.
const { positionals, values } = (() => {
  try {
    return parseArgs({ allowPositionals: true, options: argOptions });
  } catch (error) {
    return fail(`${error instanceof Error ? error.message : String(error)}\n${usage}`);
  }
})();
const topology = values.topology === 'single' || values.topology === 'cluster' ? values.topology : fail(usage);
const [which = fail(usage)] = positionals;
const names = which === 'all' ? [...scenarioNames] : scenarioNames.includes(which as ScenarioName) ? [which as ScenarioName] : fail(usage);
if (topology === 'cluster' && names.some((name) => name !== 'commands' && name !== 'freshness')) fail('--topology cluster runs commands and freshness (name them one at a time)');
const size = values.size === 'smoke' || values.size === 'full' ? (values.size as Size) : fail(usage);
const rate = values.rate === undefined ? null : Number(values.rate);
if (rate !== null && !(rate > 0)) fail('--rate must be a positive number of commands per second');
const positive = (name: string, value: string | undefined) => {
  if (value === undefined) return undefined;
  const number = Number(value);
  return number > 0 ? number : fail(`--${name} must be a positive number`);
};
// --seconds and --repeats override the size's own, for a probe of one scenario; a run kept in
// bench/results/ should use the sizes as they are.
const profile = { ...profiles[size], ...(values.seconds && { seconds: positive('seconds', values.seconds)! }), ...(values.repeats && { repeats: Math.round(positive('repeats', values.repeats)!) }) };
const outDir = path.resolve(values.out ?? (topology === 'cluster' ? path.join(resultsDir, 'cluster') : resultsDir));

// Every subscriber holds a socket here and one in the service; the npm script raises the soft limit.
if (names.includes('fanout')) {
  const limit = Number(/^Max open files\s+(\d+)/m.exec(await readFile('/proc/self/limits', 'utf8'))?.[1] ?? Infinity);
  const needed = Math.max(...profile.fanout) + 1000;
  if (limit < needed) fail(`fanout needs about ${needed} open files, the limit is ${limit}: run 'ulimit -n ${needed}' first`);
}

const date = new Date().toISOString();
const commit = describeCommit(); // at the start: the code that runs is the code checked out now
const env = await BenchEnv.create({ topology });
let interrupted = false;
process.once('SIGINT', () => {
  interrupted = true;
  console.error('interrupted: cleaning up');
  void env.cleanup().finally(() => process.exit(130));
});

const results: ScenarioResult[] = [];
const context: ScenarioContext = { env, size, profile, rate, peakCommandRate: null };
try {
  for (const name of names) {
    console.log(`\n== ${name} (${size})`);
    const started = performance.now();
    const result = await scenarios[name](context);
    console.log(`${renderScenario(result)}\n\n(${name} took ${((performance.now() - started) / 1000).toFixed(1)} s)`);
    results.push(result);
  }
} finally {
  if (!interrupted) await env.cleanup();
}

const run: RunResult = { date, size, ...(topology === 'cluster' ? { topology } : {}), ...commit, machine: await describeMachine(), scenarios: results };
const base = path.join(outDir, date.replace(/\.\d+Z$/, 'Z').replaceAll(':', '-'));
await mkdir(outDir, { recursive: true });
await writeFile(`${base}.json`, `${JSON.stringify(run, null, 2)}\n`);
await writeFile(`${base}.svg`, renderChart(run));
console.log(`\nwrote ${base}.json and ${base}.svg`);
if (outDir === resultsDir) console.log(`wrote ${await writeReport(`${base}.json`)}`);
// Prisma's WASM schema engine, which migrated the database, leaves a timer that would hold the
// process about ten seconds longer.
process.exit(0);
