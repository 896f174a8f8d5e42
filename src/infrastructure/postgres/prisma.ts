import type { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { PrismaClient } from '../../generated/prisma/client.js';

/** A real Postgres server, or the embedded PGlite (whose lifetime stays with the caller). */
export type DbTarget = { url: string } | { pglite: PGlite };

export function createPrismaClient(target: DbTarget): PrismaClient {
  // pg waits for a connection forever by default: a Postgres that does not answer must fail a command
  // within the 2 s the contract promises (SERVICE_UNAVAILABLE), not hang it.
  const adapter = 'url' in target ? new PrismaPg({ connectionString: target.url, connectionTimeoutMillis: 1500 }) : new PrismaPGlite(target.pglite);
  return new PrismaClient({ adapter });
}
