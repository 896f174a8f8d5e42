import { PGlite } from '@electric-sql/pglite';
import type { Logger } from 'pino';
import type { EventStore } from '../../ports.js';
import { createEventStore } from './eventStore.js';
import { applyMigrations } from './migrate.js';
import type { DbTarget } from './prisma.js';

/**
 * Opens the event store on a real Postgres (`url`) or on PGlite kept in `dataDir`, applying the
 * migrations first when asked. PGlite lives in this process, so closing the store closes it too.
 */
export async function openEventStore(where: { url: string } | { dataDir: string }, options: { migrate: boolean; log: Logger }): Promise<EventStore> {
  const pglite = 'dataDir' in where ? await PGlite.create(where.dataDir) : null;
  const target: DbTarget = pglite ? { pglite } : { url: (where as { url: string }).url };
  try {
    if (options.migrate) {
      const applied = await applyMigrations(target);
      options.log.info({ applied }, applied.length ? 'migrations applied' : 'database schema is current');
    }
    return createEventStore(target, pglite ? () => pglite.close() : undefined);
  } catch (error) {
    await pglite?.close();
    throw error;
  }
}
