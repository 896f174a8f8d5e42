import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { type RelayStore, startRelay } from '../../src/infrastructure/outboxRelay.js';
import type { RelayOutboxOptions } from '../../src/infrastructure/postgres/eventStore.js';
import type { EventBus } from '../../src/ports.js';

/** A step that waits until the test lets it go. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

/**
 * An outbox whose batches the test steps through: each one waits before reading (the read is when it
 * calls `beforeRead`, as the Postgres store does just before its SELECT) and again before it ends.
 * `reportsRead: false` is a store that ignores the option, as the in-memory one does.
 */
function steppedStore(reportsRead = true) {
  let wake!: () => void;
  const batches: { read: ReturnType<typeof gate>; end: ReturnType<typeof gate>; started: ReturnType<typeof gate> }[] = [];
  const next = () => batches.push({ read: gate(), end: gate(), started: gate() });
  next();
  const store = {
    async watchOutbox(onAppend: () => void) {
      wake = onAppend;
      return async () => {};
    },
    async relayOutbox(_limit: number, _publish: unknown, options: RelayOutboxOptions = {}) {
      const batch = batches.at(-1)!;
      next();
      batch.started.open();
      await batch.read.opened;
      if (reportsRead) options.beforeRead?.();
      await batch.end.opened;
      return 0; // the outbox drained: a short batch
    },
  } as unknown as RelayStore;
  return { store, batches, notify: () => wake() };
}

const bus = { publish: async () => {}, ping: async () => {} } as unknown as EventBus;
const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

/** Lets the n-th batch run to its end once it has started; then, the relay settled, how many batches ran. */
async function runThrough(batches: ReturnType<typeof steppedStore>['batches'], n: number): Promise<number> {
  await batches[n]!.started.opened;
  batches[n]!.read.open();
  batches[n]!.end.open();
  await settle();
  return batches.length - 1;
}

describe('the outbox relay, woken while a batch runs', () => {
  it('runs no second batch for a wake-up heard before the batch read the outbox', async () => {
    const { store, batches, notify } = steppedStore();
    const relay = await startRelay({ store, bus, log: pino({ level: 'silent' }), pollMs: 60_000, batch: 200 });
    await batches[0]!.started.opened;
    notify(); // its rows committed before the read below: the batch sees them
    expect(await runThrough(batches, 0)).toBe(1); // batches started
    await relay.stop();
  });

  it('runs another batch for a wake-up heard after the read, and only one', async () => {
    const { store, batches, notify } = steppedStore();
    const relay = await startRelay({ store, bus, log: pino({ level: 'silent' }), pollMs: 60_000, batch: 200 });
    await batches[0]!.started.opened;
    batches[0]!.read.open();
    await settle();
    notify(); // committed after the read: the batch may have missed it
    notify();
    batches[0]!.end.open();
    expect(await runThrough(batches, 1)).toBe(2);
    await relay.stop();
  });

  it('runs another batch for any wake-up during the drain when the store does not say when it read', async () => {
    const { store, batches, notify } = steppedStore(false);
    const relay = await startRelay({ store, bus, log: pino({ level: 'silent' }), pollMs: 60_000, batch: 200 });
    await batches[0]!.started.opened;
    notify();
    await runThrough(batches, 0);
    expect(await runThrough(batches, 1)).toBe(2);
    await relay.stop();
  });
});
