// Tables for the terminal and bench/RESULTS.md, rendered from a results JSON only, so the report can
// never say more than was measured. `tsx bench/report.ts [results.json]` rewrites RESULTS.md from the
// given file, or from the newest one in bench/results/.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Figure, RunResult, ScenarioName, ScenarioResult } from './lib/results.js';

export const benchDir = import.meta.dirname;
export const resultsDir = path.join(benchDir, 'results');

/** What bounds each scenario's figures on this setup: read these before comparing two numbers. */
const limits: Record<ScenarioName, string> = {
  commands:
    'wrk (C, one thread, closed loop) keeps N connections busy; each CQRS run is paired with a CRUD run right after it and the ratio row is the median of those paired ratios, with their range (goal 0.8). CQRS createOrder is Yoga with the security plugins, the JWT check (cached), the rate limiter (local under half the quota), the append (one SQL statement: version check, events, outbox, NOTIFY) and the receipt in Redis; in the `all` deployment the same process also relays to JetStream and projects three read models, in `split` those run in a worker process on the same two cores. CRUD createOrder is bare Yoga, the same authenticator and one INSERT through pg. pgbench is the commit rate of single-row inserts with no application. "drain s" is how long the pipeline needed after the load to publish and project everything.',
  reads:
    'wrk as above, spreading requests over 16 callers and their orders. CQRS order(id) is one Redis HGETALL plus Yoga with the security plugins and the JWT check; the floor is bare graphql-yoga answering `{ __typename }` with no plugins and no auth (goal: CQRS at 0.8 of it); CRUD order(id) is one SELECT through pg; redis-benchmark GET is Redis alone over loopback.',
  freshness:
    'The load generator is bench/openloop/openloop.c, a process in C, sending createOrder on a fixed schedule (open loop) at 25 % and 50 % of the measured peak over 64 keep-alive connections; the response time runs from each request\'s intended send time. The subscriptions are held by this benchmark\'s Node process, which sends nothing while it measures. Commit → document is the pushed update\'s freshness.lagMs (projectedAt − eventAt): outbox NOTIFY, relay, JetStream, projector, Redis compare-and-set. Commit → subscriber is the receipt time at the client minus eventAt; the two rows under it split what follows the document: the change feed and the subscription (projectedAt → deliveredAt) and the socket (deliveredAt → receipt). eventAt is the append transaction\'s start; all stamps have millisecond resolution and one clock.',
  rebuild:
    'The rebuild is the whole command as a user runs it, start-up (tsx, Prisma, connections) included, replaying the store into every read model in turn; its own per-projection lines are in the notes. Its limits beside it: the Postgres scan reads every column in position order over one connection with pg parsing the JSON; the Redis figure is one connection writing one hash per event, pipelined, with a single-threaded Redis. Both are ceilings a rebuild cannot pass without parallelism.',
  fanout:
    'Every change notice reaches the subscriptions of its order only (the router looks them up by order id); the document the notice carries is executed by GraphQL once for all the subscribers of the order that push it alike (src/server/subscriptionExecution.ts), and what grows with subscribers per order is each one\'s message: its watcher\'s turn, serialization and a socket write. Delivery is measured at the client, one Node process receiving every message, so its own queueing is included; the server push figure is the server-side deliveredAt − eventAt. Memory per subscriber is read after a full collection, with every subscription open, against the same reading before any, each subscriber with a WebSocket of its own, and divided by subscribers: RSS is the growth of the process\'s resident set (VmRSS), what the machine pays, but it also moves with pages the heap and malloc kept or returned since the baseline (on one commit it read 43 and 71 KiB in one run, 65 and 67 in the next, where the live objects were 63-64 KiB); live is the growth of the V8 heap in use plus external memory, the objects alone (socket, graphql-ws, Yoga, the executor and our subscription state), and the one to compare between runs.',
};

