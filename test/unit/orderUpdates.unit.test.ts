import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { OrderUpdate } from '../../src/queries/orderUpdates.js';
import { myOrderUpdates, orderUpdates } from '../../src/queries/orderUpdates.js';
import { routerOf } from '../../src/queries/noticeRouter.js';
import { alice, bob, ORDER_ID } from './given.js';
import { events, project, services } from './orderFeed.js';

// What one subscriber of an order receives, from the pulled watcher alone (no GraphQL): every version
// once, in order, without gaps, and nothing left behind when it ends.

const seen = (result: IteratorResult<OrderUpdate>) => (result.done ? 'done' : { eventType: result.value.eventType, version: result.value.doc.version, previousVersion: result.value.previousVersion });
const quiet = <T>(promise: Promise<T>) => Promise.race([promise.then(() => 'sent'), new Promise((resolve) => setTimeout(() => resolve('nothing'), 30))]);

describe('given an order at version 2', () => {
  let deps: ReturnType<typeof services>;
  beforeEach(async () => {
    deps = services();
    await project(deps, 1);
    await project(deps, 2);
  });
  afterEach(async () => deps.feed.close());

  it('sends its current state first, then each change as it is announced', async () => {
    const updates = orderUpdates(deps, alice, ORDER_ID)[Symbol.asyncIterator]();
    expect(seen(await updates.next())).toEqual({ eventType: 'Snapshot', version: 2, previousVersion: null });
    const next = updates.next();
    await project(deps, 3);
    expect(seen(await next)).toEqual({ eventType: 'OrderItemAdded', version: 3, previousVersion: 2 });
    await updates.return!();
  });

  it('resumed with sinceVersion, sends every version after it, then the changes', async () => {
    const updates = orderUpdates(deps, alice, ORDER_ID, 0)[Symbol.asyncIterator]();
    expect(seen(await updates.next())).toEqual({ eventType: 'OrderCreated', version: 1, previousVersion: 0 });
    expect(seen(await updates.next())).toEqual({ eventType: 'OrderItemAdded', version: 2, previousVersion: 1 });
    const next = updates.next();
    await project(deps, 3);
    expect(seen(await next)).toEqual({ eventType: 'OrderItemAdded', version: 3, previousVersion: 2 });
    await updates.return!();
  });

  it('replays the versions a subscriber missed while it did not read, in order', async () => {
    const updates = orderUpdates(deps, alice, ORDER_ID)[Symbol.asyncIterator]();
    await updates.next();
    for (const version of [3, 4, 5]) await project(deps, version);
    for (const version of [3, 4, 5]) expect(seen(await updates.next())).toEqual({ eventType: events[version - 1]!.type, version, previousVersion: version - 1 });
    await updates.return!();
  });

  it('completes after delivering the final state', async () => {
    const updates = orderUpdates(deps, alice, ORDER_ID, 6)[Symbol.asyncIterator]();
    for (const version of [3, 4, 5, 6, 7, 8]) await project(deps, version);
    expect(seen(await updates.next())).toEqual({ eventType: 'OrderShipped', version: 7, previousVersion: 6 });
    expect(seen(await updates.next())).toEqual({ eventType: 'OrderDelivered', version: 8, previousVersion: 7 });
    expect(await updates.next()).toEqual({ done: true, value: undefined });
    expect(routerOf(deps.feed).size).toBe(0);
  });

  it('completes right after the Snapshot of an order already final', async () => {
    for (const version of [3, 4, 5, 6, 7, 8]) await project(deps, version);
    const updates = orderUpdates(deps, alice, ORDER_ID)[Symbol.asyncIterator]();
    expect(seen(await updates.next())).toEqual({ eventType: 'Snapshot', version: 8, previousVersion: null });
    expect(await updates.next()).toEqual({ done: true, value: undefined });
  });

  it("sends another customer nothing, and ends a waiting next() when the subscriber leaves, leaving the feed", async () => {
    const updates = orderUpdates(deps, bob, ORDER_ID)[Symbol.asyncIterator]();
    const next = updates.next();
    await project(deps, 3);
    expect(await quiet(next)).toBe('nothing');
    expect(routerOf(deps.feed).size).toBe(1);
    expect(await updates.return!()).toEqual({ done: true, value: undefined });
    expect(await next).toEqual({ done: true, value: undefined });
    expect(routerOf(deps.feed).size).toBe(0);
  });

  it("sends every order of the caller's, the new ones from their first version", async () => {
    const updates = myOrderUpdates(deps, alice, [])[Symbol.asyncIterator]();
    const next = updates.next();
    await project(deps, 3);
    // An order first heard of now: all of it is news, from version 1 (its first message follows nothing).
    expect(seen(await next)).toEqual({ eventType: 'OrderCreated', version: 1, previousVersion: null });
    expect(seen(await updates.next())).toEqual({ eventType: 'OrderItemAdded', version: 2, previousVersion: 1 });
    expect(seen(await updates.next())).toEqual({ eventType: 'OrderItemAdded', version: 3, previousVersion: 2 });
    await updates.return!();
  });
});
