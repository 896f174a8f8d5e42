import { metrics } from '../metrics.js';

export interface HoldOptions {
  /** Gives back what the subscription held (its quota slot); called once, however the stream ends. */
  release?: () => void;
  /**
   * A subscriber that has not asked for the next message this long after the last one is stalled. Both
   * transports ask only once the last message is written: graphql-ws awaits each send, and Yoga's SSE
   * response waits for the socket to drain. So a client that does not read stops the asking, and after
   * this long the stream is ended and `onStall` drops the connection: one slow reader holds nothing for long.
   */
  stallMs?: number;
  onStall?: () => void;
}

/**
 * Passes a subscription's stream through, counting it in orders_active_subscriptions while it is open.
 * A plain iterator rather than a generator, so a stream ended before its first message (the client
 * went away at once) still gives its slot back. A class, so an open subscription holds one object here
 * and its stall timer, not a closure per method.
 */
export function counted<T>(field: string, source: AsyncIterable<T>, options: HoldOptions = {}): AsyncIterable<T> {
  return new Counted(field, source[Symbol.asyncIterator](), options);
}

class Counted<T> implements AsyncIterableIterator<T> {
  private ended = false;
  private stallTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly field: string,
    private readonly iterator: AsyncIterator<T>,
    private readonly options: HoldOptions,
  ) {
    metrics.activeSubscriptions.inc({ field });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<T>> {
    clearTimeout(this.stallTimer);
    if (this.ended) return { done: true, value: undefined };
    try {
      const result = await this.iterator.next();
      if (result.done) this.end();
      else if (this.options.stallMs) this.stallTimer = setTimeout(stall, this.options.stallMs, this).unref();
      return result;
    } catch (error) {
      this.end();
      throw error;
    }
  }

  async return(): Promise<IteratorResult<T>> {
    this.end();
    await this.iterator.return?.();
    return { done: true, value: undefined };
  }

  async throw(error: unknown): Promise<IteratorResult<T>> {
    this.end();
    if (this.iterator.throw) return this.iterator.throw(error);
    throw error;
  }

  stalled(): Promise<IteratorResult<T>> {
    metrics.droppedSubscribers.inc({ field: this.field });
    this.options.onStall?.();
    return this.return();
  }

  private end(): void {
    clearTimeout(this.stallTimer);
    if (this.ended) return;
    this.ended = true;
    metrics.activeSubscriptions.dec({ field: this.field });
    this.options.release?.();
  }
}

/** The stall timer's callback: one function for every subscription, given its own as the argument. */
function stall(subscription: Counted<unknown>): void {
  void subscription.stalled();
}
