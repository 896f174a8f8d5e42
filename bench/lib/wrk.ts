// wrk (Debian's package, written in C) as the closed-loop load generator: it keeps N connections busy
// with one request each, so its req/s is the server's capacity at that concurrency, and it costs a few
// microseconds of CPU per request, so the generator is not what saturates the machine. The CPU it used
// is read from /proc and reported beside its figures.
import { execFileSync, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

const script = path.join(import.meta.dirname, '..', 'wrk', 'graphql.lua');
const ticksPerSecond = 100; // USER_HZ on Linux

export interface WrkResult {
  perSecond: number;
  p50: number;
  p99: number;
  samples: number;
  errors: number;
  firstError: string | null;
  /** Share of one core the generator used while it ran (0.1 = 10 %). */
  generatorCpu: number;
}

/** Fails at once, with the command that installs it, when wrk is missing. */
export function requireWrk(): void {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
  } catch (error) {
    // wrk --version exits 1 after printing its version; only a missing binary is an error here.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('wrk is not installed: apt-get install -y wrk');
  }
}

/** CPU seconds (user + system) a process has used so far, or null once it is gone. */
export async function cpuSeconds(pid: number): Promise<number | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond; // utime, stime (fields 14, 15)
  } catch {
    return null;
  }
}

/** One request wrk sends: the caller's token (or none) and the JSON body. */
export interface WrkRequest {
  token: string | null;
  body: string;
}

/**
 * `wrk` run while the CPU of `pids` (the servers under test) is read before and after: their CPU
 * milliseconds per answered request, a figure that holds on a busy machine where wall-clock ones do not.
 */
export async function wrkWithCpu(url: string, connections: number, seconds: number, requests: WrkRequest[], pids: number[]): Promise<WrkResult & { serverCpuMs: number }> {
  const before = await Promise.all(pids.map(cpuSeconds));
  const result = await wrk(url, connections, seconds, requests);
  const after = await Promise.all(pids.map(cpuSeconds));
  const used = pids.reduce((sum, _, i) => sum + ((after[i] ?? 0) - (before[i] ?? 0)), 0);
  return { ...result, serverCpuMs: (used * 1000) / result.samples };
}

/** A short run whose figures nobody reads: JIT, pools and connections warm up; a failure here is not one. */
export async function warmUp(url: string, seconds: number, requests: WrkRequest[]): Promise<void> {
  await wrk(url, 8, seconds, requests).catch(() => {});
}

/** `connections` connections for `seconds`, each sending the next of `requests` as soon as an answer comes. */
export async function wrk(url: string, connections: number, seconds: number, requests: WrkRequest[]): Promise<WrkResult> {
  const child = spawn('wrk', ['-t1', `-c${connections}`, `-d${Math.max(1, Math.round(seconds))}s`, '--timeout', '10s', '--latency', '-s', script, `${url}/graphql`], {
    env: { PATH: process.env.PATH ?? '', WRK_REQUESTS: requests.map(({ token, body }) => `${token ?? ''}\t${body}`).join('\n') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let cpu = 0;
  const started = performance.now();
  const sampler = setInterval(() => void cpuSeconds(child.pid!).then((seconds) => seconds !== null && (cpu = seconds)), 200);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearInterval(sampler);
  const elapsed = (performance.now() - started) / 1000;
  const line = stdout.split('\n').find((text) => text.startsWith('{"requests"'));
  if (code !== 0 || !line) throw new Error(`wrk exited with ${code}:\n${stdout}\n${stderr}`);
  const out = JSON.parse(line) as { requests: number; durationUs: number; errors: number; socketErrors: number; p50Us: number; p99Us: number; firstError: string };
  const errors = out.errors + out.socketErrors;
  const good = out.requests - out.errors;
  if (good <= 0) throw new Error(`no request answered well in ${seconds} s (${out.requests} answered, ${out.errors} with errors, ${out.socketErrors} socket errors): ${out.firstError || stderr || 'no error recorded'}`);
  return {
    perSecond: good / (out.durationUs / 1e6),
    p50: out.p50Us / 1000,
    p99: out.p99Us / 1000,
    samples: good,
    errors,
    firstError: errors ? out.firstError || `${out.socketErrors} socket errors` : null,
    generatorCpu: cpu / elapsed,
  };
}
