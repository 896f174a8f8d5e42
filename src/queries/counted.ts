import { metrics } from '../metrics.js';

export interface HoldOptions {
  /** Gives back what the subscription held (its quota slot); called once, however the stream ends. */
  release?: () => void;
  /**
   * A subscriber that has not asked for the next message this long after the last one is stalled (a
   * client that does not read: the transport's buffers are full and it waits to drain). The stream is
   * ended and `onStall` drops the connection, so one slow reader holds nothing for long.
   */
  stallMs?: number;
  onStall?: () => void;
  /**
   * What the transport holds unsent. graphql-ws waits for each message to be written before asking for
   * the next, but Yoga's SSE stream asks as fast as it can and buffers the rest in the response: past
   * `highWaterBytes` the next message waits for the buffer to drain (and past `stallMs`, the stream ends).
   */
  pressure?: TransportPressure | undefined;
}

export interface TransportPressure {
  bufferedBytes(): number;
  /** Resolves once the buffer has drained, or the connection closed. */
  drained(): Promise<void>;
}

/** Bytes a subscriber may have waiting in its connection before its stream pauses: a few large messages. */
export const highWaterBytes = 256 * 1024;

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
  /** False when the transport stayed full for stallMs. */
  const roomToSend = async (): Promise<boolean> => {
    const { pressure, stallMs } = options;
    if (!pressure || pressure.bufferedBytes() <= highWaterBytes) return true;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), stallMs ?? 30_000)));
    const drained = await Promise.race([pressure.drained().then(() => true), timedOut]);
    clearTimeout(timer);
    return drained;
  };
  return {
    [Symbol.asyncIterator]: () => ({
      async next() {
        clearTimeout(stallTimer);
        if (ended) return { done: true, value: undefined };
        if (!(await roomToSend())) return stall();
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
