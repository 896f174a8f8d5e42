import { archiveFinishedStreams } from '../../src/infrastructure/postgres/archive.js';
import { createEventStore } from '../../src/infrastructure/postgres/eventStore.js';
import { createPrismaClient } from '../../src/infrastructure/postgres/prisma.js';
import { eventStoreContract } from '../contracts/eventStore.contract.js';
import { pglitePerFile, truncateEventStore } from '../db.js';

const embedded = pglitePerFile();

eventStoreContract('pglite', async () => {
  const store = createEventStore({ pglite: embedded.pglite });
  const prisma = createPrismaClient({ pglite: embedded.pglite });
  return {
    store,
    archive: (options) => archiveFinishedStreams(prisma, options),
    cleanup: async () => {
      await store.close();
      await prisma.$disconnect();
      await embedded.pglite.exec(truncateEventStore);
    },
  };
});
