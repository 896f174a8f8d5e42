// Starts a server as its own process, as the e2e harness does (and as a user would): its CPU use and
// memory are its own, not mixed with the load generator's, and /proc/<pid> describes it alone.
import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';

export interface SpawnedServer {
  url: string;
  pid: number;
  /** Resolves, with the line, on the server's next JSON log line with this `msg`. */
  nextLog(message: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

/** A port nobody listens on now, for a server that logs nothing at start (LOG_LEVEL=warn). */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** Polls `url`/readyz until it answers 200: the server is up and every dependency it needs answers. */
async function untilReady(url: string, exited: Promise<unknown>, tail: string[], entry: string): Promise<void> {
  let gone = false;
  void exited.then(() => (gone = true));
  for (const deadline = Date.now() + 60_000; Date.now() < deadline && !gone; await sleep(100)) {
    const status = await fetch(`${url}/readyz`).then((res) => (void res.body?.cancel(), res.status), () => 0);
    if (status === 200) return;
  }
  throw new Error(`${entry} was not ready within 60 s:\n${tail.join('\n')}`);
}

/**
 * Runs `entry` (under tsx when it is TypeScript) with `env` and waits until it is ready: for its JSON log
 * line `{ msg: readyMessage, url }`, or, with `'readyz'`, on a free port until its /readyz answers 200
 * (the service under load logs at warn and says nothing when it starts).
 */
export async function spawnServer(entry: string, env: Record<string, string>, readyMessage: string, nodeArgs: string[] = []): Promise<SpawnedServer> {
  const port = readyMessage === 'readyz' ? String(await freePort()) : '0';
  // BENCH_NODE_ARGS="--trace-gc ..." adds flags to every server a benchmark starts, for a probe (with BENCH_SERVER_LOG).
  const probeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...(entry.endsWith('.ts') ? ['--import', 'tsx'] : []), ...probeArgs, ...nodeArgs, entry], {
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: port, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Kept short, for the error message; the pipes are always read, or a chatty server would block on them.
  const tail: string[] = [];
  const awaited = new Map<string, (line: Record<string, unknown>) => void>();
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const logged = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${entry} did not start within 60 s:\n${tail.join('\n')}`)), 60_000);
    const onLine = (line: string) => {
      tail.push(line);
      // BENCH_SERVER_LOG=<file> keeps every line the servers print (their logs, --trace-gc), for a probe.
      if (process.env.BENCH_SERVER_LOG) appendFileSync(process.env.BENCH_SERVER_LOG, `${line}\n`);
      if (tail.length > 40) tail.shift();
      let logged: { msg?: string; url?: string } & Record<string, unknown>;
      try {
        logged = JSON.parse(line) as typeof logged;
      } catch {
        return; // not a log line: a warning or a stack trace, kept in the tail above
      }
      if (logged.msg) awaited.get(logged.msg)?.(logged);
      if (logged.msg === readyMessage && logged.url) {
        clearTimeout(timer);
        resolve(logged.url.replace(/\/graphql$/, ''));
      }
    };
    createInterface({ input: child.stdout }).on('line', onLine);
    createInterface({ input: child.stderr }).on('line', onLine);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${entry} exited with ${code}:\n${tail.join('\n')}`));
    });
  });
  let url: string;
  if (readyMessage === 'readyz') {
    logged.catch(() => {}); // its 60 s timer is not the signal here; an exit still fails the wait below
    url = `http://127.0.0.1:${port}`;
    await Promise.race([untilReady(url, exited, tail, entry), logged.then(() => {})]);
  } else url = await logged;
  return {
    url,
    pid: child.pid!,
    nextLog(message, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${entry} logged no "${message}" within ${timeoutMs / 1000} s`)), timeoutMs);
        awaited.set(message, (line) => (awaited.delete(message), clearTimeout(timer), resolve(line)));
      });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(killer);
    },
  };
}

/** Node flags that let `collectedMemory` ask the server for a full collection first. */
export const gcOnSignal = ['--expose-gc', '--import', './bench/lib/gcOnSignal.mjs'];

/** A server's memory in bytes right after a full collection. */
export interface CollectedMemory {
  /** Resident set (VmRSS) once it stopped moving: what the process holds of the machine's memory. */
  rss: number;
  /**
   * What is live: the V8 heap in use plus memory outside it that JavaScript objects own (Buffers,
   * ArrayBuffers), from `process.memoryUsage()`. Unlike RSS, it does not depend on how many pages the
   * heap and malloc kept from earlier garbage, so two readings compare the objects alone.
   */
  live: number;
}

/**
 * The memory of a server started with `gcOnSignal`, after a full collection it confirmed. Freed pages
 * go back to the system in the background, so RSS is read until it stops moving.
 */
export async function collectedMemory(server: SpawnedServer): Promise<CollectedMemory> {
  const collected = server.nextLog('collected');
  process.kill(server.pid, 'SIGUSR2');
  const { heapUsed, external } = await collected;
  const live = Number(heapUsed) + Number(external);
  let previous = await residentBytes(server.pid);
  for (let attempt = 0; attempt < 50; attempt++) {
    await sleep(100);
    const now = await residentBytes(server.pid);
    if (Math.abs(now - previous) < 64 * 1024) return { rss: now, live };
    previous = now;
  }
  return { rss: previous, live };
}

/** Resident memory of a process in bytes, from /proc (Linux only, like this benchmark). */
async function residentBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
  if (!kib) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(kib) * 1024;
}
