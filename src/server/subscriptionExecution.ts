import { createSourceEventStream, type DocumentNode, execute, type ExecutionArgs, type ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { isShared, ThisMillisecond } from '../queries/sharedPayloads.js';

type Result = ExecutionResult | Promise<ExecutionResult>;

/**
 * The subscribe of every subscription, over WebSocket and SSE: graphql-js' source stream, then each event
 * executed as graphql-js' own `subscribe` does it, with one difference. An event that many subscribers
 * push alike (an order's change, to each subscriber one version behind: `isShared`) is executed once per
 * document, operation and variables, and that result goes to each of them, where each ran its own
 * execution before: with 50 subscribers of one order, one execution of the 50.
 *
 * Why the result is the one each subscriber's own execution would have given:
 * - the event is the same object, and the key holds the rest of the input: the parsed document (one
 *   object per query text, from Yoga's parser cache; another object is another key), the operation name
 *   and the variables as sent;
 * - nothing under a shared event's type reads the context: no auth scope on its fields or types, no
 *   resolver that takes the caller (`test/unit/sharedExecution.unit.test.ts` walks the schema for both,
 *   and runs one event for several callers). Who may see an order is decided per subscriber before the
 *   event is pushed, and the subscription's own scope when it was opened;
 * - the clock: a result is kept only when its execution began and ended within one millisecond, and
 *   reused only within that millisecond, so a subscriber's own execution at that moment would have read
 *   the same clock in every resolver that reads it (Freshness.ageMs);
 * - errors: a result with errors is never reused (masking gives each subscriber its correlation id).
 * Each subscriber still pulls its own events in its own order; only the work of executing is shared.
 *
 * Yoga's default executor is not used for subscriptions: it runs each event through an async generator
 * and a flattening iterator made for @defer and @stream (not in this schema), and has no hook per event.
 */
export function subscriptionExecution(): Plugin {
  return { onSubscribe: ({ setSubscribeFn }) => setSubscribeFn(subscribe as never) };
}

/** Per shared event, the results executed of it this millisecond, by execution key. */
const kept = new ThisMillisecond<object, Map<string, ExecutionResult>>();
const documentIds = new WeakMap<DocumentNode, number>();
let lastDocumentId = 0;

function executionKey(args: ExecutionArgs): string {
  let id = documentIds.get(args.document);
  if (id === undefined) documentIds.set(args.document, (id = ++lastDocumentId));
  return `${id}\u0000${args.operationName ?? ''}\u0000${JSON.stringify(args.variableValues ?? null)}`;
}

export async function subscribe(args: ExecutionArgs): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
  const stream = await createSourceEventStream(args);
  if (!(Symbol.asyncIterator in stream)) return stream;
  // \`rootValue\` present from the start, so that each event's \`{ ...args, rootValue }\` replaces a field:
  // adding one to a spread is V8's slow path on Node 20 (0.7 µs, for every event to every subscriber).
  return new ExecutedEvents(stream[Symbol.asyncIterator](), { ...args, rootValue: args.rootValue }, executionKey(args));
}

export function executeShared(args: ExecutionArgs, key: string, event: object): Result {
  const now = Date.now();
  const thisMillisecond = kept.of(now);
  let results = thisMillisecond.get(event);
  const hit = results?.get(key);
  if (hit) return hit;
  // Kept only when answered synchronously within `now`: `thisMillisecond` is then still that millisecond's map.
  const result = execute({ ...args, rootValue: event });
  if (result instanceof Promise || result.errors || Date.now() !== now) return result;
  if (!results) thisMillisecond.set(event, (results = new Map()));
  results.set(key, result);
  return result;
}

/**
 * The source's events as results, one step per step of the source; ending either ends both. A class,
 * so an open subscription holds one object here, not a closure per method.
 */
class ExecutedEvents implements AsyncIterableIterator<ExecutionResult> {
  constructor(
    private readonly events: AsyncIterator<unknown>,
    private readonly args: ExecutionArgs,
    private readonly key: string,
  ) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  // Not an async method: one suspended while the source waits for its next event kept a generator, its
  // context and closures alive per open subscription; a reaction on the source's promise is less.
  next(): Promise<IteratorResult<ExecutionResult>> {
    return this.events.next().then((step) => this.map(step));
  }

  async return(): Promise<IteratorResult<ExecutionResult>> {
    await this.events.return?.();
    return { done: true, value: undefined };
  }

  async throw(error: unknown): Promise<IteratorResult<ExecutionResult>> {
    if (this.events.throw) return this.map(await this.events.throw(error));
    await this.return();
    throw error;
  }

  // A plain result when the execution was synchronous (ours are): an async function returning a promise
  // costs two more turns of the microtask queue, on the path of every event to every subscriber.
  private map(step: IteratorResult<unknown>): IteratorResult<ExecutionResult> | Promise<IteratorResult<ExecutionResult>> {
    if (step.done) return { done: true, value: undefined };
    let result: Result;
    try {
      result = isShared(step.value) ? executeShared(this.args, this.key, step.value) : execute({ ...this.args, rootValue: step.value });
    } catch (error) {
      return this.failed(error);
    }
    return result instanceof Promise ? result.then((value) => ({ done: false, value }), (error: unknown) => this.failed(error)) : { done: false, value: result };
  }

  private async failed(error: unknown): Promise<never> {
    await this.events.return?.();
    throw error;
  }
}
