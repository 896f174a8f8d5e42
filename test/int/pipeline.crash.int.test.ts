import { type ChildProcess, spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectConverged } from './convergence.js';
import { openPipeline, type Pipeline, writeOrders } from './fixtures/pipeline.js';

let p: Pipeline;
const children = new Set<ChildProcess>();
beforeAll(async () => {
  p = await openPipeline();
  await p.startRelay();
});
afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await p?.close();
});

/** Starts the projector in a process of its own and waits until it consumes. */
async function spawnProjector(): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/int/fixtures/projector.ts'], { env: { ...process.env, ...p.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`projector did not start:\n${output}`)), 30_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk;
      if (output.includes('ready')) (clearTimeout(timer), resolve());
    });
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk));
    child.once('exit', (code) => (clearTimeout(timer), reject(new Error(`projector exited with ${code}:\n${output}`))));
  });
  return child;
}

describe('when the projector process is killed with SIGKILL mid-batch and started again', () => {
  it('converges', async () => {
    const first = await spawnProjector();
    const writing = writeOrders(p.store, { orders: 80, seed: 41, concurrency: 8 });
    await sleep(1000);
    expect(first.exitCode).toBeNull(); // still working when killed
    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));
    await writing;
    await spawnProjector();
    await expectConverged(p, 30_000);
  });
});
