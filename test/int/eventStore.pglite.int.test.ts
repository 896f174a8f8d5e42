import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll } from 'vitest';
import { archiveFinishedStreams } from '../../src/infrastructure/postgres/archive.js';
import { createEventStore } from '../../src/infrastructure/postgres/eventStore.js';
import { applyMigrations } from '../../src/infrastructure/postgres/migrate.js';
import { createPrismaClient } from '../../src/infrastructure/postgres/prisma.js';
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
  const prisma = createPrismaClient({ pglite });
  return {
    store,
    archive: (options) => archiveFinishedStreams(prisma, options),
    cleanup: async () => {
      await store.close();
      await prisma.$disconnect();
      await pglite.exec(truncateEventStore);
    },
  };
});
