import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LOCAL_SHARE, type RateLimiter, windowMs } from '../../src/security/rateLimit.js';

export interface RateLimitersUnderTest {
  /** Two limiters over the same counts, as two replicas hold them (one and the same for a memory limiter). */
  limiters: [RateLimiter, RateLimiter];
  cleanup(): Promise<void>;
}

/** The limit every limiter under test is made with. */
export const contractLimit = 5;

/** A clock one second into the current window, so no test straddles a window boundary. */
export function contractClock(): () => number {
  const start = Math.floor(Date.now() / windowMs) * windowMs + 1000;
  return () => start;
}

/** What every RateLimiter must do; the memory and the Redis limiter run it, on one server and on a cluster. */
export function rateLimiterContract(name: string, make: () => Promise<RateLimitersUnderTest>): void {
  describe(`${name} rate limiter`, () => {
    let subject: RateLimitersUnderTest;
    let caller: string;

    beforeEach(async () => {
      subject = await make();
      caller = `user:${randomUUID()}`;
    });
    afterEach(async () => {
      await subject.cleanup();
    });

    describe('when a caller stays under the limit', () => {
      it('admits every operation', async () => {
        for (let i = 0; i < contractLimit; i++) expect((await subject.limiters[0].take(caller)).allowed).toBe(true);
      });
    });

    describe('when a caller goes past the limit', () => {
      it('refuses the next operation and says when to retry', async () => {
        for (let i = 0; i < contractLimit; i++) await subject.limiters[0].take(caller);
        const decision = await subject.limiters[0].take(caller);
        expect(decision.allowed).toBe(false);
        expect(decision.retryAfterMs).toBeGreaterThan(0);
      });

      it('still admits another caller', async () => {
        for (let i = 0; i <= contractLimit; i++) await subject.limiters[0].take(caller);
        expect((await subject.limiters[0].take(`${caller}:other`)).allowed).toBe(true);
      });
    });

    describe('when two replicas count the same caller', () => {
      it('holds the limit across them', async () => {
        const [a, b] = subject.limiters;
        for (let i = 0; i < contractLimit; i++) await (i % 2 ? a : b).take(caller);
        expect((await a.take(caller)).allowed).toBe(false);
        expect((await b.take(caller)).allowed).toBe(false);
      });
    });

    describe('when many operations of one caller arrive at once on one replica', () => {
      it('admits exactly the limit', async () => {
        const decisions = await Promise.all(Array.from({ length: 4 * contractLimit }, () => subject.limiters[0].take(caller)));
        expect(decisions.filter((decision) => decision.allowed)).toHaveLength(contractLimit);
      });
    });

    describe('when many operations of one caller arrive at once on two replicas', () => {
      it('admits the limit, and at most what the other replica may admit on its own before a sync', async () => {
        const decisions = await Promise.all(Array.from({ length: 4 * contractLimit }, (_, i) => subject.limiters[i % 2]!.take(caller)));
        const admitted = decisions.filter((decision) => decision.allowed).length;
        expect(admitted).toBeGreaterThanOrEqual(contractLimit);
        expect(admitted).toBeLessThanOrEqual(contractLimit + Math.floor(LOCAL_SHARE * contractLimit));
      });
    });
  });
}
