// A fresh (by default migrated) database on the shared Postgres for one test file, so files never see each other's
// rows. Without a reachable server this throws, and the file fails: a skipped test proves nothing.
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import type { PrismaClient } from '../src/generated/prisma/client.js';
import { createPrismaClient } from '../src/infrastructure/postgres/prisma.js';
import { applyMigrations } from '../src/infrastructure/postgres/migrate.js';
import { uniqueName, urls } from './services.js';

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

/** Empties the event store's tables between tests; positions start again at 1. */
export const truncateEventStore = 'TRUNCATE events, events_archive, snapshots, outbox, idempotency_records RESTART IDENTITY';

export async function createTestDatabase({ migrated = true } = {}): Promise<TestDatabase> {
  const name = uniqueName('cqrs_test');
  await admin(`CREATE DATABASE "${name}"`);
  const url = new URL(urls.postgres);
  url.pathname = `/${name}`;
  // FORCE: a test that forgot to close its pool must not leave the database behind. But first a moment
  // for connections still closing: pg's pool.end() resolves before its clients' sockets are closed, and a
  // client terminated by FORCE while it ends throws that FATAL in the test's process (CI at 982ff1a,
  // writeSide.int: 57P01 as an uncaught exception after every test had passed).
  const drop = async () => {
    await admin(`DO $$ BEGIN
      FOR i IN 1..100 LOOP
        EXIT WHEN NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = '${name}');
        PERFORM pg_sleep(0.02);
      END LOOP;
    END $$`);
    await admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  };
  try {
    if (migrated) await applyMigrations({ url: url.toString() });
  } catch (error) {
    await drop();
    throw error;
  }
  return { url: url.toString(), drop };
}

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: urls.postgres });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(
      `Postgres is not reachable at ${urls.postgres}; start it with ` +
        `'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start'`,
      { cause: error },
    );
  }
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** For a file's tests: a fresh migrated database and a Prisma client on it, dropped after them. */
export function databasePerFile(): { readonly db: TestDatabase; readonly prisma: PrismaClient } {
  const held = {} as { db: TestDatabase; prisma: PrismaClient };
  beforeAll(async () => {
    held.db = await createTestDatabase();
    held.prisma = createPrismaClient({ url: held.db.url });
  });
  afterAll(async () => {
    await held.prisma?.$disconnect();
    await held.db?.drop();
  });
  return held;
}

/** For a file's tests: a migrated PGlite in this process, closed after them. */
export function pglitePerFile(): { readonly pglite: PGlite } {
  const held = {} as { pglite: PGlite };
  beforeAll(async () => {
    held.pglite = await PGlite.create();
    await applyMigrations({ pglite: held.pglite });
  });
  afterAll(async () => {
    await held.pglite?.close();
  });
  return held;
}
