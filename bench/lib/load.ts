// Load shapes. Closed loop: each client sends its next request when the last one answered, so it finds
// the system's capacity at that concurrency. Open loop: requests start on a fixed schedule whatever the
// system does, so latency under a given arrival rate is not hidden by clients that slowed down.
import { setTimeout as sleep } from 'node:timers/promises';

export interface Percentiles {
  p50: number;
  p99: number;
  p999: number;
}

/** Nearest-rank percentiles of `samples` (sorted here). */
export function percentiles(samples: number[]): Percentiles {
  const sorted = Float64Array.from(samples).sort();
  const at = (q: number) => sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN;
  return { p50: at(0.5), p99: at(0.99), p999: at(0.999) };
}

export interface Outcome {
  samples: number;
  errors: number;
  firstError: string | null;
}

export interface ClosedLoopResult extends Outcome, Percentiles {
  perSecond: number;
}

/** Runs `op` from `clients` concurrent loops for `seconds`; latency is per completed request. */
export async function closedLoop(clients: number, seconds: number, op: (client: number) => Promise<unknown>): Promise<ClosedLoopResult> {
  const latencies: number[] = [];
  const errors = errorCounter();
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      while (performance.now() < end) {
        const sent = performance.now();
        try {
          await op(client);
          latencies.push(performance.now() - sent);
        } catch (error) {
          errors.add(error);
        }
      }
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  if (latencies.length === 0) throw new Error(`every request failed: ${errors.first}`);
  return { perSecond: latencies.length / elapsed, ...percentiles(latencies), samples: latencies.length, errors: errors.count, firstError: errors.first };
}

export interface OpenLoopResult extends Outcome {
  offeredPerSecond: number;
  completedPerSecond: number;
}

/** Starts `op(i)` at `rate` per second for `seconds`, on schedule, then waits for all of them. */
export async function openLoop(rate: number, seconds: number, op: (i: number) => Promise<unknown>): Promise<OpenLoopResult> {
  const count = Math.max(1, Math.round(rate * seconds));
  const errors = errorCounter();
  let completed = 0;
  const running: Promise<void>[] = [];
  const start = performance.now();
  for (let i = 0; i < count; ) {
    while (i < count && start + (i * 1000) / rate <= performance.now()) {
      running.push(
        op(i++).then(
          () => void completed++,
          (error: unknown) => errors.add(error),
        ),
      );
    }
    if (i < count) await sleep(Math.max(0, start + (i * 1000) / rate - performance.now()));
  }
  await Promise.all(running);
  const elapsed = (performance.now() - start) / 1000;
  if (completed === 0) throw new Error(`every request failed: ${errors.first}`);
  return { offeredPerSecond: rate, completedPerSecond: completed / elapsed, samples: completed, errors: errors.count, firstError: errors.first };
}

function errorCounter() {
  const counter = {
    count: 0,
    first: null as string | null,
    add(error: unknown) {
      counter.count++;
      counter.first ??= error instanceof Error ? error.message : String(error);
    },
  };
  return counter;
}
