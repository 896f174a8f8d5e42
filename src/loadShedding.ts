import type { ServerResponse } from 'node:http';
import { metrics } from './metrics.js';

/** The command path's state, as the lag controller below needs it. */
export interface CommandPressure {
  /** The admission's own refusal probability (raised by each refusal it makes). */
  probability(): number;
  /** Whether the command admission refused a command lately: the overload is made of commands. */
  busy(): boolean;
}

// The lag controller: each tick, the refusal probability moves by GAIN times how far the event loop's
// delay is from its target, in units of the target; so 2x the target adds 0.02 per 20 ms tick (one per
// second), none removes 0.02. It only rises once the delay has stood over the target for STANDING_MS (a
// burst the queue can absorb is not refused for it) and while the admission refuses commands; between,
// it holds.
const GAIN = 0.02;
const STANDING_MS = 100;
const MAX_SHED = 0.95;

/**
 * Three reasons to refuse a new GraphQL request over HTTP before parsing it, all cheap to answer:
 * - `pressure`, the command admission's early-refusal probability (src/commands/admission.ts): while it is
 *   refusing commands, the same share of new POSTs is refused here for microseconds instead of after a
 *   parse, a token check and a resolver, which would spend the CPU the admitted commands need.
 * - the lag controller (`commandLagMs`): while commands overflow the admission, a share of POSTs that holds
 *   the event loop's delay near a target.
 * - the event loop's delay over a hard limit, below.
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
  /** The share of POSTs the lag controller refuses (see `commandLagMs`). */
  private lagShed = 0;
  private overSince: number | null = null;

  /**
   * `commandLagMs`: while commands overflow the admission, the event loop's delay is held near this target
   * by refusing a share of new POSTs before parsing. The admission alone settles where its queue is just
   * full, that is where the CPU is saturated and every request waits in the event loop before any code
   * sees it (measured: 100-200 ms, doubling what the admitted commands took); holding the delay near a
   * target keeps the CPU some slack, so what is admitted runs at about its unloaded latency. 0 is off.
   */
  constructor(
    private readonly maxLagMs: number,
    everyMs = 20,
    private readonly pressure?: CommandPressure,
    private readonly commandLagMs = 0,
  ) {
    const controlled = commandLagMs > 0 && pressure !== undefined;
    if (maxLagMs <= 0 && !controlled) return; // off: no timer at all
    let expected = performance.now() + everyMs;
    this.timer = setInterval(() => {
      const now = performance.now();
      const late = Math.max(0, now - expected);
      // Rises at once with a late tick, decays over a few ticks: one busy moment is not an overload.
      this.lagMs = Math.max(late, this.lagMs * 0.7);
      expected = now + everyMs;
      if (controlled) this.observe(late, now);
    }, everyMs);
    this.timer.unref();
  }

  /** One tick of the lag controller: the event loop was `lateMs` late at `now`. */
  observe(lateMs: number, now = performance.now()): void {
    const target = this.commandLagMs;
    if (target <= 0 || !this.pressure) return;
    if (lateMs <= target) {
      this.overSince = null;
      this.lagShed = Math.max(0, this.lagShed - GAIN * (1 - lateMs / target));
    } else {
      this.overSince ??= now;
      if (now - this.overSince >= STANDING_MS && this.pressure.busy()) this.lagShed = Math.min(MAX_SHED, this.lagShed + GAIN * (lateMs / target - 1));
    }
    metrics.shedProbability.set(this.lagShed);
  }

  /** The share of POSTs the lag controller refuses now. */
  get lagShedProbability(): number {
    return this.lagShed;
  }

  get overloaded(): boolean {
    return this.maxLagMs > 0 && this.lagMs > this.maxLagMs;
  }

  /** Whether to refuse this request: overloaded, or drawn at the higher of the two refusal probabilities. */
  shouldShed(): boolean {
    if (this.overloaded) return true;
    const p = Math.max(this.pressure?.probability() ?? 0, this.lagShed);
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
