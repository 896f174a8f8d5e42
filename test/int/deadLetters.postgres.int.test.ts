import { PrismaDeadLetters } from '../../src/infrastructure/postgres/deadLetters.js';
import { deadLettersContract } from '../contracts/deadLetters.contract.js';
import { databasePerFile } from '../db.js';

const postgres = databasePerFile();

deadLettersContract('postgres', async () => ({
  letters: new PrismaDeadLetters(postgres.prisma),
  cleanup: async () => void (await postgres.prisma.$executeRawUnsafe('TRUNCATE dead_letters RESTART IDENTITY')),
}));
