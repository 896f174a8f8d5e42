import { Repeater } from '@repeaterjs/repeater';
import { metrics } from '../metrics.js';

/** Passes a subscription's stream through, counting it in orders_active_subscriptions while it is open. */
export function counted<T>(field: string, source: AsyncIterable<T>): AsyncIterable<T> {
  return new Repeater<T>(async (push, stop) => {
    metrics.activeSubscriptions.inc({ field });
    const iterator = source[Symbol.asyncIterator]();
    const stopped = stop.then(() => ({ done: true as const, value: undefined }));
    try {
      for (;;) {
        const next = await Promise.race([iterator.next(), stopped]);
        if (next.done) break;
        await push(next.value);
      }
    } finally {
      metrics.activeSubscriptions.dec({ field });
      await iterator.return?.();
    }
    stop();
  });
}
