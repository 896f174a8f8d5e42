import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DeadLetterStore, StoredEvent } from '../../src/ports.js';

export interface DeadLettersUnderTest {
  letters: DeadLetterStore;
  cleanup(): Promise<void>;
}

/** An event of the store as a consumer saw it; `position` orders the letters. */
function storedEvent(streamId: string, version: number, position: bigint): StoredEvent {
  const metadata = { eventId: randomUUID(), commandId: randomUUID(), correlationId: 'c', causationId: 'c', userId: 'alice' };
  return { position, streamId, version, type: 'OrderPaid', schemaVersion: 1, data: {}, metadata, recordedAt: new Date() };
}

/** What every DeadLetterStore must do; the Postgres adapter and the embedded twin both run it. */
export function deadLettersContract(name: string, make: () => Promise<DeadLettersUnderTest>): void {
  describe(`${name} dead-letter store`, () => {
    let letters: DeadLetterStore;
    let cleanup: (() => Promise<void>) | undefined;
    const consumer = 'projector-orderDetails';

    beforeEach(async () => {
      ({ letters, cleanup } = await make());
    });
    afterEach(async () => {
      await cleanup?.();
    });

    describe('when nothing was dead-lettered', () => {
      it('lists nothing, blocks nothing and counts nothing', async () => {
        expect(await letters.list()).toEqual([]);
        expect(await letters.blocked(consumer)).toEqual(new Map());
        expect(await letters.countUnresolved()).toEqual({});
      });
    });

    describe('when a poison event is recorded', () => {
      it('keeps it open with its reason, and blocks its order from that version', async () => {
        const event = storedEvent('order-1', 3, 30n);
        await letters.record({ consumer, event, reason: 'bad total', deliveries: 5 });
        expect(await letters.list()).toEqual([
          expect.objectContaining({ consumer, kind: 'poison', eventId: event.metadata.eventId, streamId: 'order-1', version: 3, position: 30n, reason: 'bad total', deliveries: 5, retriedAt: null, resolvedAt: null }),
        ]);
        expect(await letters.blocked(consumer)).toEqual(new Map([['order-1', 3]]));
        expect(await letters.countUnresolved()).toEqual({ [consumer]: 1 });
      });

      it('keeps one letter when the same event is recorded again, with the newer reason', async () => {
        const event = storedEvent('order-1', 3, 30n);
        await letters.record({ consumer, event, reason: 'first', deliveries: 5 });
        await letters.record({ consumer, event, reason: 'second', deliveries: 7 });
        const list = await letters.list();
        expect(list.map(({ reason, deliveries }) => ({ reason, deliveries }))).toEqual([{ reason: 'second', deliveries: 7 }]);
      });

      it('keeps a letter per consumer for one event', async () => {
        const event = storedEvent('order-1', 3, 30n);
        await letters.record({ consumer, event, reason: 'bad', deliveries: 5 });
        await letters.record({ consumer: 'projector-orderStats', event, reason: 'bad', deliveries: 5 });
        expect(await letters.countUnresolved()).toEqual({ [consumer]: 1, 'projector-orderStats': 1 });
        expect(await letters.blocked('projector-orderStats')).toEqual(new Map([['order-1', 3]]));
      });
    });

    describe('when one order has two poison events and another order one', () => {
      it('blocks each order from its lowest dead-lettered version, for that consumer only', async () => {
        await letters.record({ consumer, event: storedEvent('order-1', 5, 50n), reason: 'x', deliveries: 1 });
        await letters.record({ consumer, event: storedEvent('order-1', 4, 40n), reason: 'x', deliveries: 1 });
        await letters.record({ consumer, event: storedEvent('order-2', 2, 20n), reason: 'x', deliveries: 1 });
        expect(await letters.blocked(consumer)).toEqual(new Map([['order-1', 4], ['order-2', 2]]));
        expect(await letters.blocked('projector-userOrders')).toEqual(new Map());
      });

      it('lists them oldest first, and only the ids asked for', async () => {
        await letters.record({ consumer, event: storedEvent('order-1', 5, 50n), reason: 'x', deliveries: 1 });
        await letters.record({ consumer, event: storedEvent('order-1', 4, 40n), reason: 'x', deliveries: 1 });
        await letters.record({ consumer, event: storedEvent('order-2', 2, 20n), reason: 'x', deliveries: 1 });
        const all = await letters.list();
        expect(all.map((letter) => letter.position)).toEqual([20n, 40n, 50n]);
        const picked = await letters.list({ ids: [all[0]!.id, all[2]!.id] });
        expect(picked.map((letter) => letter.position)).toEqual([20n, 50n]);
      });
    });

    describe('when a message the store does not hold is rejected twice', () => {
      it('keeps one rejected letter, which blocks nothing', async () => {
        const message = { consumer, streamId: 'order-9', version: 0, messageKey: 'seq:42', reason: 'not JSON', deliveries: 1 };
        await letters.reject(message);
        await letters.reject({ ...message, reason: 'still not JSON', deliveries: 2 });
        const list = await letters.list();
        expect(list).toEqual([expect.objectContaining({ consumer, kind: 'rejected', streamId: 'order-9', version: 0, position: 0n, reason: 'still not JSON', deliveries: 2 })]);
        expect(await letters.blocked(consumer)).toEqual(new Map());
        expect(await letters.countUnresolved()).toEqual({ [consumer]: 1 });
      });

      it('keeps apart messages at other places on the bus', async () => {
        await letters.reject({ consumer, streamId: 'order-9', version: 0, messageKey: 'seq:42', reason: 'x', deliveries: 1 });
        await letters.reject({ consumer, streamId: 'order-9', version: 0, messageKey: 'seq:43', reason: 'x', deliveries: 1 });
        expect(new Set((await letters.list()).map((letter) => letter.eventId)).size).toBe(2);
      });
    });

    describe('when a letter is retried', () => {
      let id: bigint;
      const event = storedEvent('order-1', 3, 30n);

      beforeEach(async () => {
        await letters.record({ consumer, event, reason: 'bad total', deliveries: 5 });
        id = (await letters.list())[0]!.id;
      });

      it('resolves it when the retry applied it: no longer open, counted or blocking', async () => {
        await letters.markRetried(id, { resolved: true });
        const [letter] = await letters.list();
        expect(letter?.resolvedAt).toBeInstanceOf(Date);
        expect(letter?.retriedAt).toBeInstanceOf(Date);
        expect(await letters.list({ unresolvedOnly: true })).toEqual([]);
        expect(await letters.countUnresolved()).toEqual({});
        expect(await letters.blocked(consumer)).toEqual(new Map());
      });

      it('keeps it open with the new reason when the retry failed', async () => {
        await letters.markRetried(id, { resolved: false, reason: 'still bad' });
        expect(await letters.list({ unresolvedOnly: true })).toEqual([expect.objectContaining({ id, reason: 'still bad', resolvedAt: null, retriedAt: expect.any(Date) })]);
        expect(await letters.blocked(consumer)).toEqual(new Map([['order-1', 3]]));
      });

      it('reopens a resolved letter when its event fails again', async () => {
        await letters.markRetried(id, { resolved: true });
        await letters.record({ consumer, event, reason: 'bad again', deliveries: 1 });
        expect(await letters.list({ unresolvedOnly: true })).toEqual([expect.objectContaining({ id, reason: 'bad again', resolvedAt: null })]);
      });
    });
  });
}
