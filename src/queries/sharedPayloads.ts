/**
 * Subscription events that are one object for every subscriber they go to, marked by the query that
 * makes them. The subscription executor (server/subscriptionExecution.ts) may execute a marked event
 * once per document, operation and variables and give the result to each of those subscribers, so only
 * mark an event whose GraphQL result depends on nothing a subscriber has: not its caller (who may see it
 * is decided before the event is pushed), not its connection, not when it is pushed (beyond the
 * millisecond the executor keeps a result for).
 */
const shared = new WeakSet<object>();

export function markShared<T extends object>(payload: T): T {
  shared.add(payload);
  return payload;
}

export function isShared(payload: unknown): payload is object {
  return typeof payload === 'object' && payload !== null && shared.has(payload);
}

/**
 * What is kept of shared events for the millisecond `now` only (the updates made of a document, the
 * results executed of an event): a map emptied as soon as the clock has moved on. Not a WeakMap keyed by
 * the event: Node 20's V8 keeps a WeakMap's value through every young-generation collection while its
 * key lives, and a value that holds its key (an update holds its document) is collected only by a full
 * collection; each change and its results then outlived the young generation, to fill the old one.
 */
export class ThisMillisecond<K, V> {
  private at = Number.NaN;
  private readonly entries = new Map<K, V>();

  /** The entries kept since the clock last read `now`. */
  of(now: number): Map<K, V> {
    if (now !== this.at) {
      this.entries.clear();
      this.at = now;
    }
    return this.entries;
  }
}
