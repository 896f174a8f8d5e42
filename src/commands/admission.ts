import { ServiceUnavailableError } from '../domain/errors.js';
import { metrics } from '../metrics.js';
import type { Pressure } from '../loadShedding.js';
import { RateGovernor } from './rateGovernor.js';

export interface AdmissionLimits {
  /** Commands running at once in this process; beyond, they queue. */
  maxInFlight: number;
  /** Commands waiting for a slot; beyond, refused at once. */
  maxQueued: number;
  /** How long a queued command may wait for a slot before it is refused (a burst's allowance). */
  queueTimeoutMs: number;
  /**
   * The wait allowed once the queue has stood (never emptied) for `standingMs`: past its capacity the
   * service serves the newest waiter first and refuses any that waited longer than this. 0 turns it off.
   */
  queueTargetMs?: number;
  /** How long the queue must stay non-empty before it counts as standing (CoDel's interval). */
  standingMs?: number;
  /**
   * How many times its baseline (the lowest window p90 of the last minute) a window's p90 command latency
   * may reach before the admitted rate is held down (src/commands/rateGovernor.ts); 0 turns it off.
   */
  latencyTolerance?: number;
}

interface Waiter {
  admit: () => void;
  refuse: (error: ServiceUnavailableError) => void;
  since: number;
}

// How the early-refusal probability (see `probability`) follows refusals: each one adds STEP, and it
// decays by half every HALF_LIFE_MS; so it settles where STEP * refusals per half-life ~ the probability.
const STEP = 0.01;
const HALF_LIFE_MS = 700;
const MAX_SHED = 0.95;

/**
 * Bounded admission for the command path. Past its capacity a service that queues without bound makes
 * every command slow and its memory grow; this one keeps the latency of what it admits and refuses the
 * rest at once with SERVICE_UNAVAILABLE and a Retry-After, which clients (and load balancers) act on.
 *
 * A short burst waits in a FIFO queue (up to `queueTimeoutMs`). A queue that stands, never empty for
 * `standingMs`, is an overload rather than a burst, and waiting only adds latency to every command: then,
 * as in CoDel with adaptive LIFO (Facebook's "Fail at Scale"), the newest waiter goes first and any that
 * waited over `queueTargetMs` is refused. Refusing here still costs a parsed request, so the admission
 * also gives the HTTP server a probability of refusing POSTs before they are parsed (`probability`),
 * raised by each refusal here and decaying within a second once they stop: under a sustained overload the
 * bulk of the excess is refused for microseconds of CPU, the rest keeps this queue's signal alive.
 */
export class Admission implements Pressure {
  private inFlight = 0;
  private readonly waiting: Waiter[] = [];
  /** When the queue was last seen empty; a queue non-empty since longer than `standingMs` is standing. */
  private emptyAt = performance.now();
  private shed = 0;
  private shedAt = performance.now();

  constructor(
    private readonly limits: AdmissionLimits,
    // The governor starts only once every slot was busy at once: an overload of this process.
    private readonly governor = new RateGovernor({ tolerance: limits.latencyTolerance ?? 0, minConcurrency: limits.maxInFlight }),
  ) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (!this.governor.admit(this.inFlight + this.waiting.length + 1)) throw this.refuse('rate');
    const start = performance.now();
    // A finishing command hands its slot straight to a waiter, so none can jump the queue.
    if (this.inFlight >= this.limits.maxInFlight) await this.queue();
    else this.inFlight++;
    try {
      return await task();
    } finally {
      this.governor.record(performance.now() - start);
      const next = this.next();
      if (next) next.admit();
      else this.inFlight--;
    }
  }

  /** The chance with which the HTTP server should refuse a new POST before parsing it; 0 unless refusing. */
  probability(now = performance.now()): number {
    this.governor.noteArrival(); // the HTTP server asks once per request, before refusing or parsing it
    return Math.max(this.decayedShed(now), this.governor.shedShare);
  }

  private decayedShed(now: number): number {
    if (this.shed === 0) return 0;
    this.shed *= 0.5 ** ((now - this.shedAt) / HALF_LIFE_MS);
    this.shedAt = now;
    if (this.shed < 0.005) this.shed = 0;
    return this.shed;
  }

  /**
   * Requests beyond what this admission can hold, in flight and queued, would only be parsed to be
   * refused: the HTTP server refuses them before parsing while the queue is full (a command arriving now
   * would be refused 'full' after its parse) or stands (an overload, not a burst). Without the first,
   * every request of an overload's first 100 ms was parsed, even those the full queue then refused.
   */
  saturated(outstanding: number, now = performance.now()): boolean {
    return outstanding >= this.limits.maxInFlight + this.limits.maxQueued && (this.waiting.length >= this.limits.maxQueued || this.standing(now));
  }

  /**
   * A queue stands when it has not emptied for `standingMs`, or at once while the rate governor holds a
   * rate: it has judged this an overload, so the queue it finds is not a burst to wait out. Without that,
   * the commands queued in an overload's first 50 ms drained in order (55-76 ms in one run) while the
   * governor was already refusing what came after them.
   */
  private standing(now: number): boolean {
    const { queueTargetMs = 0, standingMs = 100 } = this.limits;
    return queueTargetMs > 0 && this.waiting.length > 0 && (now - this.emptyAt > standingMs || this.governor.targetMs !== undefined);
  }

  /** The waiter to admit: the oldest in a burst; in a standing queue the newest, after refusing the stale. */
  private next(): Waiter | undefined {
    const now = performance.now();
    if (!this.standing(now)) {
      const waiter = this.waiting.shift();
      if (this.waiting.length === 0) this.emptyAt = now;
      return waiter;
    }
    // A wait past the target, or past the latency the governor holds commands to while it governs.
    const target = Math.min(this.limits.queueTargetMs!, this.governor.targetMs ?? Infinity);
    while (this.waiting.length > 0 && now - this.waiting[0]!.since > target) this.waiting.shift()!.refuse(this.refuse('stale'));
    const waiter = this.waiting.pop();
    if (this.waiting.length === 0) this.emptyAt = now;
    return waiter;
  }

  private queue(): Promise<void> {
    const now = performance.now();
    if (this.waiting.length === 0) this.emptyAt = now;
    if (this.waiting.length >= this.limits.maxQueued) {
      // Full: in a standing queue the oldest waiter is the one to let go (it is past saving), else the newcomer.
      if (!this.standing(now)) throw this.refuse('full');
      this.waiting.shift()!.refuse(this.refuse('full'));
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        since: now,
        admit: () => {
          clearTimeout(timer);
          resolve();
        },
        refuse: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      const timer = setTimeout(() => {
        const at = this.waiting.indexOf(waiter);
        if (at >= 0) this.waiting.splice(at, 1);
        reject(this.refuse('timeout'));
      }, this.limits.queueTimeoutMs);
      this.waiting.push(waiter);
    });
  }

  private refuse(why: 'full' | 'timeout' | 'stale' | 'rate'): ServiceUnavailableError {
    metrics.commandsRefused.inc({ reason: why });
    // A refusal of the queue raises the early-refusal probability; the rate governor steers its own share.
    if (why !== 'rate') {
      this.governor.noteRefusal();
      const now = performance.now();
      this.shed = Math.min(MAX_SHED, this.decayedShed(now) + STEP);
      this.shedAt = now;
    }
    return new ServiceUnavailableError('the service is at capacity; try again shortly', { server: 'command', retryAfterSeconds: 1 });
  }
}
