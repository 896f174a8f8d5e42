// Subscribers for the scenarios that measure delivery: proven live before anything is measured, and
// counted, so a lost message or a failed subscription ends the run with a reason instead of a hang.
import type { Client } from 'graphql-ws';

const asError = (error: unknown) => (error instanceof Error ? error : new Error(JSON.stringify(error)));

/**
 * Subscribes and resolves once the first message (the current state) proves the subscription live;
 * every later message goes to `onUpdate` with the time it arrived, a later failure to `onError`.
 * Resolves to the unsubscribe function.
 */
export function liveSubscription<T>(
  ws: Client,
  query: string,
  variables: Record<string, unknown>,
  onUpdate: (data: T, receivedAt: number) => void,
  onError: (error: Error) => void,
): Promise<() => void> {
  return new Promise((resolve, reject) => {
    let live = false;
    const fail = (error: unknown) => (live ? onError(asError(error)) : reject(asError(error)));
    const unsubscribe = ws.subscribe<T>(
      { query, variables },
      {
        next: ({ data, errors }) => {
          if (!data) return fail(errors);
          if (live) return onUpdate(data, Date.now());
          live = true;
          resolve(unsubscribe);
        },
        error: fail,
        complete: () => {},
      },
    );
  });
}

/** Counts delivered messages; `until(total)` waits for that many in all, or for the first failure. */
export class Deliveries {
  private count = 0;
  private failure: Error | null = null;
  private waiter: { total: number; resolve: () => void; reject: (error: Error) => void } | null = null;

  arrived(): void {
    this.count++;
    this.settle();
  }

  failed(error: Error): void {
    this.failure ??= error;
    this.settle();
  }

  until(total: number, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${total - this.count} of ${total} messages not delivered within ${timeoutMs / 1000} s`)), timeoutMs);
      const done = (settle: () => void) => (clearTimeout(timer), settle());
      this.waiter = { total, resolve: () => done(resolve), reject: (error) => done(() => reject(error)) };
      this.settle();
    });
  }

  private settle(): void {
    if (!this.waiter) return;
    if (this.failure) this.waiter.reject(this.failure);
    else if (this.count >= this.waiter.total) this.waiter.resolve();
    else return;
    this.waiter = null;
  }
}
