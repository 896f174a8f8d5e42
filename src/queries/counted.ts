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
 * went away at once) still gives its slot back.
 */
export function counted<T>(field: string, source: AsyncIterable<T>, options: HoldOptions = {}): AsyncIterable<T> {
  const iterator = source[Symbol.asyncIterator]();
  metrics.activeSubscriptions.inc({ field });
  let ended = false;
  let stallTimer: NodeJS.Timeout | undefined;
  const end = () => {
    clearTimeout(stallTimer);
    if (ended) return;
    ended = true;
    metrics.activeSubscriptions.dec({ field });
    options.release?.();
  };
  const finish = async (): Promise<IteratorResult<T>> => {
    end();
    await iterator.return?.();
    return { done: true, value: undefined };
  };
  const stall = (): Promise<IteratorResult<T>> => {
    metrics.droppedSubscribers.inc({ field });
    options.onStall?.();
    return finish();
  };
  return {
    [Symbol.asyncIterator]: () => ({
      async next() {
        clearTimeout(stallTimer);
        if (ended) return { done: true, value: undefined };
        try {
          const result = await iterator.next();
          if (result.done) end();
          else if (options.stallMs) stallTimer = setTimeout(() => void stall(), options.stallMs).unref();
          return result;
        } catch (error) {
          end();
          throw error;
        }
      },
      return: finish,
      async throw(error: unknown) {
        end();
        if (iterator.throw) return iterator.throw(error);
        throw error;
      },
    }),
  };
}
