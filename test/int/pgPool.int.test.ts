import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { createPool, POOL_SIZE } from '../../src/infrastructure/postgres/prisma.js';
import { urls } from '../services.js';

describe('when a burst has opened connections and the load then falls', () => {
  it('keeps them open past the idle timeout, so the next step of load does not wait for new ones', async () => {
    // pg-pool closes a client idle for idleTimeoutMillis (10 s by default) only while the pool holds more
    // than `min`: a short timeout here shows that in a moment.
    const pool = createPool(urls.postgres, { idleTimeoutMillis: 50 });
    try {
      const backends = async () => (await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'idle' AND pid <> pg_backend_pid() AND query = 'SELECT pg_sleep(0.1)'")).rows[0]!.n;
      await Promise.all([1, 2, 3].map(() => pool.query('SELECT pg_sleep(0.1)')));
      expect(pool.totalCount).toBe(3);
      await sleep(400);
      expect(pool.totalCount).toBe(3);
      expect(pool.idleCount).toBe(3);
      // The connections are really there, on the server, not only counted by the pool.
      expect(await backends()).toBe(2);
      expect(pool.options).toMatchObject({ max: POOL_SIZE, min: POOL_SIZE });
    } finally {
      await pool.end();
    }
  });
});
