// `npm run db:migrate`: deploys prisma/migrations to DATABASE_URL, or to the embedded PGlite under
// DATA_DIR (where the service keeps it) when no server is configured.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { applyMigrations } from '../src/infrastructure/postgres/migrate.js';

const url = process.env.DATABASE_URL;
const dataDir = path.join(process.env.DATA_DIR ?? './.data', 'pglite');
const where = url ? `database ${new URL(url).pathname.slice(1)}` : dataDir;
let pglite: PGlite | undefined;

try {
  if (!url) {
    await mkdir(dataDir, { recursive: true });
    pglite = await PGlite.create(dataDir);
  }
  const applied = await applyMigrations(url ? { url } : { pglite: pglite! });
  console.log(applied.length > 0 ? `applied to ${where}:\n  ${applied.join('\n  ')}` : `${where} is up to date`);
} catch (error) {
  console.error(`migrating ${where} failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
} finally {
  await pglite?.close();
}
// The schema engine leaves a 10 s timer behind (its WASM glue never clears timeouts): don't wait for it.
process.exit();
