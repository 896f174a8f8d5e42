import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyMigrations, migrationsDir, schemaPath } from '../../src/infrastructure/postgres/migrate.js';
import type { DbTarget } from '../../src/infrastructure/postgres/prisma.js';
import { createTestDatabase, type TestDatabase } from '../db.js';

type Query = (sql: string) => Promise<Record<string, unknown>[]>;

/** Every migration in the folder, each with the checksum `prisma migrate deploy` records. */
async function migrationsOnDisk() {
  const names = (await readdir(migrationsDir, { withFileTypes: true }))
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
  return Promise.all(
    names.map(async (name) => ({
      migration_name: name,
      checksum: createHash('sha256')
        .update(await readFile(path.join(migrationsDir, name, 'migration.sql')))
        .digest('hex'),
    })),
  );
}

function migrationContract(name: string, open: () => Promise<{ target: DbTarget; query: Query; close(): Promise<void> }>) {
  describe(`when the migrations are applied to a fresh ${name} database`, () => {
    let target: DbTarget;
    let query: Query;
    let close: () => Promise<void>;
    beforeAll(async () => {
      ({ target, query, close } = await open());
    });
    afterAll(async () => {
      await close?.();
    });

    it('applies every migration once, records it as prisma migrate deploy does, and applies nothing the second time', async () => {
      const onDisk = await migrationsOnDisk();
      expect(onDisk.length).toBeGreaterThan(0);

      expect(await applyMigrations(target)).toEqual(onDisk.map((m) => m.migration_name));
      expect(await applyMigrations(target)).toEqual([]);

      const recorded = await query(
        `SELECT migration_name, checksum, finished_at IS NOT NULL AS finished, rolled_back_at, logs,
                applied_steps_count FROM _prisma_migrations ORDER BY migration_name`,
      );
      expect(recorded).toEqual(
        onDisk.map((m) => ({ ...m, finished: true, rolled_back_at: null, logs: null, applied_steps_count: 1 })),
      );
      const tables = await query(`SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`);
      const mapped = [...(await readFile(schemaPath, 'utf8')).matchAll(/@@map\("([a-z_]+)"\)/g)].map((m) => m[1]);
      expect(mapped).toContain('events');
      expect(tables.map((t) => t.tablename)).toEqual(['_prisma_migrations', ...mapped].sort());
    });

    it('sends each migration whole, so semicolons inside a function body survive', async () => {
      await withMigrations(
        {
          '29990101000000_function': `CREATE FUNCTION greeting() RETURNS text LANGUAGE plpgsql AS $$
            BEGIN RETURN 'hello; world'; END;
          $$;`,
        },
        async (dir) => {
          expect(await applyMigrations(target, dir)).toEqual(['29990101000000_function']);
          expect(await query('SELECT greeting() AS greeting')).toEqual([{ greeting: 'hello; world' }]);
        },
      );
    });

    it('reports a failing migration with the database error, rolls it back and does not record it as applied', async () => {
      await withMigrations(
        { '29990102000000_broken': 'CREATE TABLE broken (id int);\nCREATE TABLE broken (id int);\n' },
        async (dir) => {
          await expect(applyMigrations(target, dir)).rejects.toThrow(/relation "broken" already exists/);

          expect(await query(`SELECT to_regclass('broken') IS NULL AS absent`)).toEqual([{ absent: true }]);
          expect(
            await query(`SELECT finished_at FROM _prisma_migrations WHERE migration_name = '29990102000000_broken'`),
          ).toEqual([{ finished_at: null }]);
        },
      );
    });
  });
}

/** A scratch migrations folder holding `migrations` (name → SQL) and the project's lock file. */
async function withMigrations(migrations: Record<string, string>, use: (dir: string) => Promise<void>) {
  const dir = await mkdtemp(path.join(tmpdir(), 'migrations-'));
  try {
    await writeFile(path.join(dir, 'migration_lock.toml'), await readFile(path.join(migrationsDir, 'migration_lock.toml')));
    for (const [name, sql] of Object.entries(migrations)) {
      await mkdir(path.join(dir, name));
      await writeFile(path.join(dir, name, 'migration.sql'), sql);
    }
    await use(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

migrationContract('Postgres', async () => {
  const db: TestDatabase = await createTestDatabase({ migrated: false });
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  return {
    target: { url: db.url },
    query: async (sql) => (await client.query(sql)).rows,
    close: async () => {
      await client.end();
      await db.drop();
    },
  };
});

migrationContract('PGlite', async () => {
  const pglite = await PGlite.create();
  return {
    target: { pglite },
    query: async (sql) => (await pglite.query<Record<string, unknown>>(sql)).rows,
    close: () => pglite.close(),
  };
});

describe('when the database server cannot be reached', () => {
  it('fails with a message that says so', async () => {
    await expect(applyMigrations({ url: 'postgresql://postgres@127.0.0.1:1/nowhere' })).rejects.toThrow(
      /Can't reach database server at `127.0.0.1:1`/,
    );
  });
});
