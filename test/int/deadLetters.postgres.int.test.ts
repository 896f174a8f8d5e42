import { afterAll, beforeAll } from 'vitest';
import type { PrismaClient } from '../../src/generated/prisma/client.js';
import { PrismaDeadLetters } from '../../src/infrastructure/postgres/deadLetters.js';
import { createPrismaClient } from '../../src/infrastructure/postgres/prisma.js';
import { deadLettersContract } from '../contracts/deadLetters.contract.js';
import { createTestDatabase, type TestDatabase } from '../db.js';

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

deadLettersContract('postgres', async () => ({
  letters: new PrismaDeadLetters(prisma),
  cleanup: async () => void (await prisma.$executeRawUnsafe('TRUNCATE dead_letters RESTART IDENTITY')),
}));
