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
  /** Per completed request: answer time minus the time it was due to be sent (not when it was sent). */
  latencies: number[];
  /** Share of one core this process (the load generator) used while the load ran. */
  generatorCpu: number;
}

/**
 * Starts `op(i)` at `rate` per second for `seconds`, on schedule, then waits for all of them. Latency runs
 * from each request's intended send time, so a generator that fell behind (a stalled event loop, a busy
 * core) shows up in the figures instead of hiding them: no coordinated omission.
 */
export async function openLoop(rate: number, seconds: number, op: (i: number) => Promise<unknown>): Promise<OpenLoopResult> {
  const count = Math.max(1, Math.round(rate * seconds));
  const errors = errorCounter();
  const latencies: number[] = [];
  const running: Promise<void>[] = [];
  const cpu = process.cpuUsage();
  const start = performance.now();
  const due = (i: number) => start + (i * 1000) / rate;
  for (let i = 0; i < count; ) {
    while (i < count && due(i) <= performance.now()) {
      const intended = due(i);
      running.push(
        op(i++).then(
          () => void latencies.push(performance.now() - intended),
          (error: unknown) => errors.add(error),
        ),
      );
    }
    if (i < count) await sleep(Math.max(0, due(i) - performance.now()));
  }
  await Promise.all(running);
  const elapsedMs = performance.now() - start;
  const used = process.cpuUsage(cpu);
  if (latencies.length === 0) throw new Error(`every request failed: ${errors.first}`);
  return {
    offeredPerSecond: rate,
    completedPerSecond: latencies.length / (elapsedMs / 1000),
    latencies,
    generatorCpu: (used.user + used.system) / 1000 / elapsedMs,
    samples: latencies.length,
    errors: errors.count,
    firstError: errors.first,
  };
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

export interface Spread {
  median: number;
  min: number;
  max: number;
}

/** Median and range of one figure over repeated runs. */
export function spread(values: number[]): Spread {
  const sorted = Float64Array.from(values).sort();
  const middle = sorted.length / 2;
  const median = sorted.length % 2 ? sorted[Math.floor(middle)]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  return { median, min: sorted[0] ?? Number.NaN, max: sorted.at(-1) ?? Number.NaN };
}
