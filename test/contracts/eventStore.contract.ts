// What every EventStore adapter promises, checked through the port alone. `make` must hand out an
// empty store; `cleanup` closes it and throws its rows away.
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  type AppendResult,
  type EventStore,
  type IdempotencyClaim,
  IdempotencyKeyTakenError,
  type NewEvent,
  type StoredEvent,
  WrongExpectedVersionError,
} from '../../src/ports.js';

export function eventStoreContract(
  name: string,
  make: () => Promise<{ store: EventStore; cleanup: () => Promise<void> }>,
): void {
  describe(`${name} event store`, () => {
    let store: EventStore;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ store, cleanup } = await make());
    });
    afterEach(async () => {
      await cleanup();
    });

    /** Publishes whatever the outbox holds and returns it: a cheap way to see which outbox rows exist. */
    async function drainOutbox(): Promise<StoredEvent[]> {
      const published: StoredEvent[] = [];
      await store.relayOutbox(1_000, async (event) => void published.push(event));
      return published;
    }

    describe('when events are appended to a new stream', () => {
      it('reads them back in version order with their data, metadata and commit time', async () => {
        const stream = streamId();
        const events = [newEvent('OrderPlaced', { total: 10 }), newEvent('ItemAdded', { sku: 'A-1' })];
        const before = Date.now();

        const result = await store.append(stream, 0, events);

        expect(result.version).toBe(2);
        expect(result.position).toBe(result.events[1]!.position);
        const read = await store.readStream(stream);
        expect(read).toEqual(result.events);
        expect(read.map(({ streamId, version, type, schemaVersion, data, metadata }) => ({
          streamId, version, type, schemaVersion, data, metadata,
        }))).toEqual(events.map((event, i) => ({ streamId: stream, version: i + 1, ...event })));
        expect(typeof read[0]!.position).toBe('bigint');
        expect(read[1]!.position).toBeGreaterThan(read[0]!.position);
        expect(read[0]!.committedAt).toBeInstanceOf(Date);
        expect(Math.abs(read[0]!.committedAt.getTime() - before)).toBeLessThan(5_000);
      });

      it('reads from a given version on', async () => {
        const stream = streamId();
        await store.append(stream, 0, [newEvent(), newEvent(), newEvent()]);

        const read = await store.readStream(stream, 2);

        expect(read.map((event) => event.version)).toEqual([2, 3]);
      });
    });

    describe('when the expected version does not match the stream', () => {
      it.each([1, 3])('throws WrongExpectedVersionError for %i on a stream at 2 and writes nothing', async (expected) => {
        const stream = streamId();
        const first = await store.append(stream, 0, [newEvent(), newEvent()]);
        const claim = idempotencyClaim();

        await expect(store.append(stream, expected, [newEvent()], claim)).rejects.toBeInstanceOf(
          WrongExpectedVersionError,
        );

        expect(await store.readStream(stream)).toEqual(first.events);
        expect(await store.findIdempotency(claim.userId, claim.key)).toBeNull();
        expect(await drainOutbox()).toEqual(first.events);
      });

      it('rejects expectedVersion 0 on a stream that exists', async () => {
        const stream = streamId();
        await store.append(stream, 0, [newEvent()]);

        await expect(store.append(stream, 0, [newEvent()])).rejects.toBeInstanceOf(WrongExpectedVersionError);
        expect(await store.readStream(stream)).toHaveLength(1);
      });
    });

    describe('when an append claims an idempotency key', () => {
      it('stores the result computed from the append, found by user and key', async () => {
        const stream = streamId();
        const claim = idempotencyClaim();

        const result = await store.append(stream, 0, [newEvent()], claim);

        expect(await store.findIdempotency(claim.userId, claim.key)).toEqual({
          requestHash: claim.requestHash,
          result: { streamId: stream, version: result.version, position: result.position.toString() },
        });
        expect(await store.findIdempotency(claim.userId, 'another-key')).toBeNull();
        expect(await store.findIdempotency('another-user', claim.key)).toBeNull();
      });
    });

    describe('when a second append claims a key that is taken', () => {
      it('throws IdempotencyKeyTakenError and leaves nothing behind', async () => {
        const claim = idempotencyClaim();
        const first = await store.append(streamId(), 0, [newEvent()], claim);
        const second = streamId();

        await expect(
          store.append(second, 0, [newEvent()], { ...claim, requestHash: 'other-request' }),
        ).rejects.toBeInstanceOf(IdempotencyKeyTakenError);

        expect(await store.readStream(second)).toEqual([]);
        expect(await store.findIdempotency(claim.userId, claim.key)).toMatchObject({ requestHash: claim.requestHash });
        expect(await drainOutbox()).toEqual(first.events);
      });
    });

    describe('when reading all events', () => {
      it('returns the events after a position in position order, up to the limit', async () => {
        const [a, b] = [streamId(), streamId()];
        const appended = [
          ...(await store.append(a, 0, [newEvent(), newEvent()])).events,
          ...(await store.append(b, 0, [newEvent()])).events,
          ...(await store.append(a, 2, [newEvent()])).events,
        ];

        expect(await store.readAll(0n, 100)).toEqual(appended);
        expect(await store.readAll(appended[1]!.position, 2)).toEqual(appended.slice(2, 4));
        expect(await store.readAll(appended[3]!.position, 100)).toEqual([]);
      });

      it('reports the position of the last event as the head, 0 when empty', async () => {
        expect(await store.headPosition()).toBe(0n);

        await store.append(streamId(), 0, [newEvent()]);
        const last = await store.append(streamId(), 0, [newEvent(), newEvent()]);

        expect(await store.headPosition()).toBe(last.position);
      });
    });

    describe('when the relay runs', () => {
      it('publishes the oldest pending events in position order, once', async () => {
        const [a, b] = [streamId(), streamId()];
        const appended = [
          ...(await store.append(a, 0, [newEvent()])).events,
          ...(await store.append(b, 0, [newEvent(), newEvent()])).events,
          ...(await store.append(a, 1, [newEvent()])).events,
        ];
        const published: StoredEvent[] = [];
        const publish = async (event: StoredEvent) => void published.push(event);

        expect(await store.relayOutbox(3, publish)).toBe(3);
        expect(await store.relayOutbox(3, publish)).toBe(1);
        expect(await store.relayOutbox(3, publish)).toBe(0);

        expect(published).toEqual(appended);
      });

      it('keeps the event that failed to publish, and the ones after it, pending', async () => {
        const appended: StoredEvent[] = [];
        for (let i = 0; i < 3; i++) appended.push(...(await store.append(streamId(), 0, [newEvent()])).events);
        const failing = appended[1]!;
        const published: StoredEvent[] = [];

        const count = await store.relayOutbox(10, async (event) => {
          if (event.position === failing.position) throw new Error('bus unavailable');
          published.push(event);
        });

        expect(count).toBe(1);
        expect(published).toEqual([appended[0]]);
        expect(await drainOutbox()).toEqual(appended.slice(1));
      });
    });

    describe('when the outbox is watched', () => {
      it('calls back after an append, and no more once stopped', async () => {
        const onAppend = vi.fn();
        const stop = await store.watchOutbox(onAppend);

        await store.append(streamId(), 0, [newEvent()]);
        await vi.waitFor(() => expect(onAppend).toHaveBeenCalled());

        await stop();
        onAppend.mockClear();
        await store.append(streamId(), 0, [newEvent()]);
        await new Promise((resolve) => setTimeout(resolve, 200));
        expect(onAppend).not.toHaveBeenCalled();
      });
    });

    describe('when 20 appends race for the same expected version', () => {
      it('lets exactly one through and rejects the others with WrongExpectedVersionError', async () => {
        const stream = streamId();
        await store.append(stream, 0, [newEvent()]);

        const results = await Promise.allSettled(
          Array.from({ length: 20 }, () => store.append(stream, 1, [newEvent()])),
        );

        const succeeded = results.filter((r): r is PromiseFulfilledResult<AppendResult> => r.status === 'fulfilled');
        const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
        expect(succeeded).toHaveLength(1);
        expect(failures).toHaveLength(19);
        for (const failure of failures) expect(failure).toBeInstanceOf(WrongExpectedVersionError);
        expect(await store.readStream(stream)).toEqual([
          expect.objectContaining({ version: 1 }),
          ...succeeded[0]!.value.events,
        ]);
      });
    });
  });
}

function streamId(): string {
  return `order-${randomUUID()}`;
}

function newEvent(type = 'ItemAdded', data: unknown = { sku: 'A-1', quantity: 1 }): NewEvent {
  return {
    type,
    schemaVersion: 1,
    data,
    metadata: {
      eventId: randomUUID(),
      commandId: randomUUID(),
      correlationId: randomUUID(),
      causationId: randomUUID(),
      userId: 'user-1',
    },
  };
}

function idempotencyClaim(): IdempotencyClaim {
  return {
    userId: 'user-1',
    key: `key-${randomUUID()}`,
    requestHash: 'request-hash-1',
    result: (append) => ({
      streamId: append.events[0]!.streamId,
      version: append.version,
      position: append.position.toString(),
    }),
  };
}
