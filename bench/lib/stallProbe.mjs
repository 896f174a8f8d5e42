// Preloaded into a service under a probe (bench:overload with OVERLOAD_RAW): prints one JSON line on
// stderr for every garbage collection over 5 ms and every turn of the event loop that came over 10 ms
// late, with the wall-clock time (ms since the epoch) it started, so that a tail in the load generator's
// figures can be matched with what the service was doing then. Read through BENCH_SERVER_LOG.
import { PerformanceObserver, constants } from 'node:perf_hooks';

const kinds = { [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor', [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major', [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental', [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb' };
const origin = performance.timeOrigin;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    if (entry.duration > 5) process.stderr.write(`${JSON.stringify({ probe: 'gc', at: Math.round(origin + entry.startTime), ms: Math.round(entry.duration * 10) / 10, kind: kinds[entry.detail?.kind] ?? String(entry.detail?.kind) })}\n`);
  }
}).observe({ entryTypes: ['gc'] });

let due = performance.now() + 2;
setInterval(() => {
  const now = performance.now();
  if (now - due > 10) process.stderr.write(`${JSON.stringify({ probe: 'stall', at: Math.round(origin + due), ms: Math.round(now - due) })}\n`);
  due = now + 2;
}, 2).unref();
