// The native tools that give each scenario its ceiling: pgbench for Postgres and redis-benchmark for
// Redis, both written in C and run as their own processes, so their figures are the servers' own limits.
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { percentiles } from './load.js';

const run = promisify(execFile);
const insertScript = path.join(import.meta.dirname, '..', 'pgbench', 'insert.sql');

export interface ToolResult {
  perSecond: number;
  p50: number;
  p99: number;
}

export const pgbenchScratchTable = 'CREATE TABLE IF NOT EXISTS pgbench_scratch (id bigserial PRIMARY KEY, payload jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now())';

/** pgbench with bench/pgbench/insert.sql; latencies come from its per-transaction log. */
export async function pgbenchInserts(database: string, clients: number, seconds: number): Promise<ToolResult> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pgbench-'));
  try {
    const threads = Math.min(clients, availableParallelism());
    const { stdout } = await run('pgbench', [
      ...['-n', '-h', '127.0.0.1', '-p', '5432', '-U', 'postgres'],
      ...['-c', String(clients), '-j', String(threads), '-T', String(Math.max(1, Math.round(seconds)))],
      ...['-f', insertScript, '--log', `--log-prefix=${path.join(dir, 'tx')}`, database],
    ]);
    const tps = /^tps = ([\d.]+)/m.exec(stdout)?.[1];
    if (!tps) throw new Error(`pgbench printed no tps:\n${stdout}`);
    // Each log line: client_id transaction_no time_us script_no epoch epoch_us.
    const latencies: number[] = [];
    for (const file of await readdir(dir))
      for (const line of (await readFile(path.join(dir, file), 'utf8')).split('\n')) {
        const micros = line.split(' ')[2];
        if (micros) latencies.push(Number(micros) / 1000);
      }
    return { perSecond: Number(tps), ...percentiles(latencies) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** redis-benchmark GET on the local Redis; it only reads, so it cannot touch anyone's keys. */
export async function redisGets(clients: number, seconds: number): Promise<ToolResult> {
  // It counts requests, not time: about `seconds` at the rate a single Redis core manages.
  const requests = Math.round(20_000 * seconds * Math.min(clients, 4));
  const { stdout } = await run('redis-benchmark', ['-h', '127.0.0.1', '-p', '6379', '-t', 'get', '-c', String(clients), '-n', String(requests), '--csv']);
  const line = stdout.split('\n').find((row) => row.startsWith('"GET"'));
  if (!line) throw new Error(`redis-benchmark printed no GET line:\n${stdout}`);
  const [, rps, , , p50, , p99] = line.split(',').map((cell) => Number(cell.replaceAll('"', '')));
  return { perSecond: rps!, p50: p50!, p99: p99! };
}
