import { afterEach, describe, expect, it, vi } from 'vitest';
import { readinessCheck } from '../../src/server/router.js';

describe('the readiness check behind /readyz', () => {
  afterEach(() => void vi.useRealTimers());

  it('is ready when every dependency answers, and leaves no timer behind', async () => {
    vi.useFakeTimers();
    const check = readinessCheck({ postgres: async () => {}, redis: async () => {} });
    await expect(check()).resolves.toEqual({ ok: true, failing: {} });
    expect(vi.getTimerCount()).toBe(0);
  });

  it('names the dependency that failed and the one that did not answer in time', async () => {
    const check = readinessCheck(
      {
        postgres: async () => {},
        redis: () => Promise.reject(new Error('connection refused')),
        nats: () => new Promise<void>(() => {}),
      },
      50,
    );
    await expect(check()).resolves.toEqual({ ok: false, failing: { redis: 'connection refused', nats: 'timed out' } });
  });
});
