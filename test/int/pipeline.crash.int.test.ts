import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { orderStats } from '../../src/readModels/orderStats/projection.js';
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

/** Events the orderStats projection has folded: how far the projector got. */
const projected = async () => (await p.readStore.counters(orderStats.collection)).events;

describe('when the projector process is killed with SIGKILL mid-batch and started again', () => {
  it('stops with part of the batch projected, and its successor converges', async () => {
    const first = await spawnProjector();
    // Long enough (about a thousand appends, two at a time) that the first projection arrives while it runs:
    // 80 orders eight at a time were all written before that on a quiet machine.
    const writing = writeOrders(p.store, { orders: 240, seed: 41, concurrency: 2 });
    let written = false;
    void writing.then(() => (written = true));
    // Killed as soon as it has projected something: part of the batch done, the rest not yet.
    await vi.waitFor(async () => expect(await projected()).toBeGreaterThan(0), { timeout: 30_000, interval: 10 });
    expect(first.exitCode).toBeNull();
    const writtenAtKill = written;
    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));
    // Nothing else writes the read models, so this is where the killed projector stopped.
    const atKill = await projected();
    await writing;
    await spawnProjector();
    await expectConverged(p, 30_000);
    expect(writtenAtKill, 'the batch was still being written when the projector died').toBe(false);
    expect(atKill).toBeGreaterThan(0);
    expect(atKill, 'events the successor projected').toBeLessThan(await projected());
  });
});
