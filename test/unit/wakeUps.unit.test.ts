import { describe, expect, it } from 'vitest';
import { wakeUps } from '../../src/queries/wakeUps.js';

/** A watched source: how many watch it now, and a change to announce to them. */
function source() {
  const watchers = new Set<() => void>();
  let joined!: () => void;
  const join = new Promise<void>((resolve) => (joined = resolve));
  return {
    watchers,
    join: joined,
    change: () => watchers.forEach((wake) => wake()),
    watch: async (wake: () => void) => {
      watchers.add(wake);
      await join;
      return async () => void watchers.delete(wake);
    },
  };
}

const stopper = () => {
  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  return { stop, stopped };
};

describe('wake-ups of a subscriber', () => {
  it('wakes first once the watch is joined, not before', async () => {
    const feed = source();
    const wakes = wakeUps(feed.watch, stopper().stopped);
    let first = false;
    const woken = wakes.next().then(() => (first = true));
    await Promise.resolve();
    await Promise.resolve();
    expect(first).toBe(false);
    feed.join();
    await woken;
    expect(first).toBe(true);
    await wakes.return();
  });

  it('folds the changes that come before the subscriber takes a wake-up into one', async () => {
    const feed = source();
    feed.join();
    const { stop, stopped } = stopper();
    const wakes = wakeUps(feed.watch, stopped);
    await wakes.next(); // joined
    feed.change();
    feed.change();
    feed.change();
    expect(await wakes.next()).toEqual({ value: undefined, done: false });
    // A change after the wake-up was taken is a new wake-up.
    feed.change();
    expect(await wakes.next()).toEqual({ value: undefined, done: false });
    // Nothing more is pending: the next wake-up waits, and the stop is what ends it.
    const pending = wakes.next();
    stop();
    expect(await pending).toEqual({ value: undefined, done: true });
  });

  it('wakes a subscriber already waiting when a change comes', async () => {
    const feed = source();
    feed.join();
    const wakes = wakeUps(feed.watch, stopper().stopped);
    await wakes.next();
    let woken = false;
    const waiting = wakes.next().then((result) => ((woken = true), result));
    await new Promise((resolve) => setImmediate(resolve));
    expect(woken).toBe(false);
    feed.change();
    expect(await waiting).toEqual({ value: undefined, done: false });
    await wakes.return();
  });

  it('releases a subscriber waiting for a change when stopped, and unwatches', async () => {
    const feed = source();
    feed.join();
    const { stop, stopped } = stopper();
    const wakes = wakeUps(feed.watch, stopped);
    await wakes.next();
    expect(feed.watchers.size).toBe(1);
    const waiting = wakes.next();
    stop();
    expect((await waiting).done).toBe(true);
    expect(feed.watchers.size).toBe(0);
  });

  it('unwatches when the subscriber stops taking wake-ups (return)', async () => {
    const feed = source();
    feed.join();
    const wakes = wakeUps(feed.watch, stopper().stopped);
    await wakes.next();
    feed.change();
    await wakes.next();
    expect(feed.watchers.size).toBe(1);
    await wakes.return();
    expect(feed.watchers.size).toBe(0);
  });
});
