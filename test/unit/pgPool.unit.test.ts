import { describe, expect, it } from 'vitest';
import { createPool, POOL_SIZE } from '../../src/infrastructure/postgres/prisma.js';

describe('when a process opens its Postgres pool', () => {
  it('keeps every connection it opened, so a lull does not shrink it before the next step of load', async () => {
    // No connection is made until a query: the options are what pg-pool acts on (it closes an idle
    // client only while the pool holds more than `min`).
    const pool = createPool('postgresql://nobody@127.0.0.1:1/none');
    try {
      expect(pool.options).toMatchObject({ max: POOL_SIZE, min: POOL_SIZE, connectionTimeoutMillis: 1500 });
    } finally {
      await pool.end();
    }
  });
});
