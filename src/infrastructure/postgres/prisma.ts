import type { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { PrismaClient } from '../../generated/prisma/client.js';

/** A real Postgres server, or the embedded PGlite (whose lifetime stays with the caller). */
export type DbTarget = { url: string } | { pglite: PGlite };

export function createPrismaClient(target: DbTarget): PrismaClient {
  const adapter = 'url' in target ? new PrismaPg({ connectionString: target.url }) : new PrismaPGlite(target.pglite);
  return new PrismaClient({ adapter });
}
