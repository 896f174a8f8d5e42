// The service's roles as separate processes (`node dist/main.js`, ROLE=...), compiled as a deployment
// runs them (`faults/run.ts` and the test suites build dist/ first), under a small supervisor: a process
// the runner kills is restarted when the fault says so; one that exits on its own is restarted with a
// backoff, and the exit is recorded with its last log lines, since that is a finding (or a start refused
// while a dependency is down, recorded apart).
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep } from './util.js';

export const repoRoot = fileURLToPath(new URL('../', import.meta.url));

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

export interface ExitRecord {
  process: string;
  at: string;
  code: number | null;
  signal: string | null;
  /** Exited before it logged 'service started'. */
  duringStart: boolean;
  /** The fatal/error lines it logged last, for the report. */
  lastErrors: string[];
}

interface LogStat {
  level: string;
  count: number;
  first: string;
  last: string;
}

const levelNames: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

export class ServiceProcess {
  private child: ChildProcess | null = null;
  private readonly log: WriteStream;
  private exited: Promise<void> = Promise.resolve();
  private plannedStop = false;
  private stopped = false;
  private recentErrors: string[] = [];
  url: string | null = null;
  starts = 0;
  /** Exits the runner did not cause, and starts that failed. */
  readonly unexpectedExits: ExitRecord[] = [];
  readonly startFailures: ExitRecord[] = [];
  /** warn/error/fatal messages by text, with counts: evidence for the report. */
  readonly logStats = new Map<string, LogStat>();

  constructor(
    readonly name: string,
    readonly roles: string,
    private readonly env: Record<string, string>,
    readonly logFile: string,
  ) {
    this.log = createWriteStream(logFile, { flags: 'a' });
  }

  get pid(): number | null {
    return this.running ? (this.child?.pid ?? null) : null;
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts the process and resolves once it logged 'service started'; retries a failed start with a backoff. */
  async start(): Promise<void> {
    this.stopped = false;
    for (let attempt = 0; !this.stopped; attempt++) {
      if (await this.startOnce()) return;
      await sleep(Math.min(500 * 2 ** attempt, 4000));
    }
  }

  private startOnce(): Promise<boolean> {
    this.url = null;
    this.plannedStop = false;
    this.recentErrors = [];
    this.log.write(`\n--- ${new Date().toISOString()} start ${this.name} (ROLE=${this.roles})\n`);
    const child = spawn(process.execPath, ['dist/main.js'], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH ?? '', ...this.env, ROLE: this.roles },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.starts++;
    live.add(child);
    let started: (ok: boolean) => void = () => {};
    const result = new Promise<boolean>((resolve) => (started = resolve));
    let rest = '';
    const onData = (chunk: Buffer) => {
      this.log.write(chunk);
      const lines = (rest + chunk.toString()).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) this.onLine(line, () => started(true));
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        live.delete(child);
        this.log.write(`--- ${new Date().toISOString()} ${this.name} exited (code ${code}, signal ${signal})\n`);
        const record: ExitRecord = { process: this.name, at: new Date().toISOString(), code, signal, duringStart: this.url === null, lastErrors: this.recentErrors.slice(-5) };
        if (this.url === null) {
          this.startFailures.push(record);
          started(false);
        } else if (!this.plannedStop) {
          this.unexpectedExits.push(record);
          // Supervisor: what exits on its own comes back, as an orchestrator would bring it back.
          if (!this.stopped) void sleep(1000).then(() => (this.stopped || this.running ? undefined : this.start()));
        }
        resolve();
      }),
    );
    return result;
  }

  private onLine(line: string, onStarted: () => void): void {
    let entry: { level?: number; msg?: string; url?: string; err?: { message?: string; type?: string; code?: string } };
    try {
      entry = JSON.parse(line);
    } catch {
      if (line.trim()) this.note('stderr', line.slice(0, 200));
      return;
    }
    if (entry.msg === 'service started' && entry.url) {
      this.url = entry.url.replace(/\/graphql$/, '');
      onStarted();
    }
    const level = levelNames[entry.level ?? 30] ?? 'info';
    if (level === 'warn' || level === 'error' || level === 'fatal') {
      // Prisma's messages open with the invocation and a code frame; the cause is their last line.
      const lines = (entry.err?.message ?? '').split('\n').map((part) => part.trim()).filter(Boolean);
      const cause = lines.some((part) => part.startsWith('Invalid `')) ? lines.at(-1) : lines.join(' ');
      const detail = `${entry.err?.code ? `${entry.err.code} ` : ''}${cause ?? ''}`.trim().slice(0, 200);
      const text = `${entry.msg ?? ''}${detail ? `: ${detail}` : entry.err?.type ? `: ${entry.err.type}` : ''}`;
      this.note(level, text);
    }
  }

  private note(level: string, text: string): void {
    const now = new Date().toISOString();
    const key = `${level} ${text}`;
    const stat = this.logStats.get(key);
    if (stat) {
      stat.count++;
      stat.last = now;
    } else this.logStats.set(key, { level, count: 1, first: now, last: now });
    if (level !== 'warn') this.recentErrors = [...this.recentErrors.slice(-9), `${now} ${key}`];
  }

  /** Sends `signal`; the supervisor does not bring it back: the caller restarts it. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!this.running) return;
    this.plannedStop = true;
    this.child!.kill(signal);
    await this.exited;
  }

  /** RSS in bytes from /proc, null when not running. */
  async rss(): Promise<number | null> {
    const pid = this.pid;
    if (pid === null) return null;
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
    const kb = /VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1];
    return kb ? Number(kb) * 1024 : null;
  }

  /** Open file descriptors (sockets, files, pipes) from /proc, null when not running: handles that leak show here. */
  async fds(): Promise<number | null> {
    const pid = this.pid;
    if (pid === null) return null;
    const { readdir } = await import('node:fs/promises');
    return (await readdir(`/proc/${pid}/fd`).catch(() => null))?.length ?? null;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.running) {
      this.plannedStop = true;
      this.child!.kill('SIGTERM');
      const child = this.child!;
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await this.exited;
      clearTimeout(timer);
    }
    await new Promise<void>((resolve) => this.log.end(() => resolve()));
  }

  logSummary(): { level: string; count: number; first: string; last: string; text: string }[] {
    return [...this.logStats].map(([key, stat]) => ({ ...stat, text: key.slice(stat.level.length + 1) })).sort((a, b) => b.count - a.count);
  }
}

export interface Topology {
  api: ServiceProcess;
  relays: ServiceProcess[];
  projectors: ServiceProcess[];
  all: ServiceProcess[];
}

export function createTopology(options: { env: Record<string, string>; logDir: string; relays: number; projectors: number }): Topology {
  const make = (name: string, roles: string) => new ServiceProcess(name, roles, options.env, path.join(options.logDir, `${name}.log`));
  const api = make('api', 'command,query');
  const relays = Array.from({ length: options.relays }, (_, i) => make(`relay-${i + 1}`, 'relay'));
  const projectors = Array.from({ length: options.projectors }, (_, i) => make(`projector-${i + 1}`, 'projector'));
  return { api, relays, projectors, all: [api, ...relays, ...projectors] };
}
