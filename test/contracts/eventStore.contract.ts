// What every EventStore adapter promises, checked through the port alone, plus archiving (which both
// adapters support, being one Postgres schema: `archive` runs it on the store's database). `make` must
// hand out an empty store; `cleanup` closes it and throws its rows away.
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { RelayStore } from '../../src/infrastructure/outboxRelay.js';
import type { ArchiveOptions, ArchiveSummary } from '../../src/infrastructure/postgres/archive.js';
import {
  type AppendResult,
  type IdempotencyClaim,
  IdempotencyKeyTakenError,
  type NewEvent,
  type StoredEvent,
  WrongExpectedVersionError,
} from '../../src/ports.js';

export function eventStoreContract(
  name: string,
  make: () => Promise<{ store: RelayStore; archive: (options: ArchiveOptions) => Promise<ArchiveSummary>; cleanup: () => Promise<void> }>,
): void {
  describe(`${name} event store`, () => {
    let store: RelayStore;
    let archive: (options: ArchiveOptions) => Promise<ArchiveSummary>;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ store, archive, cleanup } = await make());
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

    /**
     * Drains until `expected` is handed over, and answers the milliseconds since `failedBefore`: the first
     * backoff is 1 s, so less means it was not held back, and a drain that never hands it over times out.
     */
    async function drainedAfterBackoff(expected: StoredEvent[], failedBefore: number): Promise<number> {
      await vi.waitFor(async () => expect(await drainOutbox()).toEqual(expected), { timeout: 10_000, interval: 100 });
      return Date.now() - failedBefore;
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
        expect(read[0]!.recordedAt).toBeInstanceOf(Date);
        expect(Math.abs(read[0]!.recordedAt.getTime() - before)).toBeLessThan(5_000);
      });

      it('reads from a given version on', async () => {
        const stream = streamId();
        await store.append(stream, 0, [newEvent(), newEvent(), newEvent()]);

        const read = await store.readStream(stream, 2);

        expect(read.map((event) => event.version)).toEqual([2, 3]);
      });

      it('reads one page of at most limit events', async () => {
        const stream = streamId();
        await store.append(stream, 0, [newEvent(), newEvent(), newEvent(), newEvent()]);

        expect((await store.readStream(stream, 2, 2)).map((event) => event.version)).toEqual([2, 3]);
        expect((await store.readStream(stream, 4, 10)).map((event) => event.version)).toEqual([4]);
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

    describe('when an append of several events claims an idempotency key', () => {
      it('stores the result of the positions and version the events got, in version order', async () => {
        const stream = streamId();
        await store.append(stream, 0, [newEvent()]);
        const claim = idempotencyClaim();

        const result = await store.append(stream, 1, [newEvent(), newEvent(), newEvent()], claim);

        expect(result.events.map((event) => event.version)).toEqual([2, 3, 4]);
        const positions = result.events.map((event) => event.position);
        expect([...positions].sort((a, b) => (a < b ? -1 : 1))).toEqual(positions);
        expect(await store.readStream(stream, 2)).toEqual(result.events);
        expect(await store.findIdempotency(claim.userId, claim.key)).toEqual({
          requestHash: claim.requestHash,
          result: { streamId: stream, version: 4, position: positions[2]!.toString() },
        });
      });
    });

    describe('when 20 appends with idempotency keys race for the same expected version', () => {
      it('lets exactly one through and keeps only its record', async () => {
        const stream = streamId();
        await store.append(stream, 0, [newEvent()]);
        const claims = Array.from({ length: 20 }, () => idempotencyClaim());

        const results = await Promise.allSettled(claims.map((claim) => store.append(stream, 1, [newEvent()], claim)));

        const winners = results.flatMap((r, i) => (r.status === 'fulfilled' ? [{ claim: claims[i]!, result: r.value }] : []));
        expect(winners).toHaveLength(1);
        for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(WrongExpectedVersionError);
        const records = await Promise.all(claims.map((claim) => store.findIdempotency(claim.userId, claim.key)));
        expect(records.filter(Boolean)).toEqual([{ requestHash: 'request-hash-1', result: { streamId: stream, version: 2, position: winners[0]!.result.position.toString() } }]);
        expect(await drainOutbox()).toHaveLength(2);
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

      it('lets one relay publish at a time: a second one, while the first holds its batch, publishes nothing', async () => {
        const appended = (await store.append(streamId(), 0, [newEvent(), newEvent()])).events;
        let release!: () => void;
        const held = new Promise<void>((resolve) => (release = resolve));
        let entered!: () => void;
        const holding = new Promise<void>((resolve) => (entered = resolve));
        const first: StoredEvent[] = [];
        const second: StoredEvent[] = [];
        const one = store.relayOutbox(10, async (event) => {
          entered();
          await held;
          first.push(event);
        });
        await holding;
        // Postgres answers at once (the lock is taken); PGlite, one connection, runs it after the first.
        const other = store.relayOutbox(10, async (event) => void second.push(event));
        await new Promise((resolve) => setTimeout(resolve, 200));
        release();
        expect(await one).toBe(2);
        expect(await other).toBe(0);
        expect(first).toEqual(appended);
        expect(second).toEqual([]);
      });

      it('publishes the other streams past a failed event, and keeps that one pending until its backoff ends', async () => {
        const appended: StoredEvent[] = [];
        for (let i = 0; i < 3; i++) appended.push(...(await store.append(streamId(), 0, [newEvent()])).events);
        const failing = appended[1]!;
        const published: StoredEvent[] = [];

        const failedBefore = Date.now();
        const count = await store.relayOutbox(10, async (event) => {
          if (event.position === failing.position) throw new Error('bus refused it');
          published.push(event);
        });

        expect(count).toBe(2);
        expect(published).toEqual([appended[0], appended[2]]);
        expect(await drainOutbox()).toEqual([]);
        expect(await drainedAfterBackoff([failing], failedBefore)).toBeGreaterThanOrEqual(900);
      });

      it('dead-letters an event after maxAttempts failures while the bus answers, and never hands it over again', async () => {
        const [bad, good] = [streamId(), streamId()];
        const [failing] = (await store.append(bad, 0, [newEvent()])).events;
        const given: { event: StoredEvent; reason: string; attempts: number }[] = [];
        const refuse = async (event: StoredEvent) => {
          if (event.streamId === bad) throw new Error('illegal subject');
        };

        await store.relayOutbox(10, refuse, { maxAttempts: 1, onDeadLetter: (event, reason, attempts) => given.push({ event, reason, attempts }) });
        expect(given).toEqual([{ event: failing, reason: 'illegal subject', attempts: 1 }]);
        const [later] = (await store.append(good, 0, [newEvent()])).events;
        expect(await drainOutbox()).toEqual([later]);
        // Requeued (a retry of the dead letter), it is handed over again.
        await store.requeueOutbox!(failing!.position);
        expect(await drainOutbox()).toEqual([failing]);
      });

      it('does not count a failure while the bus is down: the event is retried, never dead-lettered for it', async () => {
        const [failing] = (await store.append(streamId(), 0, [newEvent()])).events;
        const given: StoredEvent[] = [];
        const down = async () => {
          throw new Error('bus unavailable');
        };
        const failedBefore = Date.now();
        await store.relayOutbox(10, down, { maxAttempts: 1, busUp: async () => false, onDeadLetter: (event) => given.push(event) });
        expect(given).toEqual([]);
        expect(await drainedAfterBackoff([failing!], failedBefore)).toBeGreaterThanOrEqual(900);
      });
    });

    describe('when the relay publishes several events at once', () => {
      it('hands every pending event over, each stream in version order, and marks them all published', async () => {
        const [a, b] = [streamId(), streamId()];
        const appended = [
          ...(await store.append(a, 0, [newEvent(), newEvent()])).events,
          ...(await store.append(b, 0, [newEvent()])).events,
          ...(await store.append(a, 2, [newEvent()])).events,
        ];
        const published: StoredEvent[] = [];
        const publish = async (event: StoredEvent) => {
          await new Promise((resolve) => setTimeout(resolve, event.streamId === a ? 20 : 1));
          published.push(event);
        };

        expect(await store.relayOutbox(10, publish, { inFlight: 8 })).toBe(4);

        expect(published.filter((event) => event.streamId === a)).toEqual(appended.filter((event) => event.streamId === a));
        expect(published).toHaveLength(4);
        expect(await drainOutbox()).toEqual([]);
      });

      it('holds back the rest of a failed event\'s stream only; other streams go on', async () => {
        const [a, b] = [streamId(), streamId()];
        const appended = [
          ...(await store.append(a, 0, [newEvent()])).events,
          ...(await store.append(b, 0, [newEvent()])).events,
          ...(await store.append(a, 1, [newEvent()])).events,
          ...(await store.append(b, 1, [newEvent()])).events,
        ];
        const failing = appended[0]!;
        const handed: StoredEvent[] = [];

        const failedBefore = Date.now();
        const count = await store.relayOutbox(
          10,
          async (event) => {
            handed.push(event);
            if (event.position === failing.position) throw new Error('bus refused it');
          },
          { inFlight: 8 },
        );

        expect(count).toBe(2);
        expect(handed).not.toContainEqual(appended[2]);
        expect(handed.filter((event) => event.streamId === b)).toEqual([appended[1], appended[3]]);
        expect(await drainOutbox()).toEqual([]);
        expect(await drainedAfterBackoff([appended[0]!, appended[2]!], failedBefore)).toBeGreaterThanOrEqual(900);
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
        // A watcher still running is called for the next append: by then the stopped one would have been too.
        const marker = vi.fn();
        const stopMarker = await store.watchOutbox(marker);
        await store.append(streamId(), 0, [newEvent()]);
        await vi.waitFor(() => expect(marker).toHaveBeenCalled());
        await stopMarker();
        expect(onAppend).not.toHaveBeenCalled();
      });
    });

    describe('when a snapshot is written', () => {
      it('reads it back, and nothing for a stream without one', async () => {
        const stream = streamId();
        expect(await store.readSnapshot(stream)).toBeNull();

        await store.writeSnapshot(stream, 100, 1, { status: 'CREATED', items: [{ sku: 'A-1' }] });

        expect(await store.readSnapshot(stream)).toEqual({ version: 100, schemaVersion: 1, state: { status: 'CREATED', items: [{ sku: 'A-1' }] } });
        expect(await store.readSnapshot(streamId())).toBeNull();
      });

      it('keeps the newer one when an older one of the same format arrives late', async () => {
        const stream = streamId();
        await store.writeSnapshot(stream, 200, 1, { at: 200 });

        await store.writeSnapshot(stream, 100, 1, { at: 100 });
        expect(await store.readSnapshot(stream)).toMatchObject({ version: 200, state: { at: 200 } });

        await store.writeSnapshot(stream, 300, 1, { at: 300 });
        expect(await store.readSnapshot(stream)).toMatchObject({ version: 300, state: { at: 300 } });
      });

      it('replaces it when the format changes, whatever the versions', async () => {
        const stream = streamId();
        await store.writeSnapshot(stream, 300, 1, { old: true });

        await store.writeSnapshot(stream, 200, 2, { new: true });

        expect(await store.readSnapshot(stream)).toEqual({ version: 200, schemaVersion: 2, state: { new: true } });
      });
    });

    describe('when finished streams are archived', () => {
      /** A finished stream, an open one interleaved with it, and a finished one whose outbox is pending. */
      async function given() {
        const [finished, open, pending] = [streamId(), streamId(), streamId()];
        await store.append(finished, 0, [newEvent('OrderCreated', {})]);
        await store.append(open, 0, [newEvent()]);
        await store.append(finished, 1, [newEvent('OrderDelivered', {})]);
        await store.append(open, 1, [newEvent()]);
        await drainOutbox();
        await store.append(pending, 0, [newEvent('OrderCreated', {}), newEvent('OrderCancelled', { reason: 'r' })]);
        await store.writeSnapshot(finished, 2, 1, { done: true });
        await store.writeSnapshot(open, 2, 1, { done: false });
        return { finished, open, pending, all: await store.readAll(0n, 100), head: await store.headPosition() };
      }
      const future = () => new Date(Date.now() + 60_000);

      it('moves only finished, published streams, and reads every stream and position as before', async () => {
        const { finished, open, pending, all, head } = await given();
        const before = { finished: await store.readStream(finished), open: await store.readStream(open) };

        const summary = await archive({ before: future(), batchSize: 1 });

        expect(summary).toMatchObject({ dryRun: false, streams: 1, events: 2, skipped: 1 });
        expect(await store.readStream(finished)).toEqual(before.finished);
        expect(await store.readStream(finished, 2)).toEqual(before.finished.slice(1));
        expect(await store.readStream(open)).toEqual(before.open);
        expect(await store.readStream(pending)).toHaveLength(2);
        expect(await store.readAll(0n, 100)).toEqual(all);
        expect(await store.readAll(all[0]!.position, 2)).toEqual(all.slice(1, 3));
        expect(await store.headPosition()).toBe(head);
      });

      it('drops the snapshots of archived streams only', async () => {
        const { finished, open } = await given();

        await archive({ before: future() });

        expect(await store.readSnapshot(finished)).toBeNull();
        expect(await store.readSnapshot(open)).toMatchObject({ version: 2 });
      });

      it('still guards the version of an archived stream on append', async () => {
        const { finished } = await given();
        await archive({ before: future() });

        await expect(store.append(finished, 0, [newEvent('OrderCreated', {})])).rejects.toBeInstanceOf(WrongExpectedVersionError);
        const next = await store.append(finished, 2, [newEvent()]);

        expect(next.version).toBe(3);
        expect((await store.readStream(finished)).map((event) => event.version)).toEqual([1, 2, 3]);
      });

      it('counts without moving on a dry run, and moves nothing finished after the cutoff', async () => {
        const { finished, all } = await given();

        expect(await archive({ before: future(), dryRun: true })).toMatchObject({ dryRun: true, streams: 1, events: 2, skipped: 1 });
        expect(await archive({ before: new Date(Date.now() - 60_000) })).toMatchObject({ streams: 0, events: 0 });

        expect(await store.readAll(0n, 100)).toEqual(all);
        expect(await store.readSnapshot(finished)).toMatchObject({ version: 2 });
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
