// npm run test:faults                      the CI profile: each fault once, about 2.5 minutes
// npm run test:faults:long [-- --minutes N] at least 10 minutes (12 by default), a fault every few seconds
// Options: --profile ci|long, --minutes N (long), --seed N (repeat a run's choices), --out DIR.
// Exits 0 when nothing was lost or doubled and the read side converged after every fault, 1 otherwise.
import { parseArgs } from 'node:util';
import { ci, long } from './profiles.js';
import { runFaults } from './runner.js';

const { values } = parseArgs({
  options: {
    profile: { type: 'string', default: 'ci' },
    minutes: { type: 'string' },
    seed: { type: 'string' },
    out: { type: 'string' },
  },
});

const minutes = values.minutes === undefined ? undefined : Number(values.minutes);
if (minutes !== undefined && !(minutes > 0)) {
  console.error('--minutes must be a positive number');
  process.exit(2);
}
if (values.profile !== 'ci' && values.profile !== 'long') {
  console.error('--profile must be ci or long');
  process.exit(2);
}
const profile = values.profile === 'long' ? long(minutes) : ci;

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => {
    interrupted = true;
    // The servers and service processes are children of this one and are killed on exit.
    console.error(`${signal}: stopping`);
    process.exit(130);
  });

const { report } = await runFaults({ profile, seed: values.seed === undefined ? undefined : Number(values.seed), outDir: values.out });
process.exit(report.verdict.ok && !interrupted ? 0 : 1);
