import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export { sleep };

/** A port nobody listens on right now, on 127.0.0.1. Never 5432, 4222 or 6379: those are the shared servers. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
      });
    });
    if (![5432, 4222, 6379].includes(port)) return port;
  }
}

/** Polls `probe` until it returns a value other than undefined, or throws after `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, { timeoutMs = 30_000, everyMs = 200 } = {}): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (last error: ${describe(last)})` : ''}`);
    await sleep(everyMs);
  }
}

export function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
    const code = (error as { code?: unknown }).code;
    return `${code ? `${String(code)} ` : ''}${error.message}${cause}`;
  }
  return String(error);
}

export function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export const seconds = (ms: number) => Math.round(ms / 100) / 10;

export function counting<K extends string>(): { add(key: K, by?: number): void; toJSON(): Record<string, number> } {
  const counts = new Map<K, number>();
  return {
    add: (key, by = 1) => void counts.set(key, (counts.get(key) ?? 0) + by),
    toJSON: () => Object.fromEntries([...counts].sort(([, a], [, b]) => b - a)),
  };
}
