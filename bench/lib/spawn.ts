// Starts a server as its own process, as the e2e harness does (and as a user would): its CPU use and
// memory are its own, not mixed with the load generator's, and /proc/<pid> describes it alone.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface SpawnedServer {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** Runs `entry` under tsx with `env` and waits for its JSON log line `{ msg: readyMessage, url }`. */
export async function spawnServer(entry: string, env: Record<string, string>, readyMessage: string): Promise<SpawnedServer> {
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Kept short, for the error message; the pipes are always read, or a chatty server would block on them.
  const tail: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${entry} did not start within 60 s:\n${tail.join('\n')}`)), 60_000);
    const onLine = (line: string) => {
      tail.push(line);
      if (tail.length > 40) tail.shift();
      let logged: { msg?: string; url?: string };
      try {
        logged = JSON.parse(line) as typeof logged;
      } catch {
        return; // not a log line: a warning or a stack trace, kept in the tail above
      }
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
  return {
    url,
    pid: child.pid!,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(killer);
    },
  };
}
