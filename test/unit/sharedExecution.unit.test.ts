import { type ExecutionResult, getNamedType, type GraphQLObjectType, isObjectType, parse } from 'graphql';
import type { Logger } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Caller } from '../../src/domain/order/index.js';
import type { OrderUpdate } from '../../src/queries/orderUpdates.js';
import { markShared, ThisMillisecond } from '../../src/queries/sharedPayloads.js';
import type { Context, Services } from '../../src/schema/context.js';
import { schema } from '../../src/schema/index.js';
import { executeShared, subscribe } from '../../src/server/subscriptionExecution.js';
import { admin, alice, bob, ORDER_ID } from './given.js';
import { docAt, project, services } from './orderFeed.js';

// One execution of a change for every subscriber of the order that pushes it alike
// (src/server/subscriptionExecution.ts): safe only while the result depends on nothing a subscriber
// has. These check that on the schema as it is, and that each subscriber still sees only what it may
// see, every version, in order.

/** Every field under OrderUpdate, recursively: the selection a client could make. */
function everything(type: GraphQLObjectType, seen = new Set<string>()): string {
  const fields = Object.values(type.getFields()).map((field) => {
    const named = getNamedType(field.type);
    if (!isObjectType(named)) return field.name;
    if (seen.has(named.name)) return '';
    return `${field.name} { ${everything(named, new Set([...seen, type.name]))} }`;
  });
  return `__typename ${fields.join(' ')}`;
}

const orderUpdate = schema.getType('OrderUpdate') as GraphQLObjectType;
const fullSelection = `subscription Watch($id: ID!) { orderUpdated(id: $id) { ${everything(orderUpdate)} } }`;

describe('given the types a shared order update reaches', () => {
  it('has no auth scope on any of them or their fields', () => {
    const visit = (type: GraphQLObjectType, seen: Set<string>): string[] => {
      if (seen.has(type.name)) return [];
      seen.add(type.name);
      const scoped = type.extensions.pothosOptions && 'authScopes' in (type.extensions.pothosOptions as object) ? [type.name] : [];
      for (const field of Object.values(type.getFields())) {
        const options = field.extensions.pothosOptions as { authScopes?: unknown } | undefined;
        if (options?.authScopes) scoped.push(`${type.name}.${field.name}`);
        const named = getNamedType(field.type);
        if (isObjectType(named)) scoped.push(...visit(named, seen));
      }
      return scoped;
    };
    expect(visit(orderUpdate, new Set())).toEqual([]);
  });

  it('resolves every field without reading the context', async () => {
    const update = markShared({ doc: docAt(2), eventType: 'OrderItemAdded', previousVersion: 1, deliveredAt: new Date() });
    // A context any read of which throws: a resolver that read the caller would fail the execution.
    const untouchable = new Proxy({}, { get: (_, key) => { throw new Error(`the context was read: ${String(key)}`); } });
    const args = { schema, document: parse(fullSelection), variableValues: { id: ORDER_ID }, contextValue: untouchable };
    const result = (await executeShared(args, 'untouchable', update)) as ExecutionResult;
    expect(result.errors).toBeUndefined();
    expect(result.data).toMatchObject({ orderUpdated: { version: 2, previousVersion: 1, order: { id: ORDER_ID, userId: alice.userId } } });
  });
});

describe('given one execution key', () => {
  const args = (caller: Caller) => ({ schema, document: parse(fullSelection), variableValues: { id: ORDER_ID }, contextValue: contextFor(caller, services()) });
  afterEach(() => void vi.useRealTimers());

  it('gives a shared update the same result within one millisecond, whoever asks', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: Date.parse('2026-11-30T12:00:00.000Z') });
    const update = markShared({ doc: docAt(2), eventType: 'OrderItemAdded', previousVersion: 1, deliveredAt: new Date() });
    const first = await executeShared(args(alice), 'k', update);
    expect(await executeShared(args(admin), 'k', update)).toBe(first);
    // The next millisecond executes again: ageMs reads the clock.
    vi.setSystemTime(Date.now() + 1);
    const later = (await executeShared(args(alice), 'k', update)) as ExecutionResult;
    expect(later).not.toBe(first);
    expect((later.data as any).orderUpdated.freshness.ageMs).toBe((first as any).data.orderUpdated.freshness.ageMs + 1);
  });

  it('never shares a result with errors', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: Date.parse('2026-11-30T12:00:00.000Z') });
    // A document of another order that lost its items: Order.items is non-null, so the result has errors.
    const broken = markShared({ doc: { ...docAt(2), data: { ...docAt(2).data, items: null as never } }, eventType: 'OrderItemAdded', previousVersion: 1, deliveredAt: new Date() });
    const first = (await executeShared(args(alice), 'k', broken)) as ExecutionResult;
    expect(first.errors?.length).toBeGreaterThan(0);
    expect(await executeShared(args(alice), 'k', broken)).not.toBe(first);
  });
});

