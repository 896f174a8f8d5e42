import type { ServerResponse } from 'node:http';
import { metrics } from './metrics.js';

/**
 * Two reasons to refuse a new GraphQL request over HTTP before parsing it, both cheap to answer:
 * - `pressure`, the command admission's early-refusal probability (src/commands/admission.ts): while it is
 *   refusing commands, the same share of new POSTs is refused here for microseconds instead of after a
 *   parse, a token check and a resolver, which would spend the CPU the admitted commands need.
 * - the event loop's delay, below.
 *
 * Past its CPU capacity a Node process answers everything late: requests wait in the event loop before
 * any of our code (or the command admission) sees them, and the queue grows without bound. The delay of
 * the event loop measures exactly that wait. While it is over `maxLagMs`, new GraphQL requests over HTTP
 * are refused at once, before parsing, with 503 SERVICE_UNAVAILABLE and Retry-After: cheap to answer, so
 * the process keeps its capacity for the requests it admitted. A timer every `everyMs`, off the request path.
 */
export class LoadShedder {
  private lagMs = 0;
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly maxLagMs: number,
    everyMs = 20,
    private readonly pressure: () => number = () => 0,
  ) {
    if (maxLagMs <= 0) return; // off: no timer at all
    let expected = performance.now() + everyMs;
    this.timer = setInterval(() => {
      const now = performance.now();
      // Rises at once with a late tick, decays over a few ticks: one busy moment is not an overload.
      this.lagMs = Math.max(now - expected, this.lagMs * 0.7);
      expected = now + everyMs;
    }, everyMs);
    this.timer.unref();
  }

  get overloaded(): boolean {
    return this.maxLagMs > 0 && this.lagMs > this.maxLagMs;
  }

  /** Whether to refuse this request: overloaded, or drawn at the admission's current refusal probability. */
  shouldShed(): boolean {
    if (this.overloaded) return true;
    const p = this.pressure();
    return p > 0 && Math.random() < p;
  }

  /** Answers a refused request: the same error shape and code as every other refusal. */
  refuse(res: ServerResponse): void {
    metrics.requestsShed.inc();
    res.writeHead(503, { 'content-type': 'application/json; charset=utf-8', 'retry-after': '1' });
    res.end(JSON.stringify({ errors: [{ message: 'the service is at capacity; try again shortly', extensions: { code: 'SERVICE_UNAVAILABLE', server: 'http', retryAfterSeconds: 1 } }] }));
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