export function format(value: Figure | null): string {
  if (value === null) return '';
  if (value === 'pending') return 'pending';
  if (!Number.isFinite(value)) return 'n/a';
  return Math.abs(value) >= 100 || Number.isInteger(value) ? Math.round(value).toLocaleString('en-US') : value.toPrecision(3);
}

/** A markdown table, readable as is in a terminal. */
export function renderScenario(result: ScenarioResult): string {
  const header = ['system', result.levelName, ...result.columns];
  const body = result.rows.map((row) => [row.system, row.level, ...row.values.map(format)]);
  const widths = header.map((cell, i) => Math.max(cell.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((width, i) => (i < 2 ? `${'-'.repeat(width + 2)}` : `${'-'.repeat(width + 1)}:`)).join('|')}|`;
  const notes = result.notes.map((note) => `- ${note}`);
  return [`### ${result.name}: ${result.title}`, '', line(header), rule, ...body.map(line), ...(notes.length ? ['', ...notes] : [])].join('\n');
}

export function renderReport(run: RunResult, data: string, chart: string): string {
  const { machine } = run;
  const smoke = run.size === 'smoke'
    ? ['> **Smoke size.** These figures come from `npm run bench:smoke`-sized runs (about a second per level). They show that the harness works end to end, not how fast anything is: run `npm run bench -- all` on a quiet machine for figures worth comparing.', '']
    : [];
  return [
    '# Benchmark results',
    '',
    'Generated by `bench/report.ts` from the results JSON named below; do not edit by hand above the line that says where the hand-kept measurements start.',
    '',
    ...smoke,
    `- date: ${run.date}, size: ${run.size}`,
    `- commit: ${run.commit}${run.dirty ? ' (with uncommitted changes in the tree)' : ''}`,
    `- machine: ${machine.cpus} CPUs (${machine.cpuModel}), ${machine.memoryGiB} GiB memory; Node ${machine.node}, PostgreSQL ${machine.postgres}, Redis ${machine.redis}`,
    '- everything (load generator, service, CRUD server, Postgres, NATS, Redis) runs on this one machine and shares its CPUs',
    `- data: \`${data}\``,
    '',
    `![charts](${chart})`,
    '',
    ...run.scenarios.flatMap((result) => [renderScenario(result), '', `What limits these figures: ${limits[result.name]}`, '']),
  ].join('\n');
}

/**
 * Where RESULTS.md's hand-kept part starts: figures of tools that write no results JSON (the overload
 * bench, bench/rss.ts, the cluster runs), so that every benchmark figure lives in this one file.
 */
export const handKeptMarker = '<!-- Hand-kept measurements start here: bench/report.ts carries everything below over. -->';

/** The generated report followed by the hand-kept part of the previous file, if it had one. */
export function withHandKept(generated: string, previous: string | undefined): string {
  const at = previous?.indexOf(handKeptMarker) ?? -1;
  return at < 0 ? generated : `${generated.trimEnd()}\n\n${previous!.slice(at)}`;
}

/** Writes bench/RESULTS.md from the results in `jsonFile`, whose chart sits beside it as .svg. */
export async function writeReport(jsonFile: string): Promise<string> {
  const run = JSON.parse(await readFile(jsonFile, 'utf8')) as RunResult;
  const data = path.relative(benchDir, jsonFile);
  const file = path.join(benchDir, 'RESULTS.md');
  const previous = await readFile(file, 'utf8').catch(() => undefined);
  await writeFile(file, withHandKept(renderReport(run, data, data.replace(/\.json$/, '.svg')), previous));
  return file;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const newest = async () => {
    // A run of `npm run bench` is named by its time; overload and single-scenario files beside it are not runs.
    const files = (await readdir(resultsDir)).filter((name) => /^\d.*\.json$/.test(name)).sort();
    if (!files.length) throw new Error(`no results in ${resultsDir}: run npm run bench -- all`);
    return path.join(resultsDir, files.at(-1)!);
  };
  const file = process.argv[2] ?? (await newest());
  console.log(`wrote ${await writeReport(path.resolve(file))} from ${file}`);
}
