import { ServiceUnavailableError } from '../domain/errors.js';
import { metrics } from '../metrics.js';

export interface AdmissionLimits {
  /** Commands running at once in this process; beyond, they queue. */
  maxInFlight: number;
  /** Commands waiting for a slot; beyond, refused at once. */
  maxQueued: number;
  /** How long a queued command may wait for a slot before it is refused. */
  queueTimeoutMs: number;
}

/**
 * Bounded admission for the command path. Past its capacity a service that queues without bound makes
 * every command slow and its memory grow; this one keeps the latency of what it admits and refuses the
 * rest at once with SERVICE_UNAVAILABLE and a Retry-After, which clients (and load balancers) act on.
 */
export class Admission {
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limits: AdmissionLimits) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    // A finishing command hands its slot straight to the next in the queue, so none can jump it.
    if (this.inFlight >= this.limits.maxInFlight) await this.queue();
    else this.inFlight++;
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.inFlight--;
    }
  }

  private queue(): Promise<void> {
    if (this.waiting.length >= this.limits.maxQueued) throw this.refuse('full');
    return new Promise<void>((resolve, reject) => {
      const admit = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        const at = this.waiting.indexOf(admit);
        if (at >= 0) this.waiting.splice(at, 1);
        reject(this.refuse('timeout'));
      }, this.limits.queueTimeoutMs);
      this.waiting.push(admit);
    });
  }

  private refuse(why: 'full' | 'timeout'): ServiceUnavailableError {
    metrics.commandsRefused.inc({ reason: why });
    return new ServiceUnavailableError('the service is at capacity; try again shortly', { server: 'command', retryAfterSeconds: 1 });
  }
}
