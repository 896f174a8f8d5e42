import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll } from 'vitest';
import { createEventStore } from '../../src/infrastructure/postgres/eventStore.js';
import { applyMigrations } from '../../src/infrastructure/postgres/migrate.js';
import { eventStoreContract } from '../contracts/eventStore.contract.js';
import { truncateEventStore } from '../db.js';

let pglite: PGlite;

beforeAll(async () => {
  pglite = await PGlite.create();
  await applyMigrations({ pglite });
});
afterAll(async () => {
  await pglite?.close();
});

eventStoreContract('pglite', async () => {
  const store = createEventStore({ pglite });
  return {
    store,
    cleanup: async () => {
      await store.close();
      await pglite.exec(truncateEventStore);
    },
  };
});
