// globalSetup of the int and e2e projects: they start the service as it is deployed, compiled
// (`node dist/main.js`, what `npm start` runs), so dist/ is built first, once per run, whichever projects
// run. Incremental: a few seconds when nothing changed, about 12 s from nothing. Under the TypeScript loader
// every start took a second longer (3 s against 2 s here): the e2e project took 50 s longer on this 2-core
// machine and the CI fault profile 12 s longer (2026-12-02).
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** `npm run build`: what the benchmarks, the fault harness and the test suites run before they start the service. */
export function buildService(): void {
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: fileURLToPath(new URL('..', import.meta.url)), stdio: 'inherit' });
}

// Vitest calls this once for each project that lists it, in one process.
const run = globalThis as { cqrsBuilt?: true };

export default function buildOnce(): void {
  if (run.cqrsBuilt) return;
  buildService();
  run.cqrsBuilt = true;
}
