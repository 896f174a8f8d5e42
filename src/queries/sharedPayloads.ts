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
