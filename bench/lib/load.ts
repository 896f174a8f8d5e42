// Load shapes. Closed loop: each client sends its next request when the last one answered, so it finds
// the system's capacity at that concurrency. Open loops (requests on a fixed schedule whatever the system
// does, so latency under a given arrival rate is not hidden by clients that slowed down) come from the
// generator in C: bench/lib/openLoop.ts.

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
