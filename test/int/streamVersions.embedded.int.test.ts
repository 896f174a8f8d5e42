import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll } from 'vitest';
import { scanStreamVersions } from '../../src/infrastructure/embedded/scanStreamVersions.js';
import { createEventStore } from '../../src/infrastructure/postgres/eventStore.js';
import { applyMigrations } from '../../src/infrastructure/postgres/migrate.js';
import { streamVersionsContract } from '../contracts/streamVersions.contract.js';
import { truncateEventStore } from '../db.js';

let pglite: PGlite;

beforeAll(async () => {
  pglite = await PGlite.create();
  await applyMigrations({ pglite });
});
afterAll(async () => {
  await pglite?.close();
});

// The embedded service scans its PGlite log (service.ts): the twin runs over the same store it does there.
streamVersionsContract('embedded (log scan)', async () => {
  const store = createEventStore({ pglite });
  return {
    store,
    versions: scanStreamVersions(store),
    cleanup: async () => {
      await store.close();
      await pglite.exec(truncateEventStore);
    },
  };
});
