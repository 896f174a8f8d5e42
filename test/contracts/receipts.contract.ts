import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ReceiptStore } from '../../src/ports.js';

export interface ReceiptsUnderTest {
  /** Two stores over the same backing state, as two processes would see it. */
  stores: [ReceiptStore, ReceiptStore];
  cleanup(): Promise<void>;
}

export function receiptsContract(name: string, make: () => Promise<ReceiptsUnderTest>): void {
  describe(`${name} receipt store`, () => {
    let subject: ReceiptsUnderTest;
    const command = () => ({ commandId: randomUUID(), orderId: randomUUID(), userId: 'alice', version: 3 });

    beforeEach(async () => {
      subject = await make();
    });
    afterEach(async () => {
      await subject.cleanup();
    });

    describe('when no stage was recorded', () => {
      it('has no receipt', async () => {
        expect(await subject.stores[0].get(randomUUID())).toBeNull();
      });
    });

    describe('when stages arrive from two processes in any order', () => {
      it('merges them into one receipt', async () => {
        const [a, b] = subject.stores;
        const c = command();
        await b.record(c, { PROJECTED: '2026-01-01T00:00:03.000Z', PUBLISHED: '2026-01-01T00:00:02.000Z' });
        await a.record(c, { ACCEPTED: '2026-01-01T00:00:00.000Z', APPENDED: '2026-01-01T00:00:01.000Z' });
        expect(await a.get(c.commandId)).toEqual({
          ...c,
          stages: {
            ACCEPTED: '2026-01-01T00:00:00.000Z',
            APPENDED: '2026-01-01T00:00:01.000Z',
            PUBLISHED: '2026-01-01T00:00:02.000Z',
            PROJECTED: '2026-01-01T00:00:03.000Z',
          },
        });
      });
    });

    describe('when a stage is recorded again later', () => {
      it('keeps the time it was first reached', async () => {
        const [a, b] = subject.stores;
        const c = command();
        await a.record(c, { ACCEPTED: '2026-01-01T00:00:00.000Z' });
        await b.record(c, { ACCEPTED: '2026-01-01T00:09:00.000Z', APPENDED: '2026-01-01T00:00:01.000Z' });
        expect((await a.get(c.commandId))?.stages).toEqual({ ACCEPTED: '2026-01-01T00:00:00.000Z', APPENDED: '2026-01-01T00:00:01.000Z' });
      });
    });

    describe('when a process watches a receipt another one changes', () => {
      it('is told of each change, and no longer after unsubscribing', async () => {
        const [a, b] = subject.stores;
        const c = command();
        const seen = vi.fn();
        const unsubscribe = await a.watch(c.commandId, seen);
        const other = vi.fn();
        await a.watch(randomUUID(), other);
        await b.record(c, { ACCEPTED: new Date().toISOString() });
        await vi.waitFor(() => expect(seen).toHaveBeenCalledTimes(1), { timeout: 2000 });
        await unsubscribe();
        // A watcher that stays is told of the next change: by then the unsubscribed one would have been too.
        const marker = vi.fn();
        await a.watch(c.commandId, marker);
        await b.record(c, { APPENDED: new Date().toISOString() });
        await vi.waitFor(() => expect(marker).toHaveBeenCalled(), { timeout: 2000 });
        expect(seen).toHaveBeenCalledTimes(1);
        expect(other).not.toHaveBeenCalled();
      });
    });
  });
}
