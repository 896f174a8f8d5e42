import type { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { PrismaClient } from '../../generated/prisma/client.js';

/** A real Postgres server, or the embedded PGlite (whose lifetime stays with the caller). */
export type DbTarget = { url: string } | { pglite: PGlite };

/** Connections of one process's pool: pg's default, kept open once opened (see createPool). */
export const POOL_SIZE = 10;

/**
 * pg's pool for a server. pg waits for a connection forever by default: a Postgres that does not answer
 * must fail a command within the 2 s the contract promises (SERVICE_UNAVAILABLE), not hang it.
 *
 * A connection once opened stays open (`min` = `max`, as HikariCP advises: a fixed-size pool). pg
 * otherwise closes what was idle for 10 s, so a lighter minute shrinks the pool, and the next step of load
 * pays for new connections (a Postgres backend forked each, every named statement prepared again) on the
 * commands that arrive first: in bench:overload, the commands admitted in the first 100 ms of the step had
 * a p99 of 197-255 ms with the pool shrinking, 61-106 ms without (bench/RESULTS.md#overload).
 */
export function createPool(url: string, { idleTimeoutMillis }: Pick<pg.PoolConfig, 'idleTimeoutMillis'> = {}): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, connectionTimeoutMillis: 1500, max: POOL_SIZE, min: POOL_SIZE, ...(idleTimeoutMillis !== undefined && { idleTimeoutMillis }) });
  pool.on('error', () => {}); // an idle connection that broke is dropped by the pool; queries report their own errors
  return pool;
}

/** Prisma on a new pool, or on `pool` (which the caller then ends after `$disconnect`). */
export function createPrismaClient(target: DbTarget, pool?: pg.Pool): PrismaClient {
  const adapter = 'url' in target ? new PrismaPg(pool ?? { connectionString: target.url, connectionTimeoutMillis: 1500 }) : new PrismaPGlite(target.pglite);
  return new PrismaClient({ adapter });
}
