import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ChangeFeed, ChangeNotice } from '../../src/ports.js';

export interface ChangeFeedsUnderTest {
  /** Two feeds over the same backing store, as two processes would hold. */
  feeds: [ChangeFeed, ChangeFeed];
  cleanup(): Promise<void>;
}

export function changeNotice(version: number, extra: Partial<ChangeNotice> = {}): ChangeNotice {
  return { collection: 'orders', id: 'order-1', version, eventType: 'ItemAdded', ...extra };
}

/** Records what one handler received. */
export function recorder(): { received: ChangeNotice[]; handler: (notice: ChangeNotice) => void } {
  const received: ChangeNotice[] = [];
  return { received, handler: (notice) => received.push(notice) };
}

/** What every ChangeFeed must do; both adapters run it. */
export function changeFeedContract(name: string, make: () => Promise<ChangeFeedsUnderTest>): void {
  describe(`${name} change feed`, () => {
    let a: ChangeFeed;
    let b: ChangeFeed;
    let cleanup: (() => Promise<void>) | undefined;

    beforeEach(async () => {
      ({
        feeds: [a, b],
        cleanup,
      } = await make());
    });
    afterEach(async () => {
      await cleanup?.();
    });

    describe('when feed B has a subscriber', () => {
      it('delivers a notice published on feed A', async () => {
        const { received, handler } = recorder();
        await b.subscribe(handler);
        const sent = changeNotice(1, { userId: 'user-1' });
        await a.publish(sent);
        await vi.waitFor(() => expect(received).toEqual([sent]));
      });

      it('carries the document written at that version, whole', async () => {
        const { received, handler } = recorder();
        await b.subscribe(handler);
        const doc = { version: 3, eventAt: '2026-11-30T00:00:00.000Z', projectedAt: '2026-11-30T00:00:00.012Z', data: { id: 'order-1', items: [{ sku: 'A', name: 'caf\u00e9 \ud83c\udf81', quantity: 2 }] } };
        await a.publish(changeNotice(3, { doc }));
        await vi.waitFor(() => expect(received).toEqual([changeNotice(3, { doc })]));
      });

      it('delivers notices in the order they were published', async () => {
        const { received, handler } = recorder();
        await b.subscribe(handler);
        const sent = Array.from({ length: 20 }, (_, i) => changeNotice(i + 1));
        for (const notice of sent) await a.publish(notice);
        await vi.waitFor(() => expect(received).toEqual(sent));
      });
    });

    describe('when a subscriber has unsubscribed', () => {
      it('stops delivering to it', async () => {
        const gone = recorder();
        const staying = recorder();
        const unsubscribe = await b.subscribe(gone.handler);
        await b.subscribe(staying.handler);
        await a.publish(changeNotice(1));
        await vi.waitFor(() => expect(gone.received).toHaveLength(1));

        await unsubscribe();
        await a.publish(changeNotice(2));

        // Both handlers hang off feed B, so once `staying` has notice 2, `gone` would have had it too.
        await vi.waitFor(() => expect(staying.received).toHaveLength(2));
        expect(gone.received.map((notice) => notice.version)).toEqual([1]);
      });
    });

    describe('when several handlers subscribe on both feeds', () => {
      it('delivers each notice to every handler', async () => {
        const recorders = [recorder(), recorder(), recorder(), recorder()];
        for (const [i, { handler }] of recorders.entries()) await (i % 2 ? b : a).subscribe(handler);
        const sent = changeNotice(1);
        await a.publish(sent);
        await vi.waitFor(() => expect(recorders.map(({ received }) => received)).toEqual(recorders.map(() => [sent])));
      });
    });

    describe('when one handler throws', () => {
      it('still delivers to the others, then and later', async () => {
        const { received, handler } = recorder();
        await b.subscribe(() => {
          throw new Error('handler failed');
        });
        await b.subscribe(handler);
        await a.publish(changeNotice(1));
        await a.publish(changeNotice(2));
        await vi.waitFor(() => expect(received.map((notice) => notice.version)).toEqual([1, 2]));
      });
    });
  });
}
