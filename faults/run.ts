// npm run test:faults                      the CI profile: each fault once, about 2.5 minutes
// npm run test:faults:long [-- --minutes N] at least 10 minutes (12 by default), a fault every few seconds
// npm run test:faults -- --topology cluster the cluster profile: a JetStream cluster of 3 (R3) and a Redis
//                                          Cluster of 6, each node fault once, about 3 minutes
// Options: --profile ci|long, --topology single|cluster, --minutes N (long), --seed N, --out DIR.
// To reproduce one finding: --faults kind,kind (the CI profile with these faults in this order),
// --env KEY=VALUE (repeatable; service settings), --warmup-s N (load before the first fault).
// Exits 0 when nothing was lost or doubled and the read side converged after every fault, 1 otherwise.
import { parseArgs } from 'node:util';
import { type FaultKind, faultKinds } from './faults.js';
import { ci, cluster, custom, long } from './profiles.js';
import { runFaults } from './runner.js';
import { buildService } from '../test/buildOnce.js';

const { values } = parseArgs({
  options: {
    profile: { type: 'string', default: 'ci' },
    topology: { type: 'string', default: 'single' },
    minutes: { type: 'string' },
    seed: { type: 'string' },
    out: { type: 'string' },
    faults: { type: 'string' },
    env: { type: 'string', multiple: true },
    'warmup-s': { type: 'string' },
  },
});

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}

const minutes = values.minutes === undefined ? undefined : Number(values.minutes);
if (minutes !== undefined && !(minutes > 0)) fail('--minutes must be a positive number');
if (values.profile !== 'ci' && values.profile !== 'long') fail('--profile must be ci or long');
if (values.topology !== 'single' && values.topology !== 'cluster') fail('--topology must be single or cluster');
const topology = values.topology;
if (topology === 'cluster' && values.profile === 'long') fail('--topology cluster has one profile (each node fault once); use --faults to choose others');
const kinds = values.faults?.split(',').map((kind) => kind.trim()) ?? [];
for (const kind of kinds) if (!(faultKinds as readonly string[]).includes(kind)) fail(`unknown fault ${kind}; one of ${faultKinds.join(', ')}`);
const env = Object.fromEntries(
  (values.env ?? []).map((pair) => {
    const at = pair.indexOf('=');
    return at > 0 ? [pair.slice(0, at), pair.slice(at + 1)] : fail(`--env wants KEY=VALUE, not ${pair}`);
  }),
);
const warmupMs = values['warmup-s'] === undefined ? undefined : Number(values['warmup-s']) * 1000;
if (warmupMs !== undefined && !(warmupMs >= 0)) fail('--warmup-s must be a number of seconds');
const profile =
  kinds.length || values.env || warmupMs !== undefined
    ? custom(kinds.length ? (kinds as FaultKind[]) : [...(topology === 'cluster' ? cluster : ci).schedule(Math.random)].map((planned) => planned.kind), { env, warmupMs, topology })
    : topology === 'cluster'
      ? cluster
      : values.profile === 'long'
        ? long(minutes)
        : ci;

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => {
    interrupted = true;
    // The servers and service processes are children of this one and are killed on exit.
    console.error(`${signal}: stopping`);
    process.exit(130);
  });

// The roles run compiled, as deployed: build dist/ first (incremental, seconds when nothing changed).
buildService();
const { report } = await runFaults({ profile, seed: values.seed === undefined ? undefined : Number(values.seed), outDir: values.out });
process.exit(report.verdict.ok && !interrupted ? 0 : 1);
