import { afterAll, beforeAll } from 'vitest';
import type { PrismaClient } from '../../src/generated/prisma/client.js';
import { createEventStore } from '../../src/infrastructure/postgres/eventStore.js';
import { createPrismaClient } from '../../src/infrastructure/postgres/prisma.js';
import { PrismaStreamVersions } from '../../src/infrastructure/postgres/streamVersions.js';
import { streamVersionsContract } from '../contracts/streamVersions.contract.js';
import { createTestDatabase, type TestDatabase, truncateEventStore } from '../db.js';

let db: TestDatabase;
let prisma: PrismaClient;

beforeAll(async () => {
  db = await createTestDatabase();
  prisma = createPrismaClient({ url: db.url });
});
afterAll(async () => {
  await prisma?.$disconnect();
  await db?.drop();
});

streamVersionsContract('postgres', async () => {
  const store = createEventStore({ url: db.url });
  return {
    store,
    versions: new PrismaStreamVersions(prisma),
    cleanup: async () => {
      await store.close();
      await prisma.$executeRawUnsafe(truncateEventStore);
    },
  };
});
