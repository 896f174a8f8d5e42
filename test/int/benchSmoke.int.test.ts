// `npm run bench:smoke` in CI: every scenario at its smallest size against the real Postgres, NATS and
// Redis. Nothing here is about speed (CI machines are neither quiet nor alike); it keeps the benchmark
// harness working: it must finish, clean up, and write results with a figure in every cell.
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type RunResult, scenarioNames } from '../../bench/lib/results.js';

const timeoutMs = 300_000; // about a minute on a quiet machine; one loaded by other suites has taken three

/** Runs the npm script in a process group of its own, so a run over time is interrupted as a whole. */
function benchSmoke(out: string): Promise<{ code: number | null; output: string }> {
  const child = spawn('npm', ['run', 'bench:smoke', '--', '--out', out], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk));
  // SIGINT, not SIGKILL: the runner then removes its database, stream and keys before it exits.
  const timer = setTimeout(() => process.kill(-child.pid!, 'SIGINT'), timeoutMs - 10_000);
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    }),
  );
}

describe('when the benchmarks run at smoke size', () => {
  let out: string;
  afterAll(() => rm(out, { recursive: true, force: true }));

  it('runs every scenario and writes a figure (or pending) in every cell, and a chart', async () => {
    out = await mkdtemp(path.join(tmpdir(), 'bench-smoke-'));
    const { code, output } = await benchSmoke(out);
    expect(code, output).toBe(0);

    const files = await readdir(out);
    const json = files.find((name) => name.endsWith('.json'));
    expect(json, output).toBeDefined();
    const run = JSON.parse(await readFile(path.join(out, json!), 'utf8')) as RunResult;
    expect(run).toMatchObject({ size: 'smoke', commit: expect.stringMatching(/^[0-9a-f]{40}$/) });
    expect(run.scenarios.map((scenario) => scenario.name)).toEqual([...scenarioNames]);
    for (const scenario of run.scenarios) {
      expect(scenario.rows.length, scenario.name).toBeGreaterThan(0);
      for (const row of scenario.rows) {
        const cell = `${scenario.name} / ${row.system} / ${row.level}`;
        expect(row.values, cell).toHaveLength(scenario.columns.length);
        // null marks a column that does not apply to the row (a ratio has no latency, a baseline no drain time).
        const figures = row.values.filter((value) => value !== null);
        // At smoke size a difference of two noisy readings (50 subscribers' share of the resident memory, a
        // latency of a few ms between two clocks' roundings) can come out at or below zero: every figure must
        // be a number, and every row must have measured something.
        for (const value of figures) expect(value === 'pending' || (typeof value === 'number' && Number.isFinite(value)), `${cell}: ${value}`).toBe(true);
        expect(figures.some((value) => value === 'pending' || (typeof value === 'number' && value > 0)), `${cell}: ${figures.join(', ')}`).toBe(true);
      }
    }
    const svg = await readFile(path.join(out, json!.replace(/\.json$/, '.svg')), 'utf8');
    expect(svg).toMatch(/^<svg [^]*<\/svg>\n$/);
  }, timeoutMs);
});
