import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { archiveFinishedStreams } from '../../src/infrastructure/postgres/archive.js';
import { createEventStore } from '../../src/infrastructure/postgres/eventStore.js';
import { createPrismaClient } from '../../src/infrastructure/postgres/prisma.js';
import { eventStoreContract } from '../contracts/eventStore.contract.js';
import { createTestDatabase, type TestDatabase, truncateEventStore } from '../db.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

eventStoreContract('postgres', async () => {
  const store = createEventStore({ url: db.url });
  const prisma = createPrismaClient({ url: db.url });
  return {
    store,
    archive: (options) => archiveFinishedStreams(prisma, options),
    cleanup: async () => {
      await store.close();
      await prisma.$disconnect();
      await sql(db.url, truncateEventStore);
    },
  };
});

describe('when the LISTEN connection of a postgres event store is dropped', () => {
  it('reconnects, calls back for what it may have missed, and hears later appends', async () => {
    const store = createEventStore({ url: db.url });
    const onAppend = vi.fn();
    const stop = await store.watchOutbox(onAppend);
    try {
      await sql(db.url, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE datname = current_database() AND query = 'LISTEN outbox'`);
      await vi.waitFor(() => expect(onAppend).toHaveBeenCalledTimes(1), { timeout: 5_000 });

      const metadata = { eventId: randomUUID(), commandId: 'c', correlationId: 'c', causationId: 'c', userId: 'u' };
      await store.append(`order-${randomUUID()}`, 0, [{ type: 'OrderPlaced', schemaVersion: 1, data: {}, metadata }]);
      await vi.waitFor(() => expect(onAppend).toHaveBeenCalledTimes(2), { timeout: 5_000 });
    } finally {
      await stop();
      await store.close();
      await sql(db.url, truncateEventStore);
    }
  });
});

async function sql(url: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}