describe('given subscribers of different callers on one order', () => {
  let deps: ReturnType<typeof services>;
  beforeEach(async () => {
    deps = services();
    await project(deps, 1);
  });
  afterEach(async () => deps.feed.close());

  it('sends the owner and an admin every version in order, one execution for all, and the other customer nothing', async () => {
    const watching = await Promise.all([alice, alice, admin, bob].map((caller) => watch(deps, caller)));
    const [owner, sameOwner, anAdmin, other] = watching;
    for (const subscriber of [owner!, sameOwner!, anAdmin!]) expect(seen(await subscriber.next())).toEqual({ eventType: 'Snapshot', version: 1, previousVersion: null });
    const otherNext = other!.next();

    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
    const nexts = [owner!.next(), sameOwner!.next(), anAdmin!.next()];
    await project(deps, 2);
    const results = await Promise.all(nexts);
    vi.useRealTimers();
    for (const result of results) expect(seen(result)).toEqual({ eventType: 'OrderItemAdded', version: 2, previousVersion: 1 });
    // One execution: the same result object for each of them, whatever their caller.
    expect(results[1]!.value).toBe(results[0]!.value);
    expect(results[2]!.value).toBe(results[0]!.value);

    // A subscriber that does not read for a while still gets every version, in order, once it does.
    await project(deps, 3);
    await project(deps, 4);
    for (const version of [3, 4]) {
      for (const subscriber of [owner!, anAdmin!]) expect(seen(await subscriber.next())).toEqual({ eventType: 'OrderItemAdded', version, previousVersion: version - 1 });
    }
    expect(seen(await sameOwner!.next())).toEqual({ eventType: 'OrderItemAdded', version: 3, previousVersion: 2 });
    expect(seen(await sameOwner!.next())).toEqual({ eventType: 'OrderItemAdded', version: 4, previousVersion: 3 });

    // Another customer's order never becomes visible: the subscription stays open and sends nothing.
    expect(await Promise.race([otherNext.then(() => 'sent'), new Promise((resolve) => setTimeout(() => resolve('nothing'), 50))])).toBe('nothing');
    await Promise.all(watching.map((subscriber) => subscriber.return?.()));
    expect(await otherNext).toEqual({ done: true, value: undefined });
  });
});

function contextFor(caller: Caller, deps: ReturnType<typeof services>): Context {
  const reads = { ...deps, waiter: null, events: null, receipts: null } as unknown as NonNullable<Services['reads']>;
  return {
    caller,
    authError: null,
    correlationId: 'c-1',
    services: {
      commands: null,
      receipts: null,
      reads,
      log: {} as Logger,
      subscriptions: { quota: { acquire: async () => () => {}, close: async () => {} }, max: 10, stallMs: 0 },
    },
  };
}

const watchDocument = parse('subscription Watch($id: ID!) { orderUpdated(id: $id) { eventType version previousVersion endToEndLagMs order { id userId items { sku } } } }');

async function watch(deps: ReturnType<typeof services>, caller: Caller): Promise<AsyncIterator<ExecutionResult>> {
  const stream = await subscribe({ schema, document: watchDocument, variableValues: { id: ORDER_ID }, contextValue: contextFor(caller, deps) });
  if (!(Symbol.asyncIterator in stream)) throw new Error(`no stream: ${JSON.stringify(stream.errors)}`);
  return stream;
}

function seen(result: IteratorResult<ExecutionResult>) {
  if (result.done) throw new Error('the subscription ended');
  expect(result.value.errors).toBeUndefined();
  const update = (result.value.data as { orderUpdated: Pick<OrderUpdate, 'eventType' | 'previousVersion'> & { version: number } }).orderUpdated;
  return { eventType: update.eventType, version: update.version, previousVersion: update.previousVersion };
}

describe('given what is kept of shared events', () => {
  it('holds it for the millisecond it was made in, and lets it go once the clock has moved on', () => {
    const kept = new ThisMillisecond<object, string>();
    const event = {};
    kept.of(1_000).set(event, 'result');
    expect(kept.of(1_000).get(event)).toBe('result');
    // Nothing of it is held after that millisecond, not even by a reference that only a full garbage
    // collection would clear (a WeakMap's, on Node 20): the map that held it is empty.
    const later = kept.of(1_001);
    expect(later.size).toBe(0);
    expect(kept.of(1_000).get(event)).toBeUndefined();
  });
});
