// The open-loop load generator in C (bench/openloop/openloop.c): built here with the machine's C compiler
// when its source is newer than the binary (kept under node_modules/.cache, never committed), run as a
// process of its own, and its answers read back. See the C file for why not Node.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { WrkRequest } from './wrk.js';

const run = promisify(execFile);

const source = path.resolve('bench/openloop/openloop.c');
const binary = path.resolve('node_modules/.cache/openloop/openloop');

export interface OpenLoopAnswer {
  /** When it was due, in ms from the start of the schedule. */
  dueMs: number;
  /** How late the generator itself tried to send it, ms (its own lateness; the pool's wait is not in it). */
  lateMs: number;
  /** From when it was due to the response's last byte, ms. */
  latencyMs: number;
  /** 0 when the connection failed (then `code` names how). */
  status: number;
  retryAfter: boolean;
  /** The first error's extensions.code, or the connection error; undefined when the answer had none. */
  code?: string;
  server?: string;
  /** With `field`, that key's value in the answer. */
  field?: string;
}

export interface OpenLoopRun {
  answers: OpenLoopAnswer[];
  /** Cores the generator used while the schedule ran (its CPU seconds over the run's wall time). */
  generatorCores: number;
  /** The generator's own lateness in sending, ms: p50, p99, max. */
  generatorLateMs: { p50: number; p99: number; max: number };
  /** When the schedule started (ms since the epoch), to match answers with what the service logged. */
  startedAtMs: number;
  /** How it ran: real-time priority where allowed ("SCHED_FIFO 10"), else "nice -20" or "normal". */
  priority: string;
  /** Connections it opened for the schedule (all of them first, unless cold). */
  opened: number;
  /** Connections the server closed during the run, opened again. */
  reconnects: number;
  unanswered: number;
}

let built: Promise<string> | null = null;

/** Compiles the generator once per process, when the binary is missing or older than its source. */
export function openLoopBinary(): Promise<string> {
  return (built ??= (async () => {
    const [src, bin] = await Promise.all([stat(source), stat(binary).catch(() => null)]);
    if (bin && bin.mtimeMs >= src.mtimeMs) return binary;
    await mkdir(path.dirname(binary), { recursive: true });
    // Built beside it and renamed into place: a run starting meanwhile never executes a half-written file.
    const building = `${binary}.${process.pid}`;
    await run(process.env.CC ?? 'cc', ['-O2', '-Wall', '-o', building, source]);
    await rename(building, binary);
    return binary;
  })());
}

export interface OpenLoopOptions {
  /** Keep-alive connections in the pool. */
  connections: number;
  /** Request i sends requests[i % requests.length]. */
  requests: WrkRequest[];
  /** Open connections as requests find none free, instead of all of them (used once) before the schedule. */
  cold?: boolean;
  /** Also read the first string value of this JSON key from each answer (an id it carries) into `field`. */
  field?: string;
}

/** Request i is due at i / rate s, over a pool of keep-alive connections; see OpenLoopOptions. */
export async function openLoop(url: string, rate: number, seconds: number, { connections, requests, cold = false, field }: OpenLoopOptions): Promise<OpenLoopRun> {
  const bin = await openLoopBinary();
  const { hostname, port } = new URL(url);
  const dir = await mkdtemp(path.join(tmpdir(), 'openloop-'));
  try {
    const requestFile = path.join(dir, 'requests');
    const outFile = path.join(dir, 'answers');
    await writeFile(requestFile, `${requests.map(({ token, body }) => `${token ?? ''}\t${body}`).join('\n')}\n`);
    const host = hostname === 'localhost' ? '127.0.0.1' : hostname;
    const { stdout } = await run(bin, ['--host', host, '--port', port, '--rate', String(rate), '--seconds', String(seconds), '--connections', String(connections), '--requests', requestFile, '--out', outFile, '--cold', cold ? '1' : '0', ...(field ? ['--field', field] : [])]);
    const summary = JSON.parse(stdout.trim().split('\n').at(-1)!) as { startedAtMs: number; priority: string; opened: number; wallSeconds: number; cpuSeconds: number; lateP50Us: number; lateP99Us: number; lateMaxUs: number; reconnects: number; unanswered: number };
    const answers = (await readFile(outFile, 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((line): OpenLoopAnswer => {
        const [due, late, latency, status, retryAfter, code, server, value] = line.split('\t');
        return {
          dueMs: Number(due) / 1000,
          lateMs: Number(late) / 1000,
          latencyMs: Number(latency) / 1000,
          status: Number(status),
          retryAfter: retryAfter === '1',
          ...(code !== '-' && { code }),
          ...(server !== '-' && { server }),
          ...(value !== '-' && { field: value }),
        };
      });
    return {
      answers,
      generatorCores: Math.round((summary.cpuSeconds / summary.wallSeconds) * 1000) / 1000,
      generatorLateMs: { p50: summary.lateP50Us / 1000, p99: summary.lateP99Us / 1000, max: summary.lateMaxUs / 1000 },
      startedAtMs: summary.startedAtMs,
      priority: summary.priority,
      opened: summary.opened,
      reconnects: summary.reconnects,
      unanswered: summary.unanswered,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Why an answer is not a clean HTTP 200 without errors: its error code, or its status; null when it is. */
export function failureOf(answer: OpenLoopAnswer): string | null {
  return answer.code ?? (answer.status === 200 ? null : `HTTP ${answer.status}`);
}
