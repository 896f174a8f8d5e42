import { randomUUID } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EventStore, NewEvent, StreamVersions } from '../../src/ports.js';

export interface StreamVersionsUnderTest {
  /** The event store `versions` reads. */
  store: EventStore;
  versions: StreamVersions;
  cleanup(): Promise<void>;
}

const event = (): NewEvent => ({
  type: 'OrderPaid',
  schemaVersion: 1,
  data: {},
  metadata: { eventId: randomUUID(), commandId: randomUUID(), correlationId: 'c', causationId: 'c', userId: 'alice' },
});

/** Commit times are kept to the millisecond: past this, a later append commits at or after `since`. */
async function clockPast(since: Date): Promise<void> {
  while (Date.now() <= since.getTime()) await nextTurn();
}

/** What every StreamVersions must do; the Postgres adapter and the embedded twin both run it. */
export function streamVersionsContract(name: string, make: () => Promise<StreamVersionsUnderTest>): void {
  describe(`${name} stream versions`, () => {
    let subject: StreamVersionsUnderTest;

    beforeEach(async () => {
      subject = await make();
    });
    afterEach(async () => {
      await subject.cleanup();
    });

    describe('when nothing changed since the moment asked about', () => {
      it('names no stream', async () => {
        const { events } = await subject.store.append(`order-${randomUUID()}`, 0, [event()]);
        const since = new Date(events[0]!.recordedAt.getTime() + 1);
        expect(await subject.versions.changedSince(since)).toEqual([]);
      });
    });

    describe('when one stream changed after the moment and another only before it', () => {
      it("names the changed stream with its newest version, position and event id, and only it", async () => {
        const quiet = `order-${randomUUID()}`;
        const busy = `order-${randomUUID()}`;
        await subject.store.append(busy, 0, [event(), event()]);
        const before = await subject.store.append(quiet, 0, [event()]);
        const since = new Date(before.events[0]!.recordedAt.getTime() + 1);
        await clockPast(since);
        const after = await subject.store.append(busy, 2, [event(), event()]);
        const newest = after.events.at(-1)!;
        expect(await subject.versions.changedSince(since)).toEqual([{ streamId: busy, version: 4, position: newest.position, eventId: newest.metadata.eventId }]);
      });
    });

    describe('when several streams changed since the moment', () => {
      it('names each of them once', async () => {
        const since = new Date(Date.now() - 60_000);
        const ids = [randomUUID(), randomUUID(), randomUUID()].map((id) => `order-${id}`);
        for (const id of ids) await subject.store.append(id, 0, [event()]);
        await subject.store.append(ids[0]!, 1, [event()]);
        const heads = await subject.versions.changedSince(since);
        expect(heads.map((head) => head.streamId).sort()).toEqual([...ids].sort());
        expect(heads.find((head) => head.streamId === ids[0])?.version).toBe(2);
      });
    });

    describe('when asked page by page', () => {
      it('names every changed stream once, in the order of the whole answer, each page after the last id of the one before', async () => {
        const since = new Date(Date.now() - 60_000);
        const ids = Array.from({ length: 5 }, () => `order-${randomUUID()}`);
        for (const id of ids) await subject.store.append(id, 0, [event()]);
        await subject.store.append(ids[3]!, 1, [event()]);
        const whole = await subject.versions.changedSince(since);
        const pages: string[][] = [];
        for (let after: string | undefined; ; ) {
          const page = await subject.versions.changedSince(since, { after, limit: 2 });
          if (page.length === 0) break;
          expect(page.length).toBeLessThanOrEqual(2);
          pages.push(page.map((head) => head.streamId));
          after = page.at(-1)!.streamId;
        }
        expect(pages).toHaveLength(3);
        expect(pages.flat()).toEqual(whole.map((head) => head.streamId));
        expect([...pages.flat()].sort()).toEqual([...ids].sort());
        expect(whole.find((head) => head.streamId === ids[3])?.version).toBe(2);
      });
    });
  });
}
