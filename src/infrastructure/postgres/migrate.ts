// Deploys prisma/migrations with Prisma's own schema engine, compiled to WASM and driven through a
// driver adapter: no native engine is needed (none can be downloaded here), and `_prisma_migrations`
// is written exactly as `prisma migrate deploy` writes it, so the two stay interchangeable.
import { readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import {
  bindMigrationAwareSqlAdapterFactory,
  type SqlMigrationAwareDriverAdapterFactory,
} from '@prisma/driver-adapter-utils';
import * as bindings from '@prisma/schema-engine-wasm/schema_engine_bg';
import type { MigrationList, SchemaEngine, SchemasContainer } from '@prisma/schema-engine-wasm/schema_engine_bg';
import pg from 'pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import type { DbTarget } from './prisma.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
export const schemaPath = path.join(root, 'prisma', 'schema.prisma');
export const migrationsDir = path.join(root, 'prisma', 'migrations');
export const noFilters = { externalTables: [], externalEnums: [] };

/** Applies every migration in `dir` not yet recorded in `_prisma_migrations`; returns their names. */
export async function applyMigrations(target: DbTarget, dir = migrationsDir): Promise<string[]> {
  if ('pglite' in target) return deploy(pgliteMigrationFactory(target.pglite), dir);
  // Our own pool, ended here: the engine never disposes of the adapter it was given. One connection,
  // because the engine's session-level advisory lock must be held by the connection that migrates.
  const pool = new pg.Pool({ connectionString: target.url, max: 1 });
  try {
    return await deploy(wholeScripts(new PrismaPg(pool), (script) => pool.query(script)), dir);
  } finally {
    await pool.end();
  }
}

function deploy(factory: SqlMigrationAwareDriverAdapterFactory, dir: string): Promise<string[]> {
  return withSchemaEngine(factory, async (engine) => {
    const migrationsList = await readMigrations(dir);
    const { appliedMigrationNames } = await engine.applyMigrations({ migrationsList, filters: noFilters });
    return appliedMigrationNames;
  });
}

/** Runs `use` with a schema engine that reaches the database through `factory`, and frees it after. */
export async function withSchemaEngine<T>(
  factory: SqlMigrationAwareDriverAdapterFactory,
  use: (engine: SchemaEngine) => Promise<T>,
): Promise<T> {
  await loadWasm();
  const schema = await readSchema();
  const adapterFactory = bindMigrationAwareSqlAdapterFactory(factory);
  let engine: SchemaEngine | undefined;
  try {
    engine = await bindings.SchemaEngine.new(
      { datamodels: schema.files.map((file) => [file.path, file.content]) },
      () => {}, // tracing lines; the errors we need come back as rejections
      adapterFactory,
    );
    return await use(engine);
  } catch (error) {
    // A database error reaches us as "External error id#N"; the driver's own message waits in the registry.
    const message = describe(error).replace(/External error id#(\d+)/, (text, id: string) => {
      const record = adapterFactory.errorRegistry.consumeError(Number(id));
      return record ? describe(record.error) : text;
    });
    throw new Error(`prisma schema engine: ${message}`, { cause: error });
  } finally {
    engine?.free();
  }
}

/** PrismaPGlite for the schema engine; its shadow database (for `diff` from migrations) is an in-memory PGlite. */
export function pgliteMigrationFactory(pglite: PGlite): SqlMigrationAwareDriverAdapterFactory {
  return wholeScripts(new PrismaPGlite(pglite), (script) => pglite.exec(script), async () => {
    const shadow = await PGlite.create();
    return Object.assign(await pgliteMigrationFactory(shadow).connect(), { dispose: () => shadow.close() });
  });
}

/**
 * Prisma's native engine sends a migration as one simple query, so it commits or fails as a whole. The
 * adapters do not: adapter-pg 7.10 splits the script at every `;` (breaking function bodies and string
 * literals) and runs the pieces one by one; pglite-prisma-adapter 0.7.2 does not wait for the script,
 * so a failing migration is recorded as applied. Hence `run`, which sends the script whole.
 */
function wholeScripts(
  base: SqlMigrationAwareDriverAdapterFactory,
  run: (script: string) => Promise<unknown>,
  connectToShadowDb = () => base.connectToShadowDb(),
): SqlMigrationAwareDriverAdapterFactory {
  return {
    provider: base.provider,
    adapterName: base.adapterName,
    connect: async () =>
      Object.assign(await base.connect(), { executeScript: async (script: string) => void (await run(script)) }),
    connectToShadowDb,
  };
}

export async function readSchema(): Promise<SchemasContainer> {
  return { files: [{ path: schemaPath, content: await readFile(schemaPath, 'utf8') }] };
}

/** The migrations folder as the engine expects it; mirrors what the Prisma CLI reads (sorted by name). */
export async function readMigrations(dir = migrationsDir): Promise<MigrationList> {
  const lockfile = 'migration_lock.toml';
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const migrationDirectories = await Promise.all(
    entries
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name)
      .sort((a, b) => a.localeCompare(b))
      .map(async (name) => ({
        path: name,
        migrationFile: {
          path: 'migration.sql',
          content: await readFile(path.join(dir, name, 'migration.sql'), 'utf8').then(
            (value) => ({ tag: 'ok' as const, value }),
            (error: Error) => ({ tag: 'error' as const, value: error.message }),
          ),
        },
      })),
  );
  return {
    baseDir: dir,
    lockfile: { path: lockfile, content: await readFile(path.join(dir, lockfile), 'utf8').catch(() => null) },
    shadowDbInitScript: '',
    migrationDirectories,
  };
}

let wasmLoaded: Promise<void> | undefined;

// The package's main entry `import`s the .wasm file as a module, which Node cannot do; so compile the
// file ourselves and hand its exports to the JS glue, which is what that entry would have done.
function loadWasm(): Promise<void> {
  wasmLoaded ??= (async () => {
    const glue = createRequire(import.meta.url).resolve('@prisma/schema-engine-wasm/schema_engine_bg');
    const bytes = await readFile(path.join(path.dirname(glue), 'schema_engine_bg.wasm'));
    const { instance } = await WebAssembly.instantiate(bytes, { './schema_engine_bg.js': bindings });
    bindings.__wbg_set_wasm(instance.exports);
    (instance.exports.__wbindgen_start as () => void)();
  })();
  return wasmLoaded;
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  return typeof error === 'object' && error !== null && 'message' in error ? String(error.message) : String(error);
}
