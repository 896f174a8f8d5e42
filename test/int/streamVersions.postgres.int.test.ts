import { createEventStore } from '../../src/infrastructure/postgres/eventStore.js';
import { PrismaStreamVersions } from '../../src/infrastructure/postgres/streamVersions.js';
import { streamVersionsContract } from '../contracts/streamVersions.contract.js';
import { databasePerFile, truncateEventStore } from '../db.js';

const postgres = databasePerFile();

streamVersionsContract('postgres', async () => {
  const store = createEventStore({ url: postgres.db.url });
  return {
    store,
    versions: new PrismaStreamVersions(postgres.prisma),
    cleanup: async () => {
      await store.close();
      await postgres.prisma.$executeRawUnsafe(truncateEventStore);
    },
  };
});
