import type { ServerResponse } from 'node:http';
import { metrics } from './metrics.js';

/** What the command admission (src/commands/admission.ts) tells the HTTP server while it is overloaded. */
export interface Pressure {
  /** The share of new POSTs to refuse before parsing them (0 unless the admission is refusing). */
  probability(): number;
  /** Whether `outstanding` requests already in the process are more than the admission can take now. */
  saturated(outstanding: number): boolean;
}

/**
 * Three reasons to refuse a new GraphQL request over HTTP before parsing it, all cheap to answer:
 * - the command admission's early-refusal probability: while it is refusing commands, the same share of
 *   new POSTs is refused here for microseconds instead of after a parse, a token check and a resolver,
 *   which would spend the CPU the admitted commands need.
 * - the admission saturated: while its queue stands, a POST beyond what it can hold (in flight plus
 *   queued) is refused at once. This acts from the first moments of an overload, before the probability
 *   has climbed; without it the requests already accepted pile up in the parser and the event loop.
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
  /** GraphQL POSTs let through and not yet answered. */
  private outstanding = 0;
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly maxLagMs: number,
    everyMs = 20,
    private readonly pressure: Pressure = { probability: () => 0, saturated: () => false },
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

  /** Whether to refuse this request: overloaded, the admission saturated, or drawn at its refusal probability. */
  private shouldShed(): boolean {
    const p = this.pressure.probability(); // asked for every request: the admission counts arrivals by it
    if (this.overloaded || this.pressure.saturated(this.outstanding)) return true;
    return p > 0 && Math.random() < p;
  }

  /** Refuses the request (true) or counts it as outstanding until its response closes. */
  guard(res: ServerResponse): boolean {
    if (this.shouldShed()) {
      this.refuse(res);
      return true;
    }
    this.outstanding++;
    res.once('close', () => this.outstanding--);
    return false;
  }

  /** Answers a refused request: the same error shape and code as every other refusal. */
  private refuse(res: ServerResponse): void {
    metrics.requestsShed.inc();
    res.writeHead(503, { 'content-type': 'application/json; charset=utf-8', 'retry-after': '1' });
    res.end(JSON.stringify({ errors: [{ message: 'the service is at capacity; try again shortly', extensions: { code: 'SERVICE_UNAVAILABLE', server: 'http', retryAfterSeconds: 1 } }] }));
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
